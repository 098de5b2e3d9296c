/**
 * libvips' enlargement of 8-bit pixels, byte for byte, outside libvips: what `sharp(...).resize(size, size, { fit:
 * 'fill', kernel: 'lanczos3' })` does to an image no larger than `size` on either side. libvips enlarges with
 * vips_affine and its bicubic (Catmull-Rom) interpolator, whatever the kernel (resample/resize.c), one output pixel
 * at a time through its region machinery: 2 to 3 ms of CPU for a 100×100 Fruits-360 image to 224×224, more than
 * decoding it. For a pure scale the interpolation is separable, so here it runs as two passes, in WebAssembly SIMD.
 *
 * Mirrored from libvips 8.18 (the version sharp bundles): the transform's inverse (transform.c), the centre
 * convention's input offset (resize.c), the edge copied outward by two pixels (affine.c's vips_embed), the sampling
 * position stepped along each row as vips_affine_gen does, its rounding to 1/64 pixel (bicubic.cpp), the
 * coefficient table in fixed point (×4096, truncated) and the rounding of each row's sum before the column's
 * (templates.h, bicubic_unsigned_int). A test compares this with sharp byte for byte for every width and every
 * height up to 224 (test/unit/bicubic-enlarge.test.ts).
 */

import { bicubicEnlargeWasm } from './bicubic-enlarge-wasm.ts';

/** libvips' VIPS_TRANSFORM_SCALE: sampling positions are rounded to 1/64 pixel. */
const transformScale = 64;
/** libvips' VIPS_INTERPOLATE_SHIFT: coefficients in fixed point, ×4096. */
const interpolateShift = 12;

/** vips_bicubic_matrixi: Catmull-Rom coefficients for each 1/64 offset, 0 to 1 inclusive, four per offset. */
const coefficientTable = (() => {
  const table = new Int32Array((transformScale + 1) * 4);
  for (let step = 0; step <= transformScale; step++) {
    // calculate_coefficients_catmull, its operations in its order (the offset is a float in libvips: exact here).
    const x = Math.fround(step / transformScale);
    const cr1 = 1 - x;
    const cr2 = -0.5 * x;
    const cr3 = cr1 * cr2;
    const cone = cr1 * cr3;
    const cfou = x * cr3;
    const cr4 = cfou - cone;
    const ctwo = cr1 - cone + cr4;
    const cthr = x - cfou - cr4;
    // C's conversion of a double to int truncates.
    [cone, ctwo, cthr, cfou].forEach((c, i) => {
      table[step * 4 + i] = Math.trunc(c * (1 << interpolateShift));
    });
  }
  return table;
})();

/** Where each output pixel of one axis samples: its four source pixels (clamped) and their coefficients. */
interface AxisTaps {
  /** Four source indices per output pixel, clamped to the image as libvips' copied edge would give. */
  sources: Int32Array;
  /** Four fixed-point coefficients per output pixel. */
  weights: Int32Array;
}

/**
 * One axis's sampling, for `outputs` pixels from `inputs`. `positions` yields the continuous positions libvips
 * computes (in its space with a border of two copied pixels), one per output pixel.
 */
function axisTaps(inputs: number, outputs: number, positions: Iterable<number>): AxisTaps {
  const sources = new Int32Array(outputs * 4);
  const weights = new Int32Array(outputs * 4);
  let o = 0;
  for (const position of positions) {
    // vips_interpolate_bicubic_interpolate: round to the nearest 1/64 by doubling, adding one and halving.
    const step = ((Math.trunc(position * transformScale * 2) & (transformScale * 2 - 1)) + 1) >> 1;
    const whole = Math.trunc(position);
    for (let k = 0; k < 4; k++) {
      // The stencil starts one pixel back; the border of two copied pixels is undone by the clamp.
      sources[o * 4 + k] = Math.min(inputs - 1, Math.max(0, whole - 1 + k - 2));
      weights[o * 4 + k] = coefficientTable[step * 4 + k]!;
    }
    o++;
  }
  return { sources, weights };
}

/**
 * Both axes' taps for a `width`×`height` image, as libvips computes them. sharp gives libvips scale = 1 / (input /
 * target) per axis, and libvips inverts the transform [hscale, 0; 0, vscale] as a matrix (transform.c): each
 * axis's step is (1 / (hscale × vscale)) × the other axis's scale, not always 1 / its own scale to the last bit,
 * so both axes depend on both sides. A stream of same-sized images computes them once.
 */
function sampling(width: number, height: number, size: number): { columns: AxisTaps; rows: AxisTaps } {
  const key = `${width}x${height}>${size}`;
  let taps = samplingCache.get(key);
  if (!taps) {
    const hscale = 1 / (width / size);
    const vscale = 1 / (height / size);
    const inverse = 1 / (hscale * vscale);
    const ia = inverse * vscale;
    const id = inverse * hscale;
    // resize.c's centre convention (half a pixel, in libvips 8.18), less affine.c's one-pixel border.
    const idx = 0.5 - 1;
    const idy = 0.5 - 1;
    taps = {
      columns: axisTaps(width, size, rowPositions(ia, idx, size)),
      rows: axisTaps(
        height,
        size,
        // vips_affine_gen computes each row's position afresh: id × y, less the offset, plus the window offset.
        Array.from({ length: size }, (_, y) => id * y - idy + 1),
      ),
    };
    if (samplingCache.size >= 1024) samplingCache.clear();
    samplingCache.set(key, taps);
  }
  return taps;
}

