//! wasm32 simd128 micro-kernels: 4x8, 8 accumulators. The 4 weights of a k
//! are one `v128.load`, each broadcast by an `i32x4.shuffle`: V8 runs that
//! faster than 4 `v128.load32_splat`s per k. V8 on x86-64 gives wasm 15 xmm
//! registers: tiles with more accumulators (5x8, 6x8, 8x8, 4x12, 4x16) and
//! k unrolled by 2 or 4 make it spill, putting a reload on an accumulator's
//! dependency chain, and 8x4 with the same shuffles does the same FMAs per k
//! with no gain. The relaxed build multiplies and adds in one
//! `f32x4.relaxed_madd`, which V8 lowers to FMA on FMA hardware.
//!
//! Also wasm's own BN + ReLU packer and Winograd transforms: the generic
//! loops, compiled for wasm, left short loops and scalar shuffles that V8
//! runs far below what `v128`s do.

use super::qparams::{Q, ROUND};
use super::types::{Bn, Cols, Kernel, KernelKind, Strided, WinoChunk, WinoInput};
use core::arch::wasm32::*;

use super::baseline;

// The whole wasm build has simd128 (and relaxed-simd) enabled: the baseline
// helpers are already compiled with them.
pub const SIMD128: Kernel = Kernel {
    kind: KernelKind::Simd128,
    mr: 4,
    nr: 8,
    tile: tile_simd128,
    tail: Some(tail_simd128),
    bn_relu,
    wino_in,
    wino_out,
    stem_in: baseline::stem_in,
    stem_out: baseline::stem_out,
    q_bn_relu: baseline::q_bn_relu,
    q_requant: baseline::q_requant,
    q_requant8,
    q_quantize: baseline::q_quantize,
};
#[cfg(target_feature = "relaxed-simd")]
pub const RELAXED: Kernel =
    Kernel { kind: KernelKind::Simd128Relaxed, tile: tile_relaxed, tail: Some(tail_relaxed), ..SIMD128 };

/// `packing::pack_bn_relu` for full panels of 8 columns, two `v128`s per k:
/// the generic loop, compiled for wasm, does not vectorise as well.
unsafe fn bn_relu(src: &[f32], ld: usize, bn: Bn, cols: Cols, dst: &mut [f32]) {
    let (Bn { scale, shift }, Cols { n0, nc, nr }) = (bn, cols);
    let k = scale.len();
    if nc != 8 || nr != 8 || k == 0 {
        return baseline::bn_relu(src, ld, bn, cols, dst);
    }
    assert!(shift.len() == k && dst.len() >= k * 8 && src.len() >= (k - 1) * ld + n0 + 8);
    let zero = f32x4_splat(0.0);
    let (mut s, mut d) = (src.as_ptr().add(n0), dst.as_mut_ptr());
    for kk in 0..k {
        let sc = f32x4_splat(*scale.get_unchecked(kk));
        let sh = f32x4_splat(*shift.get_unchecked(kk));
        for v in 0..2 {
            let x = v128_load(s.add(4 * v) as *const v128);
            // pmax(0, y) = 0 < y ? y : 0: 0 for NaN, as `max(0.0)`.
            let y = f32x4_pmax(zero, f32x4_add(f32x4_mul(x, sc), sh));
            v128_store(d.add(4 * v) as *mut v128, y);
        }
        s = s.add(ld);
        d = d.add(8);
    }
}

/// `quant::requant_rows_u8`, 16 values at a time (`groups_of`): the
/// generic loop, compiled for wasm, takes 4 at a time and gathers their
/// bytes with a shuffle and a lane store. The same float ops, so the same
/// codes: the rounded value's bits less those of `ROUND` are
/// `round_even(x)` (the same exponent), plus the zero point; two saturating
/// narrows (kept apart by an opaque zero, see `int8::wasm::codes16`) pack
/// them.
unsafe fn q_requant8(acc: Strided<*const i32>, mults: &[f32], out: Q, n: usize, dst: Strided<*mut u8>) {
    if n < 16 {
        return baseline::q_requant8(acc, mults, out, n, dst);
    }
    let (lo, hi) = (-f32::from(out.zero), 255.0 - f32::from(out.zero));
    // In locals: V8 builds a `v128.const` anew at each use in a loop.
    let [lo, hi, round, bias, zero] = std::hint::black_box([
        f32x4_splat(lo),
        f32x4_splat(hi),
        f32x4_splat(ROUND),
        i32x4_splat(ROUND.to_bits() as i32 - i32::from(out.zero)),
        i32x4_splat(0),
    ]);
    for (r, &mult) in mults.iter().enumerate() {
        let m = f32x4_splat(mult);
        let code = |p: *const i32| {
            let x = f32x4_mul(f32x4_convert_i32x4(v128_load(p as *const v128)), m);
            i32x4_sub(f32x4_add(min(max(x, lo), hi), round), bias)
        };
        let (a, d) = (acc.ptr.add(r * acc.ld), dst.ptr.add(r * dst.ld));
        groups_of::<16>(n, |at| {
            let c: [v128; 4] = std::array::from_fn(|j| code(a.add(at + 4 * j)));
            let (x, y) = (i16x8_narrow_i32x4(c[0], c[1]), i16x8_narrow_i32x4(c[2], c[3]));
            v128_store(d.add(at) as *mut v128, u8x16_narrow_i16x8(i16x8_add(x, zero), i16x8_add(y, zero)));
        });
    }
}

