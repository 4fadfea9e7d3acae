//! libjpeg-turbo's accurate integer inverse DCT (jidctint.c,
//! jpeg_idct_islow): 13-bit constants, 2 extra bits between the passes.
//! Its SIMD versions saturate where the C code wraps through the range
//! table; both agree on real images and we clamp like the SIMD code.

const CONST_BITS: i32 = 13;
const PASS1_BITS: i32 = 2;
const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

#[inline(always)]
fn descale(x: i32, n: i32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 1-D pass on 8 values (even part from 0,2,4,6; odd from 1,3,5,7),
/// returning the 8 outputs before descaling, in output order.
#[inline(always)]
fn pass(d: [i32; 8]) -> [i32; 8] {
    let (z2, z3) = (d[2], d[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = d[0].wrapping_add(d[4]).wrapping_shl(CONST_BITS as u32);
    let tmp1 = d[0].wrapping_sub(d[4]).wrapping_shl(CONST_BITS as u32);
    let tmp10 = tmp0.wrapping_add(tmp3);
    let tmp13 = tmp0.wrapping_sub(tmp3);
    let tmp11 = tmp1.wrapping_add(tmp2);
    let tmp12 = tmp1.wrapping_sub(tmp2);

    let (t0, t1, t2, t3) = (d[7], d[5], d[3], d[1]);
    let z1 = t0.wrapping_add(t3);
    let z2 = t1.wrapping_add(t2);
    let z3 = t0.wrapping_add(t2);
    let z4 = t1.wrapping_add(t3);
    let z5 = z3.wrapping_add(z4).wrapping_mul(FIX_1_175875602);
    let t0 = t0.wrapping_mul(FIX_0_298631336);
    let t1 = t1.wrapping_mul(FIX_2_053119869);
    let t2 = t2.wrapping_mul(FIX_3_072711026);
    let t3 = t3.wrapping_mul(FIX_1_501321110);
    let z1 = z1.wrapping_mul(-FIX_0_899976223);
    let z2 = z2.wrapping_mul(-FIX_2_562915447);
    let z3 = z3.wrapping_mul(-FIX_1_961570560).wrapping_add(z5);
    let z4 = z4.wrapping_mul(-FIX_0_390180644).wrapping_add(z5);
    let t0 = t0.wrapping_add(z1).wrapping_add(z3);
    let t1 = t1.wrapping_add(z2).wrapping_add(z4);
    let t2 = t2.wrapping_add(z2).wrapping_add(z3);
    let t3 = t3.wrapping_add(z1).wrapping_add(z4);
    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Runs `pass` on 8 vectors at once: `d[k][lane]` is input k of each lane;
/// written lane-wise so that the compiler keeps the 8 lanes in SIMD registers.
#[inline(always)]
fn pass8(d: &[[i32; 8]; 8], shift: i32, out: &mut [[i32; 8]; 8]) {
    for l in 0..8 {
        let o = pass([d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l], d[6][l], d[7][l]]);
        for r in 0..8 {
            out[r][l] = descale(o[r], shift);
        }
    }
}

/// Dequantises `coef` (natural order) with `quant` and writes the 8x8
/// samples to `out` (row stride `stride`). libjpeg's shortcuts for columns
/// and rows without AC terms give the same values as the full computation
/// (the rounding terms vanish), so every block takes the full path here.
pub(super) fn idct_islow(coef: &[i16; 64], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut d = [[0i32; 8]; 8];
    for k in 0..8 {
        for l in 0..8 {
            d[k][l] = (coef[k * 8 + l] as i32).wrapping_mul(quant[k * 8 + l] as i32);
        }
    }
    // Columns: lanes are columns, inputs are vertical frequencies.
    let mut ws = [[0i32; 8]; 8];
    pass8(&d, CONST_BITS - PASS1_BITS, &mut ws);
    // Rows: transpose so that lanes are rows, inputs horizontal frequencies.
    let mut t = [[0i32; 8]; 8];
    for r in 0..8 {
        for k in 0..8 {
            t[k][r] = ws[r][k];
        }
    }
    let mut o = [[0i32; 8]; 8];
    pass8(&t, CONST_BITS + PASS1_BITS + 3, &mut o);
    // o[x][row]: sample at column x of `row`.
    for row in 0..8 {
        let dst = &mut out[row * stride..row * stride + 8];
        for x in 0..8 {
            dst[x] = (o[x][row] + 128).clamp(0, 255) as u8;
        }
    }
}

/// The IDCT of a block whose AC coefficients are all zero: both passes take
/// their zero shortcuts, so every sample is the same value.
pub(super) fn idct_flat(dc: i16, q0: u16, out: &mut [u8], stride: usize) {
    let v = (dc as i32).wrapping_mul(q0 as i32).wrapping_shl(PASS1_BITS as u32);
    let v = (descale(v, PASS1_BITS + 3) + 128).clamp(0, 255) as u8;
    for row in 0..8 {
        out[row * stride..row * stride + 8].fill(v);
    }
}
