//! Upsampling (jdsample.c, fancy upsampling as libjpeg-turbo does by
//! default) and colour conversion (jdcolor.c), then what PIL's
//! `convert("RGB")` does to L and to its inverted Adobe CMYK.

use super::markers::Component;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Upsample {
    Full,
    /// Triangle filter across, for 2:1 horizontal (4:2:2).
    H2V1,
    /// Triangle filter down, for 1:2 vertical (4:4:0).
    H1V2,
    /// Triangle filter both ways, for 2:1 both (4:2:0).
    H2V2,
    /// Pixel replication by integral factors (also 2:1 on planes 2 samples wide or less).
    Replicate {
        hr: usize,
        vr: usize,
    },
}

impl Upsample {
    /// libjpeg-turbo's jinit_upsampler choice for a component.
    pub(super) fn choose(c: &Component, max_h: usize, max_v: usize) -> Upsample {
        let (hr, vr) = (max_h / c.h, max_v / c.v);
        match (hr, vr) {
            (1, 1) => Upsample::Full,
            (2, 1) if c.ds_w > 2 => Upsample::H2V1,
            (1, 2) => Upsample::H1V2,
            (2, 2) if c.ds_w > 2 => Upsample::H2V2,
            _ => Upsample::Replicate { hr, vr },
        }
    }

    /// Plane rows needed for output row `y`: (nearest, other) where the
    /// other is the neighbour a vertical triangle filter blends in, clamped
    /// to the plane (libjpeg replicates the edge rows).
    pub(super) fn rows_for(self, y: usize, ds_h: usize) -> (usize, usize) {
        match self {
            Upsample::Full | Upsample::H2V1 => (y, y),
            Upsample::Replicate { vr, .. } => (y / vr, y / vr),
            Upsample::H1V2 | Upsample::H2V2 => {
                let i = y / 2;
                let other = if y.is_multiple_of(2) { i.saturating_sub(1) } else { (i + 1).min(ds_h - 1) };
                (i, other)
            }
        }
    }

    /// Writes the `out.len()` samples of one output row.
    pub(super) fn row(self, near: &[u8], far: &[u8], ds_w: usize, y: usize, out: &mut [u8]) {
        let w = out.len();
        match self {
            Upsample::Full => out.copy_from_slice(&near[..w]),
            Upsample::Replicate { hr, .. } => {
                for (x, o) in out.iter_mut().enumerate() {
                    *o = near[x / hr];
                }
            }
            Upsample::H1V2 => {
                let bias = if y.is_multiple_of(2) { 1 } else { 2 };
                for x in 0..w {
                    out[x] = ((near[x] as u32 * 3 + far[x] as u32 + bias) >> 2) as u8;
                }
            }
            Upsample::H2V1 => {
                let inp = &near[..ds_w];
                let mut put = |x: usize, v: u32| {
                    if x < w {
                        out[x] = v as u8;
                    }
                };
                put(0, inp[0] as u32);
                put(1, (inp[0] as u32 * 3 + inp[1] as u32 + 2) >> 2);
                for i in 1..ds_w - 1 {
                    let v = inp[i] as u32 * 3;
                    put(2 * i, (v + inp[i - 1] as u32 + 1) >> 2);
                    put(2 * i + 1, (v + inp[i + 1] as u32 + 2) >> 2);
                }
                let l = ds_w - 1;
                put(2 * l, (inp[l] as u32 * 3 + inp[l - 1] as u32 + 1) >> 2);
                put(2 * l + 1, inp[l] as u32);
            }
            Upsample::H2V2 => {
                let cs = |i: usize| near[i] as u32 * 3 + far[i] as u32;
                let l = ds_w - 1;
                // Interior pairs: 2 * (ds_w - 2) + 1 < w always holds.
                let inner = &mut out[2..2 * l];
                for (i, pair) in inner.chunks_exact_mut(2).enumerate() {
                    let (last, this, next) = (cs(i), cs(i + 1), cs(i + 2));
                    pair[0] = ((this * 3 + last + 8) >> 4) as u8;
                    pair[1] = ((this * 3 + next + 7) >> 4) as u8;
                }
                let (c0, c1) = (cs(0), cs(1));
                out[0] = ((c0 * 4 + 8) >> 4) as u8;
                out[1] = ((c0 * 3 + c1 + 7) >> 4) as u8;
                let (this, last) = (cs(l), cs(l - 1));
                out[2 * l] = ((this * 3 + last + 8) >> 4) as u8;
                if 2 * l + 1 < w {
                    out[2 * l + 1] = ((this * 4 + 7) >> 4) as u8;
                }
            }
        }
    }
}

