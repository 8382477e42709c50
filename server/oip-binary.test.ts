// Unit tests of the OIP binary tensor extension's encoding: splitting the body at the header
// length, slicing inputs by binary_data_size, choosing binary outputs, and the client helpers'
// round trip.
import { describe, expect, it } from 'vitest';
import { ServeError } from './errors.js';
import {
  binaryOutputRequested,
  decodeBinaryInferResponse,
  encodeBinaryInferRequest,
  encodeBinaryInferResponse,
  sliceBinaryInputs,
  splitBinaryBody,
} from './oip-binary.js';

function refused(fn: () => unknown): ServeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServeError);
    return err as ServeError;
  }
  throw new Error('expected a ServeError');
}

const fp32 = (shape: number[], size?: number) => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  parameters: { binary_data_size: size ?? shape.reduce((n, d) => n * d, 1) * 4 },
});

describe('splitBinaryBody', () => {
  it('parses the header and returns the bytes after it', () => {
    const x = Float32Array.of(1.5, -2);
    const { body, headerLength } = encodeBinaryInferRequest({ inputs: [fp32([1, 2])] }, [x]);
    const { header, tail } = splitBinaryBody(body, String(headerLength));
    expect(header).toEqual({ inputs: [fp32([1, 2])] });
    expect(Array.from(new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 8)))).toEqual([
      1.5, -2,
    ]);
  });

  it('refuses bad lengths naming the header, and non-JSON as MALFORMED_JSON', () => {
    const body = Buffer.from('{"inputs":[]}xyz');
    for (const value of ['', '-1', '1e3', '0', '17'])
      expect(refused(() => splitBinaryBody(body, value)).field).toBe('Inference-Header-Content-Length');
    const e = refused(() => splitBinaryBody(body, '14'));
    expect(e.code).toBe('MALFORMED_JSON');
    expect(refused(() => splitBinaryBody(undefined, '2')).message).toContain('only 0');
  });
});

describe('sliceBinaryInputs', () => {
  it('slices binary inputs in order and leaves JSON ones', () => {
    const tail = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
    const slices = sliceBinaryInputs(
      [fp32([1, 1]), { name: 'j', datatype: 'INT64', shape: [1], data: [1] }, fp32([3])],
      tail,
    );
    expect(slices.map((s) => (s ? Array.from(s) : undefined))).toEqual([
      [0, 1, 2, 3],
      undefined,
      [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    ]);
  });

  it('names the field of each size problem', () => {
    const tail = Buffer.alloc(8);
    expect(refused(() => sliceBinaryInputs([fp32([1, 2], 4)], tail)).message).toContain(
      'expected 8 bytes, got 4',
    );
    expect(refused(() => sliceBinaryInputs([fp32([1, 3])], tail)).field).toBe(
      'inputs[0].parameters.binary_data_size',
    );
    expect(refused(() => sliceBinaryInputs([fp32([1])], tail)).field).toBe('body');
    expect(refused(() => sliceBinaryInputs([{ ...fp32([2]), datatype: 'BYTES' }], tail)).field).toBe(
      'inputs[0].datatype',
    );
    expect(refused(() => sliceBinaryInputs([{ ...fp32([2]), datatype: 'FLOAT' }], tail)).message).toContain(
      'unknown datatype',
    );
    expect(refused(() => sliceBinaryInputs([{ name: 'x', datatype: 'FP32', shape: [2] }], tail)).field).toBe(
      'inputs[0].data',
    );
    expect(refused(() => sliceBinaryInputs([{ ...fp32([2]), data: [1, 2] }], tail)).field).toBe('inputs[0]');
    expect(refused(() => sliceBinaryInputs([fp32([2], -8)], tail)).field).toBe(
      'inputs[0].parameters.binary_data_size',
    );
  });
});

describe('binaryOutputRequested', () => {
  it('takes the output’s own flag over the request-wide one, default JSON', () => {
    expect(binaryOutputRequested({}, 'q')).toBe(false);
    expect(binaryOutputRequested({ parameters: { binary_data_output: true } }, 'q')).toBe(true);
    expect(
      binaryOutputRequested(
        {
          parameters: { binary_data_output: true },
          outputs: [{ name: 'q', parameters: { binary_data: false } }],
        },
        'q',
      ),
    ).toBe(false);
    expect(binaryOutputRequested({ outputs: [{ name: 'q', parameters: { binary_data: true } }] }, 'q')).toBe(
      true,
    );
    expect(
      binaryOutputRequested({ outputs: [{ name: 'other', parameters: { binary_data: true } }] }, 'q'),
    ).toBe(false);
  });

  it('refuses non-boolean flags naming them', () => {
    expect(
      refused(() => binaryOutputRequested({ parameters: { binary_data_output: 'yes' } }, 'q')).field,
    ).toBe('parameters.binary_data_output');
    expect(
      refused(() => binaryOutputRequested({ outputs: [{ name: 'q', parameters: { binary_data: 1 } }] }, 'q'))
        .field,
    ).toBe('outputs[0].parameters.binary_data');
  });
});

describe('binary responses', () => {
  it('round-trip through the client decoder', () => {
    const q = Float32Array.of(0.25, 3, -1);
    const res = encodeBinaryInferResponse(
      {
        model_name: 'm',
        outputs: [{ name: 'query', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 12 } }],
      },
      [q],
    );
    const { header, tensors } = decodeBinaryInferResponse(res.body, res.headerLength);
    expect(header.model_name).toBe('m');
    const b = tensors.get('query')!;
    expect(Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)))).toEqual([
      0.25, 3, -1,
    ]);
    expect(() =>
      decodeBinaryInferResponse(res.body.subarray(0, res.body.length - 1), res.headerLength),
    ).toThrow(/runs past/);
  });
});
