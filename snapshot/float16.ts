// IEEE 754 half-precision conversion (Node 20 has no Float16Array): float16 values are carried
// as their raw bits in a Uint16Array. float32 → float16 rounds to nearest, ties to even, and
// keeps infinities, NaN and subnormals.
//
// API:
//   toFloat16Bits(value: number): number
//   fromFloat16Bits(bits: number): number
//   float32ToFloat16(src: ArrayLike<number>, dst?: Uint16Array): Uint16Array
//   float16ToFloat32(src: Uint16Array, dst?: Float32Array): Float32Array

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const round = rem > halfway || (rem === halfway && (half & 1) === 1) ? 1 : 0;
    return sign | (half + round);
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Inf).
  const round = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1) ? 1 : 0;
  return sign | (half + round);
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16(
  src: ArrayLike<number>,
  dst: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  if (dst.length < src.length)
    throw new RangeError(`float32ToFloat16: dst holds ${dst.length} < ${src.length}`);
  for (let i = 0; i < src.length; i++) dst[i] = toFloat16Bits(src[i]!);
  return dst;
}

export function float16ToFloat32(
  src: Uint16Array,
  dst: Float32Array = new Float32Array(src.length),
): Float32Array {
  if (dst.length < src.length)
    throw new RangeError(`float16ToFloat32: dst holds ${dst.length} < ${src.length}`);
  for (let i = 0; i < src.length; i++) dst[i] = fromFloat16Bits(src[i]!);
  return dst;
}