/// The colour space of the decoded components (libjpeg's jpeg_color_space).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum ColorSpace {
    Gray,
    YCbCr,
    Rgb,
    Cmyk,
    Ycck,
}

const ONE_HALF: i32 = 1 << 15;
/// FIX(x) = (x * 65536 + 0.5) as jdcolor.c rounds them.
const FIX_1_402: i32 = 91881;
const FIX_1_772: i32 = 116130;
const FIX_0_714: i32 = 46802;
const FIX_0_344: i32 = 22554;

/// jdcolor.c's fixed-point YCbCr tables (16 fractional bits).
pub(super) struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl YccTables {
    pub(super) fn new() -> Box<YccTables> {
        debug_assert_eq!((1.40200f64 * 65536.0 + 0.5) as i32, FIX_1_402);
        debug_assert_eq!((1.77200f64 * 65536.0 + 0.5) as i32, FIX_1_772);
        debug_assert_eq!((0.71414f64 * 65536.0 + 0.5) as i32, FIX_0_714);
        debug_assert_eq!((0.34414f64 * 65536.0 + 0.5) as i32, FIX_0_344);
        const ONE_HALF: i64 = 1 << 15;
        let fix = |x: f64| (x * 65536.0 + 0.5) as i64;
        let mut t = Box::new(YccTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] });
        for i in 0..256 {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> 16) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> 16) as i32;
            t.cr_g[i] = (-fix(0.71414) * x) as i32;
            t.cb_g[i] = (-fix(0.34414) * x + ONE_HALF) as i32;
        }
        t
    }

    #[inline(always)]
    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [i32; 3] {
        let y = y as i32;
        let (cb, cr) = (cb as usize, cr as usize);
        [y + self.cr_r[cr], y + ((self.cb_g[cb] + self.cr_g[cr]) >> 16), y + self.cb_b[cb]]
    }
}

#[inline(always)]
fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// PIL's `MULDIV255`: a * b / 255, rounded.
#[inline(always)]
fn muldiv255(a: i32, b: i32) -> i32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

/// Converts one row of upsampled components to RGB as PIL sees it.
pub(super) fn to_rgb(space: ColorSpace, t: &YccTables, comps: &[Vec<u8>], out: &mut [u8]) {
    let w = out.len() / 3;
    match space {
        ColorSpace::Gray => {
            for (px, &g) in out.chunks_exact_mut(3).zip(&comps[0][..w]) {
                px.fill(g);
            }
        }
        ColorSpace::Rgb => {
            for (x, px) in out.chunks_exact_mut(3).enumerate() {
                px.copy_from_slice(&[comps[0][x], comps[1][x], comps[2][x]]);
            }
        }
        ColorSpace::YCbCr => {
            // The tables' entries computed inline (same integers), which
            // the compiler can vectorise.
            let (y, cb, cr) = (&comps[0][..w], &comps[1][..w], &comps[2][..w]);
            for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
                let (y, xb, xr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
                let r = y + ((FIX_1_402 * xr + ONE_HALF) >> 16);
                let g = y + ((-FIX_0_344 * xb + ONE_HALF - FIX_0_714 * xr) >> 16);
                let b = y + ((FIX_1_772 * xb + ONE_HALF) >> 16);
                px[0] = clamp(r);
                px[1] = clamp(g);
                px[2] = clamp(b);
            }
        }
        ColorSpace::Cmyk | ColorSpace::Ycck => {
            for (x, px) in out.chunks_exact_mut(3).enumerate() {
                let (c, m, yy) = if space == ColorSpace::Cmyk {
                    (comps[0][x], comps[1][x], comps[2][x])
                } else {
                    // ycck_cmyk_convert: CMY = 255 - RGB.
                    let [r, g, b] = t.rgb(comps[0][x], comps[1][x], comps[2][x]);
                    (clamp(255 - r), clamp(255 - g), clamp(255 - b))
                };
                let k = comps[3][x];
                // PIL reads 4-component JPEGs as "CMYK;I" (Adobe's inverted
                // convention), then cmyk2rgb: nk - c*nk/255.
                let (c, m, yy, k) = (255 - c as i32, 255 - m as i32, 255 - yy as i32, 255 - k as i32);
                let nk = 255 - k;
                px[0] = clamp(nk - muldiv255(c, nk));
                px[1] = clamp(nk - muldiv255(m, nk));
                px[2] = clamp(nk - muldiv255(yy, nk));
            }
        }
    }
}