/// The clamps of a value that is not NaN: one `maxps` / `minps` each in V8
/// (LLVM turns `pmax` into a compare and a select).
#[inline(always)]
pub(crate) fn max(a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_max(a, b);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_pmax(a, b)
}

#[inline(always)]
pub(crate) fn min(a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_min(a, b);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_pmin(a, b)
}

/// Room for one zero-padded input row of `wino_in`: it reads m t + 4 floats
/// of it (t tiles of m per row; t <= 17 for F(4x4)).
const ROW: usize = 72;

/// `winograd::input_rows`, V = B^T d B, 4 tiles at a time on `v128`s. Per
/// tile row, its m + 2 input rows are copied into zero-padded rows
/// (p[x + 1] = row[x]); B^T runs down them on whole vectors, then B across
/// the columns of 4 tiles that shuffles gather. The same float ops as the
/// generic loops, so bit for bit. Here because the generic loops, compiled
/// for wasm, run short per-row loops and split phases one float at a time.
unsafe fn wino_in(mid: WinoInput, ld: usize, chunk: &WinoChunk, v: *mut f32) {
    let WinoChunk { side, tile, .. } = *chunk;
    let t = side.div_ceil(tile);
    if t < 4 || tile * t + 4 > ROW {
        return baseline::wino_in(mid, ld, chunk, v);
    }
    match mid {
        WinoInput::Floats(x) => wino_in_of(x, ld, chunk, v, super::packing::copy),
        WinoInput::Codes(x, zero) => wino_in_of(x, ld, chunk, v, |d, s| codes_to_floats(d, s, zero)),
    }
}

