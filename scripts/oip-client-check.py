"""Drives a lightrank scoring server with NVIDIA's Python OIP clients (PyPI `tritonclient`):
the gRPC client (inference.GRPCInferenceService) and the HTTP client (which sends JSON infer
requests with no Content-Type, and can compress requests and ask for compressed responses).
Run by test/server/oip-python.test.ts with the interpreter scripts/oip-client.sh installs;
prints one JSON object of what each client got, which the test compares with the server's REST
answers.

  python scripts/oip-client-check.py '{"grpc": "127.0.0.1:8001", "http": "127.0.0.1:8080",
      "model": "demo", "dense": [[...]], "categorical": [[...]]}'
"""

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def refused(fn):
    """The client's exception for a call that should fail, as {status, message}."""
    try:
        fn()
    except InferenceServerException as e:
        return {"status": str(e.status()), "message": e.message()}
    return None


def grpc_checks(url, model, dense, categorical):
    c = grpcclient.InferenceServerClient(url)
    out = {
        "live": c.is_server_live(),
        "ready": c.is_server_ready(),
        "model_ready": c.is_model_ready(model),
        "server_metadata": c.get_server_metadata(as_json=True),
        "model_metadata": c.get_model_metadata(model, as_json=True),
    }

    def inputs(d=dense):
        i = [
            grpcclient.InferInput("dense", list(d.shape), "FP32"),
            grpcclient.InferInput("categorical", list(categorical.shape), "INT64"),
        ]
        i[0].set_data_from_numpy(d)
        i[1].set_data_from_numpy(categorical)
        return i

    r = c.infer(model, inputs(), outputs=[grpcclient.InferRequestedOutput("query")], request_id="py-grpc")
    q = r.as_numpy("query")
    out["query"] = q.astype(np.float64).ravel().tolist()
    out["shape"] = list(q.shape)
    out["id"] = r.get_response().id
    out["unknown_model"] = refused(lambda: c.infer("nope", inputs()))
    out["sequence"] = refused(lambda: c.infer(model, inputs(), sequence_id=7, sequence_start=True))
    big = dense.copy()
    big[0, 0] = 1e30
    out["too_big"] = refused(lambda: c.infer(model, inputs(big)))
    out["live_after"] = c.is_server_live()
    c.close()
    return out


def http_checks(url, model, dense, categorical):
    c = httpclient.InferenceServerClient(url)
    out = {
        "live": c.is_server_live(),
        "ready": c.is_server_ready(),
        "model_ready": c.is_model_ready(model),
        "model_metadata": c.get_model_metadata(model),
    }

    def infer(binary, **kwargs):
        i = [
            httpclient.InferInput("dense", list(dense.shape), "FP32"),
            httpclient.InferInput("categorical", list(categorical.shape), "INT64"),
        ]
        i[0].set_data_from_numpy(dense, binary_data=binary)
        i[1].set_data_from_numpy(categorical, binary_data=binary)
        o = [httpclient.InferRequestedOutput("query", binary_data=binary)]
        r = c.infer(model, i, outputs=o, request_id="py-http", **kwargs)
        return r.as_numpy("query").astype(np.float64).ravel().tolist()

    # JSON in and out: this client sends such a request with no Content-Type
    out["json"] = infer(False)
    out["binary"] = infer(True)
    out["gzip"] = infer(True, request_compression_algorithm="gzip", response_compression_algorithm="gzip")
    out["deflate"] = infer(False, request_compression_algorithm="deflate", response_compression_algorithm="deflate")
    c.close()
    return out


def main():
    args = json.loads(sys.argv[1])
    dense = np.array(args["dense"], dtype=np.float32)
    categorical = np.array(args["categorical"], dtype=np.int64)
    print(
        json.dumps(
            {
                "grpc": grpc_checks(args["grpc"], args["model"], dense, categorical),
                "http": http_checks(args["http"], args["model"], dense, categorical),
            }
        )
    )


if __name__ == "__main__":
    main()
