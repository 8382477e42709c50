// Raw HTTP calls to the API server with the kubeconfig's credentials, for what client-node's
// typed models would change: given plain JSON they drop a CRD schema's `default` and every
// `x-kubernetes-*` key, and on reads they rename them (`_default`, `xKubernetesValidations`).
import type { KubeConfig } from '@kubernetes/client-node';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface RawResponse {
  status: number;
  text: string;
}

export async function rawRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  opts: { body?: unknown; contentType?: string; query?: Record<string, string> } = {},
): Promise<RawResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, server);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const reqOpts: RequestOptions = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    reqOpts.headers = {
      ...reqOpts.headers,
      'Content-Type': opts.contentType ?? 'application/json',
      'Content-Length': Buffer.byteLength(body),
    };
  }
  await kc.applyToHTTPSOptions(reqOpts);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, reqOpts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GET `path` as plain JSON; throws with the API server's message on a non-2xx answer. */
export async function getJson<T = unknown>(kc: KubeConfig, path: string): Promise<T> {
  const res = await rawRequest(kc, 'GET', path);
  if (res.status < 200 || res.status > 299) throw rawError(res, `GET ${path}`);
  return JSON.parse(res.text) as T;
}

/** Server-side apply of `obj` at `path` (the object's own URL), forcing conflicts. */
export async function serverSideApply(
  kc: KubeConfig,
  path: string,
  obj: unknown,
  fieldManager: string,
): Promise<void> {
  const res = await rawRequest(kc, 'PATCH', path, {
    body: obj,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager, force: 'true' },
  });
  if (res.status < 200 || res.status > 299) throw rawError(res, `apply ${path}`);
}

function rawError(res: RawResponse, what: string): Error {
  let message = res.text.slice(0, 500);
  try {
    message = (JSON.parse(res.text) as { message?: string }).message ?? message;
  } catch {
    // not a Status: keep the text
  }
  return new Error(`${what}: HTTP ${res.status}: ${message}`);
}
