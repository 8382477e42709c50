// JSON encoding of ranking responses, straight into a Buffer. JSON.stringify spends ~0.3 µs per
// float on shortest round-trip formatting — the largest single cost of a 2,000-candidate answer.
// Scores in [0.001, 1) are written here as "0." + 9 digits from integer arithmetic (absolute
// error ≤ 5e-10, finer than float32's own resolution there); other values as JSON.stringify
// would write them.
//
// API:
//   interface RankResponse;  interface ScoreColumn { values: Float32Array; present: Int32Array }
//   encodeRankResponse(res: RankResponse with scores as ScoreColumns) → Buffer (UTF-8 JSON)
/** The ranking endpoint's JSON response (server/README.md). */
export interface RankResponse {
  model: string;
  modelVersion: string;
  snapshotVersion: string;
  tasks: string[];
  /** per task, aligned with the request's candidates; null where the id is unknown */
  scores?: Record<string, (number | null)[]>;
  /** per task, the best `topK` known candidates, best first */
  topK?: Record<string, { id: string; score: number }[]>;
  /** candidate ids not in the snapshot: listed here, not scored */
  unknownIds: string[];
}

/** Most bytes one score takes: JSON.stringify of a double is at most 24 characters; "null" 4. */
const MAX_SCORE_BYTES = 25;

/** "000" … "999" as ASCII bytes, three per number. */
const DIGITS3 = Uint8Array.from(
  { length: 3000 },
  (_, i) => 48 + (Math.floor(Math.floor(i / 3) / 10 ** (2 - (i % 3))) % 10),
);

class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /**
   * A JSON array with one entry per candidate: the next of `column.values` where
   * `column.present[i] >= 0`, else null. Bytes are written directly (a Buffer.write per element
   * costs more than the element).
   */
  scores(column: ScoreColumn): void {
    const { values, present } = column;
    this.ensure(present.length * (MAX_SCORE_BYTES + 1) + 2);
    const b = this.buf;
    // the common case inline, with the position in a local (a field written per byte is
    // reloaded per byte: the stores to the Buffer may alias it as far as the JIT knows)
    let p = this.pos;
    b[p++] = 91; // '['
    for (let i = 0, j = 0; i < present.length; i++) {
      if (i) b[p++] = 44; // ','
      if (present[i]! < 0) {
        b[p] = 110; // 'null'
        b[p + 1] = 117;
        b[p + 2] = 108;
        b[p + 3] = 108;
        p += 4;
        continue;
      }
      const x = values[j++]!;
      const k = x >= 0.001 && x < 1 ? Math.round(x * 1e9) | 0 : 1e9;
      if (k >= 1e9) {
        this.pos = p;
        this.put(x);
        p = this.pos;
        continue;
      }
      const hi = (k / 1e6) | 0;
      const rest = k - hi * 1e6;
      const mid = (rest / 1000) | 0;
      const lo = (rest - mid * 1000) * 3;
      b[p] = 48; // '0'
      b[p + 1] = 46; // '.'
      b[p + 2] = DIGITS3[hi * 3]!;
      b[p + 3] = DIGITS3[hi * 3 + 1]!;
      b[p + 4] = DIGITS3[hi * 3 + 2]!;
      b[p + 5] = DIGITS3[mid * 3]!;
      b[p + 6] = DIGITS3[mid * 3 + 1]!;
      b[p + 7] = DIGITS3[mid * 3 + 2]!;
      b[p + 8] = DIGITS3[lo]!;
      b[p + 9] = DIGITS3[lo + 1]!;
      b[p + 10] = DIGITS3[lo + 2]!;
      p += 11;
    }
    b[p++] = 93; // ']'
    this.pos = p;
  }

  score(x: number | null): void {
    this.ensure(MAX_SCORE_BYTES);
    this.put(x);
  }

  /** Writes one score; the caller has ensured MAX_SCORE_BYTES of room. */
  private put(x: number | null): void {
    const b = this.buf;
    if (x !== null && x >= 0.001 && x < 1) {
      // k < 10^9: nine digits after "0.", three at a time from a table (two int32 divisions
      // instead of eighteen % and /); | 0 keeps the arithmetic in int32.
      const k = Math.round(x * 1e9) | 0;
      if (k < 1e9) {
        const hi = (k / 1e6) | 0;
        const rest = k - hi * 1e6;
        const mid = (rest / 1000) | 0;
        const lo = rest - mid * 1000;
        const p = this.pos;
        b[p] = 48; // '0'
        b[p + 1] = 46; // '.'
        let t = hi * 3;
        b[p + 2] = DIGITS3[t]!;
        b[p + 3] = DIGITS3[t + 1]!;
        b[p + 4] = DIGITS3[t + 2]!;
        t = mid * 3;
        b[p + 5] = DIGITS3[t]!;
        b[p + 6] = DIGITS3[t + 1]!;
        b[p + 7] = DIGITS3[t + 2]!;
        t = lo * 3;
        b[p + 8] = DIGITS3[t]!;
        b[p + 9] = DIGITS3[t + 1]!;
        b[p + 10] = DIGITS3[t + 2]!;
        this.pos += 11;
        return;
      }
    }
    this.pos += b.write(x === null ? 'null' : JSON.stringify(x), this.pos, 'latin1');
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Scores aligned with the request's candidates, kept in typed arrays until written. */
export interface ScoreColumn {
  /** the scores of the known candidates, in request order */
  values: Float32Array;
  /** per candidate: ≥ 0 when known (its score is the next of `values`), < 0 when unknown (null) */
  present: Int32Array;
}

export type EncodableRankResponse = Omit<RankResponse, 'scores'> & { scores?: Record<string, ScoreColumn> };

export function encodeRankResponse(res: EncodableRankResponse): Buffer {
  const { scores, topK, ...rest } = res;
  const head = JSON.stringify(rest);
  let values = 0;
  for (const column of Object.values(scores ?? {})) values += column.present.length;
  const w = new Writer(head.length * 3 + values * (MAX_SCORE_BYTES + 1) + 256);
  w.text(head.slice(0, -1));
  if (scores) {
    w.text(',"scores":{');
    Object.entries(scores).forEach(([task, column], t) => {
      w.text(`${t ? ',' : ''}${JSON.stringify(task)}:`);
      w.scores(column);
    });
    w.text('}');
  }
  if (topK) {
    w.text(',"topK":{');
    Object.entries(topK).forEach(([task, list], t) => {
      w.text(`${t ? ',' : ''}${JSON.stringify(task)}:[`);
      list.forEach((e, i) => {
        w.text(`${i ? ',' : ''}{"id":${JSON.stringify(e.id)},"score":`);
        w.score(e.score);
        w.text('}');
      });
      w.text(']');
    });
    w.text('}');
  }
  w.text('}');
  return w.done();
}