/// `wino_in` of maps of `T`, whose rows `copy_row` writes as floats.
#[inline(always)]
unsafe fn wino_in_of<T>(mid: &[T], ld: usize, chunk: &WinoChunk, v: *mut f32, copy_row: impl Fn(&mut [f32], &[T])) {
    let WinoChunk { tile, p_stride, .. } = *chunk;
    let store = |out: *mut f32, point: usize, y: v128| v128_store(out.add(point * p_stride) as *mut v128, y);
    if tile == 2 {
        // Tile tx reads padded columns 2tx..2tx+3: for 4 tiles, their even
        // and odd columns are two shuffles of the first two vectors, and two
        // lane shifts bring in the third vector's first lanes.
        tile_rows::<4, T>((mid, ld, copy_row), chunk, v, |p, out, at| {
            let x: [[v128; 3]; 4] = std::array::from_fn(|k| std::array::from_fn(|j| load(&p[k], at + 4 * j)));
            for a in 0..4 {
                let col: [v128; 3] = std::array::from_fn(|j| {
                    let [x0, x1, x2, x3] = [x[0][j], x[1][j], x[2][j], x[3][j]];
                    match a {
                        0 => f32x4_sub(x0, x2),
                        1 => f32x4_add(x1, x2),
                        2 => f32x4_sub(x2, x1),
                        _ => f32x4_sub(x1, x3),
                    }
                });
                let e0 = i32x4_shuffle::<0, 2, 4, 6>(col[0], col[1]);
                let o0 = i32x4_shuffle::<1, 3, 5, 7>(col[0], col[1]);
                let e1 = i32x4_shuffle::<1, 2, 3, 4>(e0, col[2]);
                let o1 = i32x4_shuffle::<1, 2, 3, 5>(o0, col[2]);
                store(out, a * 4, f32x4_sub(e0, e1));
                store(out, a * 4 + 1, f32x4_add(o0, e1));
                store(out, a * 4 + 2, f32x4_sub(e1, o0));
                store(out, a * 4 + 3, f32x4_sub(o0, o1));
            }
        })
    } else {
        // Tile tx reads padded columns 4tx..4tx+5: B^T down the rows on 5
        // vectors, then for each of its 6 rows a 4x4 transpose gives 4
        // tiles' columns 0-3, and two lane shifts columns 4-5.
        tile_rows::<6, T>((mid, ld, copy_row), chunk, v, |p, out, at| {
            let mut u = [[f32x4_splat(0.0); 5]; 6];
            for j in 0..5 {
                let y = bt4(std::array::from_fn(|k| load(&p[k], at + 4 * j)));
                for (ua, ya) in u.iter_mut().zip(y) {
                    ua[j] = ya;
                }
            }
            for (a, [q0, q1, q2, q3, q4]) in u.into_iter().enumerate() {
                let (t0, t1) = (i32x4_shuffle::<0, 4, 1, 5>(q0, q1), i32x4_shuffle::<2, 6, 3, 7>(q0, q1));
                let (t2, t3) = (i32x4_shuffle::<0, 4, 1, 5>(q2, q3), i32x4_shuffle::<2, 6, 3, 7>(q2, q3));
                let c0 = i32x4_shuffle::<0, 1, 4, 5>(t0, t2);
                let c1 = i32x4_shuffle::<2, 3, 6, 7>(t0, t2);
                let c2 = i32x4_shuffle::<0, 1, 4, 5>(t1, t3);
                let c3 = i32x4_shuffle::<2, 3, 6, 7>(t1, t3);
                let c4 = i32x4_shuffle::<1, 2, 3, 4>(c0, q4);
                let c5 = i32x4_shuffle::<1, 2, 3, 5>(c1, q4);
                for (c, y) in bt4([c0, c1, c2, c3, c4, c5]).into_iter().enumerate() {
                    store(out, a * 6 + c, y);
                }
            }
        })
    }
}

#[inline(always)]
unsafe fn load(row: &[f32; ROW], at: usize) -> v128 {
    debug_assert!(at + 4 <= ROW);
    v128_load(row.as_ptr().add(at) as *const v128)
}

/// `winograd::bt4` on 4 lanes, in the same order of float ops.
#[inline(always)]
unsafe fn bt4(x: [v128; 6]) -> [v128; 6] {
    let k = |c: f32| f32x4_splat(c);
    let (a, b) = (f32x4_sub(x[4], f32x4_mul(k(4.0), x[2])), f32x4_sub(x[3], f32x4_mul(k(4.0), x[1])));
    let (c, d) = (f32x4_sub(x[4], x[2]), f32x4_mul(k(2.0), f32x4_sub(x[3], x[1])));
    [
        f32x4_add(f32x4_sub(f32x4_mul(k(4.0), x[0]), f32x4_mul(k(5.0), x[2])), x[4]),
        f32x4_add(a, b),
        f32x4_sub(a, b),
        f32x4_add(c, d),
        f32x4_sub(c, d),
        f32x4_add(f32x4_sub(f32x4_mul(k(4.0), x[1]), f32x4_mul(k(5.0), x[3])), x[5]),
    ]
}

/// For every channel and tile row of `winograd::input_rows`: copies the
/// tile row's N = m + 2 input rows into zero-padded rows p (p[k][x + 1] =
/// row[x]), then calls `group(p, out, at)` for each 4 tiles tx0..tx0+4, which
/// read p from column at = m tx0 and store point P's 4 values at
/// out + P * p_stride. The last group of a row overlaps the one before
/// (t >= 4), so every store is a whole vector inside the row.
#[inline(always)]
unsafe fn tile_rows<const N: usize, T>(
    (mid, ld, copy_row): (&[T], usize, impl Fn(&mut [f32], &[T])),
    chunk: &WinoChunk,
    v: *mut f32,
    mut group: impl FnMut(&[[f32; ROW]; N], *mut f32, usize),
) {
    let WinoChunk { side, tile, channels: cin, r0, r1, cols: ld_v, .. } = *chunk;
    let (t, hw) = (side.div_ceil(tile), side * side);
    assert!(N == tile + 2 && t >= 4 && tile * t + 4 <= ROW);
    // Columns past the row stay zero: only 1..=side is ever written.
    let mut p = [[0f32; ROW]; N];
    for ci in 0..cin {
        for rr in r0..r1 {
            let (img, ty) = (rr / t, rr % t);
            let plane = &mid[ci * ld + img * hw..][..hw];
            for (k, pk) in p.iter_mut().enumerate() {
                let y = (tile * ty + k) as isize - 1;
                let dst = &mut pk[1..=side];
                if y < 0 || y as usize >= side {
                    dst.fill(0.0);
                } else {
                    copy_row(dst, &plane[y as usize * side..][..side]);
                }
            }
            let out = v.add(ci * ld_v + (rr - r0) * t);
            groups_of::<4>(t, |tx0| group(&p, out.add(tx0), tile * tx0));
        }
    }
}

