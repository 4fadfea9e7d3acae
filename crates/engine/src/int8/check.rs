//! [`pack_b_bn_relu`] against the two steps it fuses (the f32 set's
//! `q_bn_relu` rows, then [`pack_b`]), byte for byte: run by
//! tests/int8_kernels.rs natively and, through the int8 kernels' wasm module
//! (examples/int8_kernels.rs), by tests/engine/int8-wasm.test.mjs in Node
//! and Chromium.

use super::{pack_b, pack_b_bn_relu, Int8Kernel};
use crate::kernels::qparams::Q;
use crate::kernels::quant::BnReluMaps;
use crate::kernels::{Bn, Cols};

/// Ok(true) where `kern` packs straight from the codes and every case
/// matched (panel bytes and column terms), Ok(false) where it has no such
/// packer (it must then say so for every case), Err naming the first case
/// that differs.
pub fn pack_b_bn_relu_matches_rows(kern: &Int8Kernel) -> Result<bool, String> {
    let rows_set = kern.kind.f32_kind().kernel().expect("an int8 set's f32 set is available");
    let nr = kern.nr;
    let mut seed = 0x2545_f491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut fused_sets = None;
    for k in [4, 8, 12, 64, 132] {
        let ld = 3 * nr + 5;
        let src: Vec<u8> = (0..k * ld).map(|_| next() as u8).collect();
        // Producers' steps and zero points; BN scales of both signs, 0 and
        // large; shifts that put some values under 0 and over 255.
        let codes: Vec<Q> = (0..k).map(|i| Q { scale: 0.01 + 0.003 * (i % 37) as f32, zero: next() as u8 }).collect();
        let scale: Vec<f32> =
            (0..k).map(|i| [0.7, -1.3, 0.0, 4.5, 0.05][i % 5] * (1.0 + (next() % 100) as f32 / 100.0)).collect();
        let shift: Vec<f32> = (0..k).map(|_| (next() % 400) as f32 / 100.0 - 2.0).collect();
        let bn = Bn { scale: &scale, shift: &shift };
        let (cat, relu) = (Q { scale: 0.05, zero: 131 }, Q { scale: 0.017, zero: 0 });
        let maps = BnReluMaps::new(bn, &codes, cat, relu).ok_or("maps refused")?;
        for n0 in [0, nr, 2 * nr + 5] {
            let mut rows = vec![0u8; k * nr];
            // SAFETY: the f32 set runs on this machine.
            unsafe { (rows_set.q_bn_relu)(&src, ld, bn, Cols { n0, nc: nr, nr }, (&codes, cat, relu), &mut rows) };
            let bytes = kern.b_panel_bytes(k);
            let (mut want, mut want_col) = (vec![0u8; bytes], vec![0i32; nr]);
            pack_b(kern, &rows, nr, k, 0..nr, &mut want, &mut want_col);
            let (mut got, mut got_col) = (vec![0xa5u8; bytes], vec![0x5a5a_5a5a; nr]);
            let fused = pack_b_bn_relu(kern, &src, (ld, k, n0), &maps, &mut got, &mut got_col);
            if *fused_sets.get_or_insert(fused) != fused {
                return Err(format!("k {k}, n0 {n0}: packed straight in some cases only"));
            }
            if !fused {
                continue;
            }
            if let Some(i) = (0..bytes).find(|&i| got[i] != want[i]) {
                return Err(format!("k {k}, n0 {n0}: panel byte {i} is {}, the rows give {}", got[i], want[i]));
            }
            if got_col != want_col {
                return Err(format!("k {k}, n0 {n0}: column terms {got_col:?}, the rows give {want_col:?}"));
            }
        }
    }
    // K not a multiple of the set's group: the rows' way.
    let odd = kern.kg + 1;
    let maps = BnReluMaps::new(
        Bn { scale: &vec![1.0; odd], shift: &vec![0.0; odd] },
        &vec![Q { scale: 0.1, zero: 0 }; odd],
        Q { scale: 0.1, zero: 0 },
        Q { scale: 0.1, zero: 0 },
    )
    .ok_or("maps refused")?;
    let src = vec![0u8; odd * nr];
    let (mut panel, mut col) = (vec![0u8; kern.b_panel_bytes(odd)], vec![0i32; nr]);
    if pack_b_bn_relu(kern, &src, (nr, odd, 0), &maps, &mut panel, &mut col) {
        return Err(format!("K = {odd} packed straight"));
    }
    Ok(fused_sets.unwrap_or(false))
}
