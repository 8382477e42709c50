// Request schemas (zod), declared once: the ranking endpoint's body and the OIP v2 infer body.
// Limits that come from configuration (most candidates, most rows) are parameters; limits that
// come from the loaded model (feature widths, task names) are checked by the dataplane.
// `firstIssue` turns zod's issues into one message naming the field, e.g. `candidates[3]: ...`.
//
// API:
//   itemIdList({ min, max }) → zod schema of a list of 64-bit item ids, parsed to a BigUint64Array
//     (a BigUint64Array, the ids codecs/rank-json-body.ts read from the bytes, is taken as parsed)
//   rankRequestSchema({ maxCandidates }) → zod schema of RankRequest
//   inferRequestSchema({ maxInferRows, maxElements }, { binaryData? }) → zod schema of InferRequest
//     (binaryData: the JSON header of a binary-extension request, where an input's `data` may be
//     replaced by parameters.binary_data_size; oip-binary.ts checks which one each input has)
//   fieldPath(path) → 'a.b[3]'; firstIssue(error) → { field, message }
import { z } from 'zod';
import { parseIds } from './ids.js';

const MAX_I64 = (1n << 63n) - 1n;
const MIN_I64 = -(1n << 63n);

/**
 * Item ids (64-bit unsigned: decimal strings or safe integers) → BigUint64Array, checked and
 * parsed in one pass by parseIds (ids.ts): a zod union per element costs about a microsecond per
 * id, too much for thousands of candidates. The first bad id is the issue, at its index.
 */
export function itemIdList(limits: { min: number; max: number }) {
  return z
    .custom<unknown[] | BigUint64Array>(
      (v) => Array.isArray(v) || v instanceof BigUint64Array,
      'expected an array of item ids',
    )
    .transform((ids, ctx) => {
      if (ids.length < limits.min) {
        ctx.addIssue({ code: 'custom', message: `expected at least ${limits.min} candidate(s)` });
        return z.NEVER;
      }
      if (ids.length > limits.max) {
        ctx.addIssue({ code: 'custom', message: `at most ${limits.max} candidates per request` });
        return z.NEVER;
      }
      // already parsed from the body's bytes (codecs/rank-json-body.ts)
      if (ids instanceof BigUint64Array) return ids;
      const parsed = parseIds(ids);
      if (parsed instanceof BigUint64Array) return parsed;
      ctx.addIssue({ code: 'custom', path: [parsed.index], message: parsed.message });
      return z.NEVER;
    });
}

/** A signed 64-bit integer: a safe integer or a decimal string. */
export const int64 = z.union([
  z.string().regex(/^-?\d{1,19}$/, 'expected a signed 64-bit integer as a decimal string'),
  z
    .number()
    .int('expected an integer')
    .min(Number.MIN_SAFE_INTEGER)
    .max(Number.MAX_SAFE_INTEGER, 'integers beyond 2^53 must be sent as decimal strings'),
]);

export function parseInt64(v: string | number): bigint | undefined {
  const b = BigInt(v);
  return b >= MIN_I64 && b <= MAX_I64 ? b : undefined;
}

const FLOAT32_MAX = 3.4028234663852886e38;
/** A number the FP32 inputs can hold (larger magnitudes would become Infinity). */
const finite = z
  .number('expected a number')
  .refine((x) => Number.isFinite(x) && Math.abs(x) <= FLOAT32_MAX, 'expected a finite float32 number');

export function rankRequestSchema(limits: { maxCandidates: number }) {
  return z.strictObject({
    query: z.strictObject({
      dense: z.array(finite, 'expected an array of numbers').max(4096),
      categorical: z.array(int64, 'expected an array of integers').max(4096),
    }),
    candidates: itemIdList({ min: 1, max: limits.maxCandidates }),
    topK: z.number().int('expected an integer').min(1).max(limits.maxCandidates).optional(),
    tasks: z
      .array(z.string().min(1), 'expected an array of task names')
      .min(1)
      .max(64)
      .refine((t) => new Set(t).size === t.length, 'task names must be unique')
      .optional(),
  });
}
export type RankRequest = z.infer<ReturnType<typeof rankRequestSchema>>;

/** OIP v2 tensor data: flat or nested row-major arrays of numbers (or int64 strings). */
const tensorData = z.array(z.unknown(), 'expected an array (flat or nested row-major)');

export function inferRequestSchema(
  limits: { maxInferRows: number; maxElements: number },
  opts: { binaryData?: boolean } = {},
) {
  const tensor = z.strictObject({
    name: z.string().min(1),
    shape: z
      .array(
        z.number().int().nonnegative('dimensions must be non-negative'),
        'expected an array of dimensions',
      )
      .min(1)
      .max(8),
    datatype: z.string().min(1),
    parameters: z.record(z.string(), z.unknown()).optional(),
    data: opts.binaryData ? tensorData.optional() : tensorData,
  });
  return z
    .strictObject({
      id: z.string().max(256).optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      inputs: z.array(tensor, 'expected an array of input tensors').min(1).max(8),
      outputs: z
        .array(
          z.strictObject({
            name: z.string().min(1),
            parameters: z.record(z.string(), z.unknown()).optional(),
          }),
        )
        .max(8)
        .optional(),
    })
    .superRefine((req, ctx) => {
      req.inputs.forEach((t, i) => {
        const rows = t.shape[0] ?? 0;
        if (rows > limits.maxInferRows) {
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', i, 'shape', 0],
            message: `at most ${limits.maxInferRows} rows per request`,
          });
        }
        const elements = t.shape.reduce((n, d) => n * d, 1);
        if (elements > limits.maxElements) {
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', i, 'shape'],
            message: `at most ${limits.maxElements} elements per tensor`,
          });
        }
      });
    });
}
export type InferRequest = z.infer<ReturnType<typeof inferRequestSchema>>;

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

export function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) message = 'required';
  return { field: fieldPath(issue.path), message };
}
