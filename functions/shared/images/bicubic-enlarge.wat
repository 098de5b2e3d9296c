;; The two passes of bicubic-enlarge.ts in WebAssembly SIMD (npm run build:wasm embeds this in bicubic-enlarge-wasm.ts).
;; The caller lays out every buffer in this memory, with the padding each pass reads and writes past its data.
(module
  (memory (export "memory") 1)

  ;; Pass 1: each source row sampled at every output column, into rows of `size` × `bands` Int16 sums, `stride`
  ;; (size × bands + 4) values apart. A pixel's bands (at most 4) share one vector: its four taps' 8-byte loads
  ;; (read up to 8 bytes past the source), multiplied by the column's coefficients, summed, rounded to nearest and
  ;; shifted as libvips' bicubic_unsigned_int does. The fourth lane is junk, written over by the next pixel, or
  ;; into the row's spare 4 values after its last pixel. Column by column, so a column's taps stay in registers.
  (func $rows (param $src i32) (param $width i32) (param $height i32) (param $bands i32) (param $size i32)
              (param $columnSources i32) (param $columnWeights i32) (param $sums i32) (param $stride i32)
    (local $x i32) (local $y i32) (local $pixelBytes i32) (local $strideBytes i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $row i32) (local $target i32) (local $sum v128) (local $half v128)
    (local.set $pixelBytes (i32.mul (local.get $width) (local.get $bands)))
    (local.set $strideBytes (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $half (i32x4.splat (i32.const 2048)))
    (local.set $x (i32.const 0))
    (loop $columns
      (local.set $o0 (i32.mul (i32.load offset=0 (local.get $columnSources)) (local.get $bands)))
      (local.set $o1 (i32.mul (i32.load offset=4 (local.get $columnSources)) (local.get $bands)))
      (local.set $o2 (i32.mul (i32.load offset=8 (local.get $columnSources)) (local.get $bands)))
      (local.set $o3 (i32.mul (i32.load offset=12 (local.get $columnSources)) (local.get $bands)))
      (local.set $w0 (i16x8.splat (i32.load offset=0 (local.get $columnWeights))))
      (local.set $w1 (i16x8.splat (i32.load offset=4 (local.get $columnWeights))))
      (local.set $w2 (i16x8.splat (i32.load offset=8 (local.get $columnWeights))))
      (local.set $w3 (i16x8.splat (i32.load offset=12 (local.get $columnWeights))))
      (local.set $row (local.get $src))
      (local.set $target (i32.add (local.get $sums) (i32.shl (i32.mul (local.get $x) (local.get $bands)) (i32.const 1))))
      (local.set $y (i32.const 0))
      (loop $pixels
        (local.set $sum
          (i32x4.add
            (i32x4.add
              (i32x4.extmul_low_i16x8_s (v128.load8x8_u (i32.add (local.get $row) (local.get $o0))) (local.get $w0))
              (i32x4.extmul_low_i16x8_s (v128.load8x8_u (i32.add (local.get $row) (local.get $o1))) (local.get $w1)))
            (i32x4.add
              (i32x4.extmul_low_i16x8_s (v128.load8x8_u (i32.add (local.get $row) (local.get $o2))) (local.get $w2))
              (i32x4.extmul_low_i16x8_s (v128.load8x8_u (i32.add (local.get $row) (local.get $o3))) (local.get $w3)))))
        (local.set $sum (i32x4.shr_s (i32x4.add (local.get $sum) (local.get $half)) (i32.const 12)))
        (v128.store64_lane 0 (local.get $target) (i16x8.narrow_i32x4_s (local.get $sum) (local.get $sum)))
        (local.set $row (i32.add (local.get $row) (local.get $pixelBytes)))
        (local.set $target (i32.add (local.get $target) (local.get $strideBytes)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $pixels (i32.lt_u (local.get $y) (local.get $height))))
      (local.set $columnSources (i32.add (local.get $columnSources) (i32.const 16)))
      (local.set $columnWeights (i32.add (local.get $columnWeights) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (br_if $columns (i32.lt_u (local.get $x) (local.get $size)))))

  ;; Eight output values of pass 2 from four rows of sums at byte offset $i: as libvips rounds a column's sum.
  (func $column8 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
                 (param $w0 v128) (param $w1 v128) (param $w2 v128) (param $w3 v128) (result v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $half v128)
    (local.set $a (v128.load (local.get $p0)))
    (local.set $b (v128.load (local.get $p1)))
    (local.set $c (v128.load (local.get $p2)))
    (local.set $d (v128.load (local.get $p3)))
    (local.set $half (i32x4.splat (i32.const 2048)))
    (i16x8.narrow_i32x4_s
      (i32x4.shr_s
        (i32x4.add
          (i32x4.add
            (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $a) (local.get $w0)) (i32x4.extmul_low_i16x8_s (local.get $b) (local.get $w1)))
            (i32x4.add (i32x4.extmul_low_i16x8_s (local.get $c) (local.get $w2)) (i32x4.extmul_low_i16x8_s (local.get $d) (local.get $w3))))
          (local.get $half))
        (i32.const 12))
      (i32x4.shr_s
        (i32x4.add
          (i32x4.add
            (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $a) (local.get $w0)) (i32x4.extmul_high_i16x8_s (local.get $b) (local.get $w1)))
            (i32x4.add (i32x4.extmul_high_i16x8_s (local.get $c) (local.get $w2)) (i32x4.extmul_high_i16x8_s (local.get $d) (local.get $w3))))
          (local.get $half))
        (i32.const 12))))

  ;; Pass 2: the rows' sums combined down each column, 16 values at a time, clipped to a byte by the unsigned
  ;; narrowing (VIPS_CLIP). A row's last 16 may run past it (reading up to 32 bytes past its sums, writing up to
  ;; 15 bytes into the next row, which is written after it, or into the output's padding).
  (func $columns (param $sums i32) (param $stride i32) (param $rowLength i32) (param $size i32)
                 (param $rowSources i32) (param $rowWeights i32) (param $out i32)
    (local $y i32) (local $i i32) (local $end i32) (local $strideBytes i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local.set $strideBytes (i32.shl (local.get $stride) (i32.const 1)))
    (local.set $end (i32.shl (local.get $rowLength) (i32.const 1)))
    (local.set $y (i32.const 0))
    (loop $rows
      (local.set $p0 (i32.add (local.get $sums) (i32.mul (i32.load offset=0 (local.get $rowSources)) (local.get $strideBytes))))
      (local.set $p1 (i32.add (local.get $sums) (i32.mul (i32.load offset=4 (local.get $rowSources)) (local.get $strideBytes))))
      (local.set $p2 (i32.add (local.get $sums) (i32.mul (i32.load offset=8 (local.get $rowSources)) (local.get $strideBytes))))
      (local.set $p3 (i32.add (local.get $sums) (i32.mul (i32.load offset=12 (local.get $rowSources)) (local.get $strideBytes))))
      (local.set $w0 (i16x8.splat (i32.load offset=0 (local.get $rowWeights))))
      (local.set $w1 (i16x8.splat (i32.load offset=4 (local.get $rowWeights))))
      (local.set $w2 (i16x8.splat (i32.load offset=8 (local.get $rowWeights))))
      (local.set $w3 (i16x8.splat (i32.load offset=12 (local.get $rowWeights))))
      (local.set $i (i32.const 0))
      (loop $values
        (v128.store
          (i32.add (local.get $out) (i32.shr_u (local.get $i) (i32.const 1)))
          (i8x16.narrow_i16x8_u
            (call $column8
              (i32.add (local.get $p0) (local.get $i)) (i32.add (local.get $p1) (local.get $i))
              (i32.add (local.get $p2) (local.get $i)) (i32.add (local.get $p3) (local.get $i))
              (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3))
            (call $column8
              (i32.add (local.get $p0) (i32.add (local.get $i) (i32.const 16))) (i32.add (local.get $p1) (i32.add (local.get $i) (i32.const 16)))
              (i32.add (local.get $p2) (i32.add (local.get $i) (i32.const 16))) (i32.add (local.get $p3) (i32.add (local.get $i) (i32.const 16)))
              (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $values (i32.lt_u (local.get $i) (local.get $end))))
      (local.set $out (i32.add (local.get $out) (local.get $rowLength)))
      (local.set $rowSources (i32.add (local.get $rowSources) (i32.const 16)))
      (local.set $rowWeights (i32.add (local.get $rowWeights) (i32.const 16)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $y) (local.get $size)))))

  ;; Both passes; every argument a byte offset in this memory but the sizes. See bicubic-enlarge.ts for the layout.
  (func (export "enlarge") (param $src i32) (param $width i32) (param $height i32) (param $bands i32) (param $size i32)
                           (param $taps i32) (param $sums i32) (param $out i32)
    (local $stride i32) (local $tapBytes i32)
    (local.set $stride (i32.add (i32.mul (local.get $size) (local.get $bands)) (i32.const 4)))
    (local.set $tapBytes (i32.shl (local.get $size) (i32.const 4)))
    (call $rows (local.get $src) (local.get $width) (local.get $height) (local.get $bands) (local.get $size)
                (local.get $taps) (i32.add (local.get $taps) (local.get $tapBytes)) (local.get $sums) (local.get $stride))
    (call $columns (local.get $sums) (local.get $stride) (i32.mul (local.get $size) (local.get $bands)) (local.get $size)
                   (i32.add (local.get $taps) (i32.shl (local.get $tapBytes) (i32.const 1)))
                   (i32.add (local.get $taps) (i32.mul (local.get $tapBytes) (i32.const 3)))
                   (local.get $out)))
)