const samplingCache = new Map<string, { columns: AxisTaps; rows: AxisTaps }>();

/**
 * RGB (or grey: `bands` 1 to 3) bytes of `width`×`height`, both at most `size`, enlarged to `size`×`size` exactly
 * as sharp's fill resize with libvips' enlargement does.
 */
export function enlargeBicubic(pixels: Uint8Array, width: number, height: number, bands: number, size: number): Uint8Array {
  if (width > size || height > size || bands < 1 || bands > 3 || pixels.length !== width * height * bands) {
    throw new RangeError(`enlargeBicubic: ${width}x${height}x${bands} (${pixels.length} bytes) does not enlarge to ${size}x${size}`);
  }
  // sharp does not resize an image already of the target size (libvips 8.18 would shift it by half a pixel).
  if (width === size && height === size) return pixels;
  if (!enlarger) throw new Error('enlargeBicubic: this CPU cannot run WebAssembly SIMD (see enlargementAvailable)');
  const taps = sampling(width, height, size);
  const layout = layoutFor(width, height, bands, size);
  // Growing keeps the memory's contents, the taps already copied included.
  if (enlarger.memory.buffer.byteLength < layout.bytes) {
    enlarger.memory.grow(Math.ceil((layout.bytes - enlarger.memory.buffer.byteLength) / wasmPageBytes));
  }
  const memory = enlarger.memory.buffer;
  if (tapsInMemory !== taps) {
    const { columns, rows } = taps;
    [columns.sources, columns.weights, rows.sources, rows.weights].forEach((table, i) => {
      new Int32Array(memory, layout.taps + i * layout.tapTableBytes, size * 4).set(table);
    });
    tapsInMemory = taps;
  }
  new Uint8Array(memory, layout.source, pixels.length).set(pixels);
  enlarger.enlarge(layout.source, width, height, bands, size, layout.taps, layout.sums, layout.output);
  return new Uint8Array(memory, layout.output, size * size * bands).slice();
}

interface Enlarger {
  memory: WebAssembly.Memory;
  enlarge(source: number, width: number, height: number, bands: number, size: number, taps: number, sums: number, output: number): void;
}

/**
 * The two passes run in WebAssembly SIMD (bicubic-enlarge.wat): 0.13 ms of CPU for a 100×100 image, against 0.82 ms
 * in JavaScript. One instance per thread; the enlargement is synchronous, so its memory is reused from call to call.
 * Undefined on a CPU without what WebAssembly SIMD needs (SSE4.1 on x86-64; every Lambda CPU has it): V8 then
 * refuses the module, and sharp enlarges as it did before (`enlargementAvailable`).
 */
const enlarger = ((): Enlarger | undefined => {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bicubicEnlargeWasm)).exports as unknown as Enlarger;
  } catch (error) {
    if (error instanceof WebAssembly.CompileError) return undefined;
    throw error;
  }
})();

/** Whether `enlargeBicubic` can run here (see `enlarger`). */
export const enlargementAvailable = enlarger !== undefined;
const wasmPageBytes = 65_536;
/** The taps last copied into the instance's memory: a stream of same-sized images copies them once. */
let tapsInMemory: { columns: AxisTaps; rows: AxisTaps } | undefined;

/**
 * Where each buffer lies in the instance's memory (byte offsets, 16-aligned), with the padding its passes read and
 * write past it: the taps (four tables of four Int32 per output pixel: columns' sources and weights, then rows'),
 * the source pixels (8 bytes read past), the rows' sums (`size` × `bands` + 4 Int16 per source row; 32 bytes read
 * past) and the output (16 bytes written past).
 */
function layoutFor(width: number, height: number, bands: number, size: number) {
  const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
  const tapTableBytes = size * 4 * Int32Array.BYTES_PER_ELEMENT;
  const taps = 0;
  const source = taps + align(4 * tapTableBytes);
  const sums = source + align(width * height * bands + 8);
  const output = sums + align(height * (size * bands + 4) * 2 + 32);
  return { taps, tapTableBytes, source, sums, output, bytes: output + align(size * size * bands + 16) };
}

/** vips_affine_gen's positions along a row: computed at the row's start, then stepped by the inverse scale. */
function* rowPositions(ia: number, idx: number, size: number): Generator<number> {
  // The row's start as libvips computes it for a region starting at column 0: ia × 0 + ib × y, ib being -0.
  let position = ia * 0 + -0;
  position -= idx;
  position += 1;
  for (let x = 0; x < size; x++) {
    yield position;
    position += ia;
  }
}