/// A row of codes as the floats `code - zero` (exact), 16 at a time
/// (`groups_of`).
#[inline(always)]
unsafe fn codes_to_floats(dst: &mut [f32], src: &[u8], zero: u8) {
    let n = src.len();
    assert_eq!(dst.len(), n);
    if n < 16 {
        let value = super::winograd::code_value(zero);
        return dst.iter_mut().zip(src).for_each(|(d, &c)| *d = value(c));
    }
    let z = i16x8_splat(i16::from(zero));
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    groups_of::<16>(n, |at| {
        let c = v128_load(s.add(at) as *const v128);
        let (lo, hi) = (i16x8_sub(u16x8_extend_low_u8x16(c), z), i16x8_sub(u16x8_extend_high_u8x16(c), z));
        for (j, w) in [
            i32x4_extend_low_i16x8(lo),
            i32x4_extend_high_i16x8(lo),
            i32x4_extend_low_i16x8(hi),
            i32x4_extend_high_i16x8(hi),
        ]
        .into_iter()
        .enumerate()
        {
            v128_store(d.add(at + 4 * j) as *mut v128, f32x4_convert_i32x4(w));
        }
    });
}

/// Calls `f(i0)` for groups i0..i0+N covering 0..n (n >= N): the last
/// group overlaps the one before, so every vector a group loads or stores
/// lies inside the row.
#[inline(always)]
fn groups_of<const N: usize>(n: usize, mut f: impl FnMut(usize)) {
    let mut i = 0;
    loop {
        let i0 = i.min(n - N);
        f(i0);
        if i0 + N >= n {
            break;
        }
        i += N;
    }
}

/// `pool::bn_relu_avgpool2` (a transition's BN, ReLU and 2x2 average pool
/// of one plane), 4 outputs at a time: the scalar loop, compiled for wasm,
/// was most of the transitions' time. The same float ops in the same order,
/// ((a + b) + c) + d, so bit for bit. False (nothing done) for planes under 8
/// columns.
pub(crate) unsafe fn bn_relu_avgpool2(src: &[f32], side: usize, s: f32, h: f32, dst: *mut f32) -> bool {
    let half = side / 2;
    if half < 4 {
        return false;
    }
    assert!(src.len() >= 2 * half * side);
    let (sc, sh, zero, quarter) = (f32x4_splat(s), f32x4_splat(h), f32x4_splat(0.0), f32x4_splat(0.25));
    // pmax(0, y): 0 for NaN, as `scalar::relu`.
    let f = |p: *const f32| f32x4_pmax(zero, f32x4_add(f32x4_mul(v128_load(p as *const v128), sc), sh));
    let even = |x: v128, y: v128| i32x4_shuffle::<0, 2, 4, 6>(x, y);
    let odd = |x: v128, y: v128| i32x4_shuffle::<1, 3, 5, 7>(x, y);
    for oy in 0..half {
        let (r0, r1) = (src.as_ptr().add(2 * oy * side), src.as_ptr().add((2 * oy + 1) * side));
        groups_of::<4>(half, |ox| {
            let (a0, a1) = (f(r0.add(2 * ox)), f(r0.add(2 * ox + 4)));
            let (b0, b1) = (f(r1.add(2 * ox)), f(r1.add(2 * ox + 4)));
            let v = f32x4_add(f32x4_add(f32x4_add(even(a0, a1), odd(a0, a1)), even(b0, b1)), odd(b0, b1));
            v128_store(dst.add(oy * half + ox) as *mut v128, f32x4_mul(v, quarter));
        });
    }
    true
}

