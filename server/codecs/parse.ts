// Shared by the JSON codecs: a parsed JSON body checked by a zod schema, the first issue
// refused as a 400 naming its field.
//
// API: parseOrThrow<T>(schema, body) → T   (throws ServeError INVALID_ARGUMENT)
import type { ZodType } from 'zod';
import { invalidArgument } from '../errors.js';
import { firstIssue } from '../schemas.js';

export function parseOrThrow<T>(schema: ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidArgument('', 'request body must be a JSON object');
  const r = schema.safeParse(body, { reportInput: true });
  if (!r.success) {
    const { field, message } = firstIssue(r.error);
    throw invalidArgument(field, message);
  }
  return r.data;
}
