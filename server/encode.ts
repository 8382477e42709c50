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
/** Most bytes a score in [0.001, 1) or a null takes in a scores array, with its comma. */
const FAST_ENTRY_BYTES = 12;

/** "000" … "999" as ASCII bytes, three per number. */
const DIGITS3 = Uint8Array.from(
  { length: 3000 },
  (_, i) => 48 + (Math.floor(Math.floor(i / 3) / 10 ** (2 - (i % 3))) % 10),
);

/** Little-endian uint32 of four ASCII bytes. */
const word = (a: number, b: number, c: number, d: number): number =>
  (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
const digit = (n: number, place: number): number => 48 + (Math.floor(n / place) % 10);
/** "0.00" … "0.99" */
const ZERO_POINT_2 = Uint32Array.from({ length: 100 }, (_, n) => word(48, 46, digit(n, 10), digit(n, 1)));
/** "0000" … "9999" */
const DIGITS4 = Uint32Array.from({ length: 10000 }, (_, n) =>
  word(digit(n, 1000), digit(n, 100), digit(n, 10), digit(n, 1)),
);
/** "000," … "999," */
const DIGITS3_COMMA = Uint32Array.from({ length: 1000 }, (_, n) =>
  word(digit(n, 100), digit(n, 10), digit(n, 1), 44),
);
const NULL_WORD = word(110, 117, 108, 108); // "null"

class Writer {
  private buf: Buffer;
  private pos = 0;
  private dv: DataView | undefined;
  private dvAt = 0;

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
   * `column.present[i] >= 0`, else null. Bytes are written directly, four at a time where they
   * can be (a Buffer.write per element costs more than the element): a score in [0.001, 1) is
   * "0." + nine digits, written as three little-endian uint32 stores ("0.dd", "dddd", "ddd,")
   * from tables, and every entry is followed by its comma; the last comma becomes the ']'.
   */
  scores(column: ScoreColumn): void {
    const { values, present } = column;
    // room for the common entries (FAST_ENTRY_BYTES at most); an entry written the long way
    // makes room for the rest at their longest first
    this.ensure(present.length * FAST_ENTRY_BYTES + 2);
    let b = this.buf;
    let view = this.view();
    // the position in a local (a field written per store is reloaded per store: the stores to
    // the Buffer may alias it as far as the JIT knows)
    let p = this.pos;
    b[p++] = 91; // '['
    if (present.length === 0) {
      b[p++] = 93; // ']'
      this.pos = p;
      return;
    }
    for (let i = 0, j = 0; i < present.length; i++) {
      if (present[i]! < 0) {
        view.setUint32(p, NULL_WORD, true); // 'null'
        b[p + 4] = 44; // ','
        p += 5;
        continue;
      }
      const x = values[j++]!;
      const k = x >= 0.001 && x < 1 ? Math.round(x * 1e9) | 0 : 1e9;
      if (k >= 1e9) {
        this.pos = p;
        this.ensure((present.length - i) * (MAX_SCORE_BYTES + 1) + 1);
        b = this.buf;
        view = this.view();
        this.put(x);
        p = this.pos;
        b[p++] = 44; // ','
        continue;
      }
      // k = hi·10^7 + mid·10^3 + lo: "0." + hi's two digits, mid's four, lo's three + ','
      const hi = (k / 1e7) | 0;
      const rest = k - hi * 1e7;
      const mid = (rest / 1000) | 0;
      view.setUint32(p, ZERO_POINT_2[hi]!, true);
      view.setUint32(p + 4, DIGITS4[mid]!, true);
      view.setUint32(p + 8, DIGITS3_COMMA[rest - mid * 1000]!, true);
      p += 12;
    }
    b[p - 1] = 93; // the last ',' → ']'
    this.pos = p;
  }

  /** A DataView on the current buffer (made again only when the buffer grows). */
  private view(): DataView {
    if (this.dv === undefined || this.dv.buffer !== this.buf.buffer || this.dvAt !== this.buf.byteOffset) {
      this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
      this.dvAt = this.buf.byteOffset;
    }
    return this.dv;
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
  // sized for scores in [0.001, 1) (a sigmoid's); Writer.scores makes room for longer ones
  const w = new Writer(head.length * 3 + values * FAST_ENTRY_BYTES + 256);
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