/// `winograd::output_rows`, Y = A^T M A, 4 tiles at a time, where m divides
/// the side (DenseNet's 56, 28, 14; the generic loop does 7). A across then
/// A^T down give, for each of a tile's m output rows, one vector per output
/// column (lanes = tiles); interleaving those (a zip for m = 2, a 4x4
/// transpose for m = 4) gives 4 m contiguous floats of the output row. The
/// same float ops as the generic loops, so bit for bit.
unsafe fn wino_out(m: &[f32], chunk: &WinoChunk, dst: *mut f32, ld: usize) {
    let WinoChunk { side, tile, channels: cout, p_stride, r0, r1, cols: ld_m } = *chunk;
    let t = side / tile;
    if !side.is_multiple_of(tile) || t < 4 {
        return baseline::wino_out(m, chunk, dst, ld);
    }
    let points = (tile + 2) * (tile + 2);
    assert!(m.len() >= (points - 1) * p_stride + cout * ld_m && ld_m >= (r1 - r0) * t);
    for co in 0..cout {
        for rr in r0..r1 {
            let (img, ty) = (rr / t, rr % t);
            let mrow = m.as_ptr().add(co * ld_m + (rr - r0) * t);
            let plane = dst.add(co * ld + img * side * side + tile * ty * side);
            groups_of::<4>(t, |tx0| {
                let point = |p: usize| v128_load(mrow.add(p * p_stride + tx0) as *const v128);
                let store = |dy: usize, j: usize, y: v128| {
                    v128_store(plane.add(dy * side + tile * tx0 + 4 * j) as *mut v128, y)
                };
                if tile == 2 {
                    // s[a][dx] = (M A)[a][dx], then y[dy][dx] = (A^T s)[dy][dx];
                    // A^T = [1 1 1 0; 0 1 -1 -1].
                    let s: [[v128; 2]; 4] = std::array::from_fn(|a| {
                        let [m0, m1, m2, m3] = std::array::from_fn(|c| point(a * 4 + c));
                        [f32x4_add(f32x4_add(m0, m1), m2), f32x4_sub(f32x4_sub(m1, m2), m3)]
                    });
                    for dy in 0..2 {
                        let y: [v128; 2] = std::array::from_fn(|dx| {
                            if dy == 0 {
                                f32x4_add(f32x4_add(s[0][dx], s[1][dx]), s[2][dx])
                            } else {
                                f32x4_sub(f32x4_sub(s[1][dx], s[2][dx]), s[3][dx])
                            }
                        });
                        store(dy, 0, i32x4_shuffle::<0, 4, 1, 5>(y[0], y[1]));
                        store(dy, 1, i32x4_shuffle::<2, 6, 3, 7>(y[0], y[1]));
                    }
                } else {
                    let s: [[v128; 4]; 6] = std::array::from_fn(|a| at4(std::array::from_fn(|c| point(a * 6 + c))));
                    let y: [[v128; 4]; 4] = {
                        let mut y = [[f32x4_splat(0.0); 4]; 4];
                        for dx in 0..4 {
                            for (dy, r) in at4(std::array::from_fn(|a| s[a][dx])).into_iter().enumerate() {
                                y[dy][dx] = r;
                            }
                        }
                        y
                    };
                    for (dy, [q0, q1, q2, q3]) in y.into_iter().enumerate() {
                        let (t0, t1) = (i32x4_shuffle::<0, 4, 1, 5>(q0, q1), i32x4_shuffle::<2, 6, 3, 7>(q0, q1));
                        let (t2, t3) = (i32x4_shuffle::<0, 4, 1, 5>(q2, q3), i32x4_shuffle::<2, 6, 3, 7>(q2, q3));
                        store(dy, 0, i32x4_shuffle::<0, 1, 4, 5>(t0, t2));
                        store(dy, 1, i32x4_shuffle::<2, 3, 6, 7>(t0, t2));
                        store(dy, 2, i32x4_shuffle::<0, 1, 4, 5>(t1, t3));
                        store(dy, 3, i32x4_shuffle::<2, 3, 6, 7>(t1, t3));
                    }
                }
            });
        }
    }
}

/// `winograd::at4` on 4 lanes, in the same order of float ops.
#[inline(always)]
unsafe fn at4(x: [v128; 6]) -> [v128; 4] {
    let (s12, d12) = (f32x4_add(x[1], x[2]), f32x4_sub(x[1], x[2]));
    let (s34, d34) = (f32x4_add(x[3], x[4]), f32x4_sub(x[3], x[4]));
    let k = |c: f32| f32x4_splat(c);
    [
        f32x4_add(f32x4_add(x[0], s12), s34),
        f32x4_add(d12, f32x4_mul(k(2.0), d34)),
        f32x4_add(s12, f32x4_mul(k(4.0), s34)),
        f32x4_add(f32x4_add(d12, f32x4_mul(k(8.0), d34)), x[5]),
    ]
}

