// readRankJsonBody against the general path (decodeJsonText + parseJson, then the request
// schema with parseIds): the same request or the same refusal (code, field, message) for plain
// bodies, which must take the fast path, and for every kind of body that must not.
import { describe, expect, it } from 'vitest';
import { ServeError } from '../errors.js';
import { decodeJsonText, parseJson } from '../http-body.js';
import { rankRequestSchema } from '../schemas.js';
import { parseOrThrow } from './parse.js';
import { readRankJsonBody } from './rank-json-body.js';

const LIMITS = { maxCandidates: 50 };
const schema = rankRequestSchema(LIMITS);

type Outcome = { ok: unknown } | { error: { code: string; field?: string; message: string } };

function outcome(read: () => unknown): Outcome {
  try {
    const req = parseOrThrow(schema, read()) as { candidates: BigUint64Array };
    return { ok: { ...req, candidates: Array.from(req.candidates) } };
  } catch (e) {
    if (!(e instanceof ServeError)) throw e;
    return {
      error: { code: e.code, ...(e.field !== undefined ? { field: e.field } : {}), message: e.message },
    };
  }
}

function both(
  text: string | Buffer,
  contentType?: string,
): { fast: unknown; general: Outcome; got: Outcome } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let fast: unknown;
  const got = outcome(() => (fast = readRankJsonBody(bytes, contentType, LIMITS)));
  const general = outcome(() => parseJson(decodeJsonText(bytes, contentType)));
  return { fast, general, got };
}

/** The ids, as the fast path read them (undefined: it did not). */
const fastIds = (body: unknown): BigUint64Array | undefined => {
  const c = (body as { candidates?: unknown } | undefined)?.candidates;
  return c instanceof BigUint64Array ? c : undefined;
};

const QUERY = '"query":{"dense":[0.5,-1,2e-3],"categorical":[3,"-9"]}';

