// JSON encoding of ranking responses, straight into a Buffer. JSON.stringify spends ~0.3 µs per
// float on shortest round-trip formatting — the largest single cost of a 2,000-candidate answer.
// Scores in [0.001, 1) are written here as "0." + 9 digits from integer arithmetic (absolute
// error ≤ 5e-10, finer than float32's own resolution there); other values as JSON.stringify
// would write them.
//
// API: encodeRankResponse(res: RankResponse) → Buffer (UTF-8 JSON)
import type { RankResponse } from './dataplane.js';

/** Most bytes one score takes: JSON.stringify of a double is at most 24 characters; "null" 4. */
const MAX_SCORE_BYTES = 25;

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

  score(x: number | null): void {
    this.ensure(MAX_SCORE_BYTES);
    const b = this.buf;
    if (x !== null && x >= 0.001 && x < 1) {
      let k = Math.round(x * 1e9);
      if (k < 1e9) {
        const p = this.pos;
        b[p] = 48; // '0'
        b[p + 1] = 46; // '.'
        for (let j = p + 10; j >= p + 2; j--) {
          b[j] = 48 + (k % 10);
          k = (k / 10) | 0;
        }
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

export function encodeRankResponse(res: RankResponse): Buffer {
  const { scores, topK, ...rest } = res;
  const head = JSON.stringify(rest);
  let values = 0;
  for (const list of Object.values(scores ?? {})) values += list.length;
  const w = new Writer(head.length * 3 + values * 12 + 256);
  w.text(head.slice(0, -1));
  if (scores) {
    w.text(',"scores":{');
    Object.entries(scores).forEach(([task, list], t) => {
      w.text(`${t ? ',' : ''}${JSON.stringify(task)}:[`);
      for (let i = 0; i < list.length; i++) {
        if (i) w.text(',');
        w.score(list[i]!);
      }
      w.text(']');
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