/// The 4 lanes of `w`, each broadcast to a whole `v128`.
#[inline(always)]
fn broadcast(w: v128) -> [v128; 4] {
    [
        i32x4_shuffle::<0, 0, 0, 0>(w, w),
        i32x4_shuffle::<1, 1, 1, 1>(w, w),
        i32x4_shuffle::<2, 2, 2, 2>(w, w),
        i32x4_shuffle::<3, 3, 3, 3>(w, w),
    ]
}

/// acc + x * b: one FMA with relaxed SIMD, else a multiply and an add.
#[inline(always)]
fn madd<const RELAXED: bool>(x: v128, b: v128, acc: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    if RELAXED {
        return f32x4_relaxed_madd(x, b, acc);
    }
    f32x4_add(acc, f32x4_mul(x, b))
}

/// Stores acc + bias (broadcast from `*bias`), with ReLU if asked, at `c`.
#[inline(always)]
unsafe fn store(acc: v128, bias: *const f32, relu: bool, c: *mut f32) {
    let mut y = f32x4_add(acc, v128_load32_splat(bias as *const u32));
    if relu {
        y = f32x4_pmax(y, f32x4_splat(0.0));
    }
    v128_store(c as *mut v128, y);
}

#[inline(always)]
unsafe fn tile_generic<const RELAXED: bool>(
    k: usize,
    a: *const f32,
    b: Strided<*const f32>,
    c: Strided<*mut f32>,
    bias: *const f32,
    relu: bool,
) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    const MR: usize = 4;
    let mut acc = [[f32x4_splat(0.0); 2]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..k {
        let b0 = v128_load(b as *const v128);
        let b1 = v128_load(b.add(4) as *const v128);
        for (r, x) in broadcast(v128_load(a as *const v128)).into_iter().enumerate() {
            acc[r][0] = madd::<RELAXED>(x, b0, acc[r][0]);
            acc[r][1] = madd::<RELAXED>(x, b1, acc[r][1]);
        }
        a = a.add(MR);
        b = b.add(ldb);
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, &y) in row.iter().enumerate() {
            store(y, bias.add(r), relu, c.add(r * ldc + v * 4));
        }
    }
}

/// The 8x4 tail tile: rows 0-3 from one packed A panel, 4-7 from the next
/// (k * 4 floats on), one `v128` of B per k. Also 8 accumulators: the same
/// FMAs per k as 4x8 (as the main tile, 8x4 is no faster than 4x8).
#[inline(always)]
unsafe fn tail_generic<const RELAXED: bool>(
    k: usize,
    a: *const f32,
    b: Strided<*const f32>,
    c: Strided<*mut f32>,
    bias: *const f32,
    relu: bool,
) {
    let (b, ldb, c, ldc) = (b.ptr, b.ld, c.ptr, c.ld);
    let mut acc = [f32x4_splat(0.0); 8];
    let (mut a0, mut a1, mut b) = (a, a.add(4 * k), b);
    for _ in 0..k {
        let bv = v128_load(b as *const v128);
        let [x0, x1, x2, x3] = broadcast(v128_load(a0 as *const v128));
        let [x4, x5, x6, x7] = broadcast(v128_load(a1 as *const v128));
        for (r, x) in [x0, x1, x2, x3, x4, x5, x6, x7].into_iter().enumerate() {
            acc[r] = madd::<RELAXED>(x, bv, acc[r]);
        }
        a0 = a0.add(4);
        a1 = a1.add(4);
        b = b.add(ldb);
    }
    for (r, &y) in acc.iter().enumerate() {
        store(y, bias.add(r), relu, c.add(r * ldc));
    }
}

/// The kernels as `TileFn`s: one per tile and build.
macro_rules! entry {
    ($name:ident, $generic:ident, $relaxed:literal) => {
        unsafe fn $name(
            k: usize,
            a: *const f32,
            b: Strided<*const f32>,
            c: Strided<*mut f32>,
            bias: *const f32,
            relu: bool,
        ) {
            $generic::<$relaxed>(k, a, b, c, bias, relu)
        }
    };
}
entry!(tile_simd128, tile_generic, false);
entry!(tail_simd128, tail_generic, false);
#[cfg(target_feature = "relaxed-simd")]
entry!(tile_relaxed, tile_generic, true);
#[cfg(target_feature = "relaxed-simd")]
entry!(tail_relaxed, tail_generic, true);