describe('readRankJsonBody', () => {
  it('reads plain bodies fast, exactly as the general path does', () => {
    let x = 0x9e3779b97f4a7c15n;
    const next = (): bigint => (x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn);
    const bodies: string[] = [
      `{${QUERY},"candidates":["0","1","18446744073709551615","00042","4294967296"]}`,
      `{"candidates":[7,0,9007199254740991,4294967295,4294967296],${QUERY},"topK":3,"tasks":["ctr"]}`,
      ` \n{ "candidates" : [ "5" , 6 ,"7"\t] , ${QUERY} }\r\n`,
      `{${QUERY},"topK":2,"candidates":["12345678901234567890"],"tasks":["a","b"]}`,
      `\ufeff{${QUERY},"candidates":["3"]}`, // a UTF-8 BOM
    ];
    // read fast too, then refused by the schema as unknown fields, as by the general path
    const refused = [
      `{${QUERY},"note":"x\\"],\\"candidates\\":[1]","candidates":["8"]}`, // a lookalike inside a string
      `{"query":{"dense":[],"categorical":[],"candidates":[1,2]},"candidates":["9"]}`, // nested key
      `{"query":{"dense":[1],"categorical":[]},"x":{"y":[{"z":"]}"}]},"candidates":["10"]}`,
    ];
    for (let i = 0; i < 40; i++) {
      const ids = Array.from({ length: 1 + (i % 50) }, (_, j) => {
        const v = next()
          .toString()
          .slice(0, 1 + ((i + j) % 20));
        return j % 3 === 0 && BigInt(v) <= 2n ** 53n - 1n ? String(BigInt(v)) : JSON.stringify(v);
      });
      bodies.push(`{${QUERY},"candidates":[${ids.join(i % 2 ? ', ' : ',')}]}`);
    }
    for (const body of bodies) {
      const { fast, general, got } = both(body);
      expect(fastIds(fast), body).toBeDefined();
      expect('ok' in general, body).toBe(true);
      expect(got, body).toEqual(general);
    }
    for (const body of refused) {
      const { fast, general, got } = both(body);
      expect(fastIds(fast), body).toBeDefined();
      expect('error' in general, body).toBe(true);
      expect(got, body).toEqual(general);
    }
    const { fast } = both(`{${QUERY},"candidates":["18446744073709551615",9007199254740991,"007"]}`);
    expect(Array.from(fastIds(fast)!)).toEqual([18446744073709551615n, 9007199254740991n, 7n]);
  });

  it('takes a UTF-8 charset label fast, and other charsets the general way', () => {
    const body = `{${QUERY},"candidates":["1","2"]}`;
    expect(fastIds(both(body, 'application/json; charset=UTF-8').fast)).toBeDefined();
    const utf16 = Buffer.from(body, 'utf16le');
    const r = both(utf16, 'application/json; charset=utf-16le');
    expect(fastIds(r.fast)).toBeUndefined();
    expect(r.got).toEqual(r.general);
    expect('ok' in r.got).toBe(true);
  });

  it.each([
    ['a bad id string', `{${QUERY},"candidates":["1","x2"]}`],
    ['an id past 2^64 - 1', `{${QUERY},"candidates":["18446744073709551616"]}`],
    ['21 digits', `{${QUERY},"candidates":["123456789012345678901"]}`],
    ['an empty id', `{${QUERY},"candidates":[""]}`],
    ['an escaped digit', `{${QUERY},"candidates":["\\u0031"]}`],
    ['a negative number', `{${QUERY},"candidates":[-1]}`],
    ['a fraction', `{${QUERY},"candidates":[1.5]}`],
    ['an integral fraction', `{${QUERY},"candidates":[1.0, 2]}`],
    ['an exponent', `{${QUERY},"candidates":[1e3]}`],
    ['2^53', `{${QUERY},"candidates":[9007199254740992]}`],
    ['a leading zero (not JSON)', `{${QUERY},"candidates":[012]}`],
    ['null', `{${QUERY},"candidates":[null]}`],
    ['an object', `{${QUERY},"candidates":[{"id":1}]}`],
    ['an empty list', `{${QUERY},"candidates":[]}`],
    ['over the limit', `{${QUERY},"candidates":[${Array.from({ length: 51 }, (_, i) => i).join(',')}]}`],
    ['at the limit', `{${QUERY},"candidates":[${Array.from({ length: 50 }, (_, i) => i).join(',')}]}`],
    ['a trailing comma', `{${QUERY},"candidates":["1",]}`],
    ['no closing bracket', `{${QUERY},"candidates":["1"`],
    ['a string, not a list', `{${QUERY},"candidates":"1,2"}`],
    ['a duplicate key (the last wins)', `{${QUERY},"candidates":["1"],"candidates":["2","3"]}`],
    ['an escaped key', `{${QUERY},"candidates":["1"],"candid\\u0061tes":["2"]}`],
    ['no candidates', `{${QUERY}}`],
    ['a __proto__ key', `{"__proto__":{"x":1},${QUERY},"candidates":["1"]}`],
    ['malformed JSON before', `{${QUERY},"topK":tru,"candidates":["1"]}`],
    ['malformed JSON after', `{${QUERY},"candidates":["1"],"topK":}`],
    ['text after the object', `{${QUERY},"candidates":["1"]} x`],
    ['an unknown field', `{${QUERY},"candidates":["1"],"extra":true}`],
    ['a bad query', `{"query":{"dense":["a"],"categorical":[]},"candidates":["1"]}`],
    ['an array body', `[{"candidates":["1"]}]`],
    ['an empty object', `{}`],
  ])('%s: the same outcome as the general path', (_name, body) => {
    const { got, general } = both(body);
    expect(got).toEqual(general);
  });

  it('the refusals above are refusals (the comparison is not vacuous)', () => {
    expect(both(`{${QUERY},"candidates":["1","x2"]}`).got).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        field: 'candidates[1]',
        message: 'candidates[1]: expected an unsigned 64-bit id as a decimal string',
      },
    });
    const dup = both(`{${QUERY},"candidates":["1"],"candidates":["2","3"]}`);
    expect(fastIds(dup.fast)).toBeUndefined();
    expect(dup.got).toMatchObject({ ok: { candidates: [2n, 3n] } });
    const bad = both(`{${QUERY},"candidates":["1"],"topK":}`).got as {
      error: { code: string; message: string };
    };
    expect(bad.error.code).toBe('MALFORMED_JSON');
  });
});
