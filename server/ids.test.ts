// parseIds against BigInt, the obvious (slow) way, on edge cases and random 64-bit ids (all
// lengths: random values are also cut to random prefixes).
import { describe, expect, it } from 'vitest';
import { parseIds } from './ids.js';

describe('parseIds', () => {
  it('parses decimal strings and safe integers exactly, up to 2^64 - 1', () => {
    const values: (string | number)[] = [
      '0',
      '1',
      '4294967295',
      '4294967296',
      '18446744073709551615',
      '00042',
      7,
      2 ** 53 - 1,
    ];
    let x = 0x9e3779b97f4a7c15n;
    for (let i = 0; i < 200; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      values.push(x.toString(), x.toString().slice(0, 1 + (i % 20)));
    }
    const got = parseIds(values);
    expect(got).toBeInstanceOf(BigUint64Array);
    expect(Array.from(got as BigUint64Array)).toEqual(values.map((v) => BigInt(v)));
  });

  const DIGITS = 'expected an unsigned 64-bit id as a decimal string';
  it.each([
    ['18446744073709551616', 'outside the unsigned 64-bit range'], // 2^64
    ['99999999999999999999', 'outside the unsigned 64-bit range'],
    ['123456789012345678901', DIGITS], // 21 digits
    ['', DIGITS],
    ['-1', DIGITS],
    ['abc', DIGITS],
    ['1e5', DIGITS],
    [' 1', DIGITS],
    ['1234567890123456789x', DIGITS],
    ['x2345678901234567890', DIGITS], // in the leading digits (read apart from the last ten)
    ['1/34567890123', DIGITS], // '/' and ':' sit either side of the digits
    ['12345678901:', DIGITS],
    [-1, 'ids are unsigned'],
    [1.5, 'expected an integer id'],
    [2 ** 53, 'ids beyond 2^53 must be sent as decimal strings'],
    [null, 'expected an item id (a decimal string or a safe integer)'],
    [{ id: 1 }, 'expected an item id (a decimal string or a safe integer)'],
  ] as const)('refuses %j at its index, saying why', (bad, message) => {
    expect(parseIds(['5', bad, '6'])).toEqual({ index: 1, message });
  });
});
