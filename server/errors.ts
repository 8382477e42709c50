// The server's error catalogue: every error a client can see has a stable code, and its HTTP
// status is decided here and nowhere else. Routes and the dataplane throw `ServeError`s; the
// app's one error handler turns anything thrown (ours, Fastify's, or unexpected) into
// `{ error, code, field? }` — OIP v2 clients read `error`, others may switch on `code`.
//
// API:
//   type ErrorCode = keyof typeof ERROR_STATUS
//   class ServeError extends Error { code; status; field? }
//   invalidArgument(field, message) / modelNotFound(name) / modelNotReady(name) /
//   unsupportedMediaType(type?, message?) / ...
//   toServeError(err: unknown): ServeError     maps Fastify's own errors (body size, media type, JSON)

export const ERROR_STATUS = {
  INVALID_ARGUMENT: 400,
  MALFORMED_JSON: 400,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INFERENCE_FAILED: 500,
  INTERNAL: 500,
  MODEL_NOT_READY: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ServeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'ServeError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.field = field;
  }

  toBody(): { error: string; code: ErrorCode; field?: string } {
    return this.field === undefined
      ? { error: this.message, code: this.code }
      : { error: this.message, code: this.code, field: this.field };
  }
}

export const invalidArgument = (field: string, message: string): ServeError =>
  new ServeError('INVALID_ARGUMENT', field ? `${field}: ${message}` : message, field);
export const modelNotFound = (name: string): ServeError =>
  new ServeError('MODEL_NOT_FOUND', `model "${name}" is not served here`);
export const modelNotReady = (name: string): ServeError =>
  new ServeError('MODEL_NOT_READY', `model "${name}" is not ready: no model and snapshot loaded yet`);
export const overloaded = (queued: number): ServeError =>
  new ServeError('OVERLOADED', `server overloaded: ${queued} requests already queued`);
export const shuttingDown = (): ServeError => new ServeError('SHUTTING_DOWN', 'server is shutting down');
export const unsupportedMediaType = (type?: string, message?: string): ServeError =>
  new ServeError(
    'UNSUPPORTED_MEDIA_TYPE',
    `${message ?? `unsupported media type: ${type ?? 'none'}`}; send application/json (the rank route also takes ` +
      'application/vnd.lightrank.rank.v1+binary; infer takes the OIP binary tensor extension with an ' +
      'Inference-Header-Content-Length header)',
  );
export const inferenceFailed = (message: string): ServeError =>
  new ServeError('INFERENCE_FAILED', `inference failed: ${message}`);

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/** Maps anything thrown during a request to a catalogue entry (Fastify's FST_* codes included). */
export function toServeError(err: unknown): ServeError {
  if (err instanceof ServeError) return err;
  const e = (err ?? {}) as FastifyLikeError;
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServeError('PAYLOAD_TOO_LARGE', e.message ?? 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return unsupportedMediaType(undefined, e.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ServeError('MALFORMED_JSON', 'request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ServeError('MALFORMED_JSON', `request body is not valid JSON: ${e.message ?? ''}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ServeError('INVALID_ARGUMENT', e.message ?? 'invalid content-length');
    default:
      break;
  }
  if (err instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message ?? ''))) {
    return new ServeError('MALFORMED_JSON', `request body is not valid JSON: ${e.message ?? ''}`.trim());
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ServeError('INVALID_ARGUMENT', e.message ?? 'bad request');
  }
  return new ServeError('INTERNAL', 'internal error');
}
