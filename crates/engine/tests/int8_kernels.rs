//! The int8 GEMM kernel sets (crates/engine/src/int8) bit for bit against the
//! plain integer reference, on random data with the extremes (weights -64
//! and +64, rows holding both, activations 0 and 255, zero points 0, 128 and
//! 255), ragged M, K
//! and N, and C written inside a wider matrix; their packed layouts against
//! the documented formulas. Every set this machine has runs (the names are
//! printed: `cargo test -p densenet-edge-engine --test int8_kernels -- --nocapture`).

use densenet_edge_engine::int8::{
    gemm, gemm_panel, pack_b, pack_b_bn_relu_matches_rows, reference, AStore, BStore, Int8Kernel, Int8Kind, PackedA8,
    PackedB8, Strided, K_MAX, MAX_TILE,
};
use densenet_edge_engine::Error;

/// xorshift64*: deterministic data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 32) % n
    }

    /// Weights in -64..=64, some rows with more +64s than -64s, some the
    /// other way, some with both (an eighth of the values at the extremes).
    fn weights(&mut self, len: usize) -> Vec<i8> {
        let bias = self.below(3);
        (0..len)
            .map(|_| match (self.below(16), bias) {
                (0, 0) | (0..=1, 2) => -64,
                (1, 0) | (0..=1, 1) => 64,
                (2, _) => 63,
                _ => (self.below(129) as i32 - 64) as i8,
            })
            .collect()
    }

    /// Activations in 0..=255, an eighth of them at the extremes.
    fn activations(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| match self.below(16) {
                0 => 0,
                1 => 255,
                _ => self.below(256) as u8,
            })
            .collect()
    }
}

fn kernels() -> Vec<Int8Kernel> {
    Int8Kind::available().into_iter().map(|k| k.kernel().unwrap()).collect()
}

/// A scalar tile for any layout, reading the stored operands as the real
/// kernels do: the other targets' layouts (wasm relaxed with its column
/// terms, negated rows and fixups; wasm simd128's i16 pairs; NEON's X - 128)
/// checked here too, packing and driver included.
unsafe fn emulated<const MR: usize, const NR: usize, const KG: usize, const A_U7: bool, const B: u8>(
    groups: usize,
    a: *const u8,
    b: *const u8,
    c: Strided<*mut i32>,
    row_off: *const i32,
    col_off: *const i32,
    row_neg: *const i32,
) {
    let (c, ldc) = (c.ptr, c.ld);
    let bytes = if B == 2 { 2 } else { 1 };
    for r in 0..MR {
        for j in 0..NR {
            let mut acc = 0i32;
            for g in 0..groups {
                for t in 0..KG {
                    let av = *a.add((g * MR + r) * KG + t);
                    let av = if A_U7 { i32::from(av) } else { i32::from(av as i8) };
                    let at = b.add(((g * NR + j) * KG + t) * bytes);
                    let bv = match B {
                        0 => i32::from(*at),
                        1 => i32::from(*at as i8),
                        _ => i32::from(i16::from_le_bytes([*at, *at.add(1)])),
                    };
                    acc += av * bv;
                }
            }
            let v = if A_U7 {
                let s = acc + *col_off.add(j);
                if *row_neg.add(r) != 0 {
                    -s
                } else {
                    s
                }
            } else {
                acc
            };
            *c.add(r * ldc + j) = v + *row_off.add(r);
        }
    }
}

/// The sets this machine has, then the emulated layouts of the others.
fn kernels_and_layouts() -> Vec<Int8Kernel> {
    let base = Int8Kind::Portable.kernel().unwrap();
    let mut v = kernels();
    v.push(Int8Kernel {
        kind: Int8Kind::Simd128Relaxed,
        mr: 4,
        nr: 8,
        kg: 4,
        a_store: AStore::U7,
        b_store: BStore::I8,
        tile: emulated::<4, 8, 4, true, 1>,
        quads: None,
    });
    v.push(Int8Kernel {
        kind: Int8Kind::Simd128,
        mr: 4,
        nr: 8,
        kg: 2,
        a_store: AStore::I8,
        b_store: BStore::I16,
        tile: emulated::<4, 8, 2, false, 2>,
        quads: None,
    });
    v.push(Int8Kernel {
        kind: Int8Kind::NeonDot,
        mr: 8,
        nr: 8,
        kg: 4,
        b_store: BStore::I8,
        tile: emulated::<8, 8, 4, false, 1>,
        ..base
    });
    v.push(Int8Kernel {
        kind: Int8Kind::Avx512Vnni,
        mr: 8,
        nr: 32,
        kg: 4,
        b_store: BStore::U8,
        tile: emulated::<8, 32, 4, false, 0>,
        ..base
    });
    v
}

fn name(kern: &Int8Kernel, i: usize) -> String {
    if i < Int8Kind::available().len() {
        kern.kind.name().to_string()
    } else {
        format!("{}'s layout, emulated", kern.kind.name())
    }
}

/// Runs the set on one problem and compares with the reference, C written
/// with row stride ldc = n + 3 and a sentinel around it.
#[allow(clippy::too_many_arguments)]
fn check(kern: &Int8Kernel, w: &[i8], x: &[u8], m: usize, k: usize, n: usize, zx: u8, bias: Option<&[i32]>) {
    let want = reference(w, x, m, k, n, zx, bias);
    let a = PackedA8::new(kern, w, m, k).unwrap();
    let row_off = a.row_offsets(kern, zx, bias);
    let b = PackedB8::new(kern, x, k, n);
    let ldc = n + 3;
    let mut c = vec![i32::MIN + 7; m * ldc];
    gemm(kern, &a, &row_off, &b, &mut c, ldc);
    for i in 0..m {
        for j in 0..ldc {
            let got = c[i * ldc + j];
            if j >= n {
                assert_eq!(got, i32::MIN + 7, "{}: wrote past column {n} (row {i})", kern.kind.name());
                continue;
            }
            let r = want[i * n + j];
            assert!(i32::try_from(r).is_ok(), "the reference's C[{i}][{j}] = {r} does not fit in i32");
            assert_eq!(
                i64::from(got),
                r,
                "{}: C[{i}][{j}] of M={m} K={k} N={n} zx={zx} bias={}",
                kern.kind.name(),
                bias.is_some()
            );
        }
    }
}

/// conv1's input packed straight from a block's codes (BN, ReLU and the
/// quantizations on the way) gives the bytes of the two steps it fuses, on
/// every set this machine has; x86's sets have such a packer, NEON and
/// portable pack rows (wasm's: tests/engine/int8-wasm.test.mjs).
#[test]
fn packing_straight_from_the_codes_matches_the_rows() {
    for kern in kernels() {
        let name = kern.kind.name();
        let fused = pack_b_bn_relu_matches_rows(&kern).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: {}", if fused { "packs straight from the codes, the rows' bytes" } else { "packs rows" });
        let x86 = matches!(kern.kind, Int8Kind::Avx2 | Int8Kind::AvxVnni | Int8Kind::Avx512Bw | Int8Kind::Avx512Vnni);
        assert_eq!(fused, x86, "{name}");
    }
}

#[test]
fn every_set_matches_the_reference_on_ragged_shapes() {
    let names: Vec<_> = kernels_and_layouts().iter().enumerate().map(|(i, k)| name(k, i)).collect();
    println!("int8 kernel sets run: {}", names.join(", "));
    // Tails of every tile: M and N around MR / NR (4, 8, 16, 32), K around
    // the group sizes (1, 2, 4), DenseNet's shapes.
    let shapes = [
        (1, 1, 1),
        (1, 3, 2),
        (3, 5, 7),
        (4, 4, 16),
        (5, 6, 17),
        (8, 8, 8),
        (8, 32, 32),
        (9, 33, 33),
        (7, 7, 31),
        (12, 2, 40),
        (13, 67, 41),
        (16, 129, 64),
        (17, 130, 100),
        (24, 31, 65),
        (33, 9, 3),
        (32, 1152, 49),
        (128, 64, 49),
        (128, 160, 56),
        (130, 257, 35),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for kern in kernels_and_layouts() {
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            let w = rng.weights(m * k);
            let x = rng.activations(k * n);
            let bias: Vec<i32> = (0..m).map(|_| rng.below(1 << 20) as i32 - (1 << 19)).collect();
            let zx = [0u8, 128, 255, rng.below(256) as u8][i % 4];
            check(&kern, &w, &x, m, k, n, zx, if i % 3 == 0 { None } else { Some(&bias) });
        }
    }
}

#[test]
fn extremes_do_not_saturate() {
    // Every pair at the largest |u8 x s8| (255 x -64: vpmaddubsw's i16 pair
    // sum -32640), at 63, and the relaxed build's stored operands at their
    // ends (X - 128 = -128 or 127, W + 64 = 0 or 127), for every zero point
    // that matters, over a K long enough that i16 accumulation would show.
    let (m, k, n) = (9, 1003, 35);
    for kern in kernels_and_layouts() {
        for (wv, xv) in [(-64i8, 255u8), (64, 255), (63, 255), (-64, 0), (64, 0), (-64, 128), (64, 127)] {
            for zx in [0u8, 1, 127, 128, 255] {
                let w = vec![wv; m * k];
                let x = vec![xv; k * n];
                check(&kern, &w, &x, m, k, n, zx, None);
            }
        }
        // Mixed signs within one group of 4 (pair sums of opposite products),
        // rows with both -64 and +64 (the relaxed sets' fixups), in either
        // majority.
        let x: Vec<u8> = (0..k * n).map(|i| if i % 5 < 2 { 0 } else { 255 }).collect();
        for pattern in [[63i8, -64, -64], [64, -64, -64], [64, 64, -64], [64, -64, 0]] {
            let w: Vec<i8> = (0..m * k).map(|i| pattern[(i + i / k) % 3]).collect();
            for zx in [0u8, 255] {
                check(&kern, &w, &x, m, k, n, zx, None);
            }
        }
    }
}

#[test]
fn the_longest_k_stays_exact() {
    // K_MAX products of 255 x -64: the accumulator's largest magnitude.
    let kind = Int8Kind::best();
    let kern = kind.kernel().unwrap();
    let (m, k, n) = (kern.mr, K_MAX, kern.nr);
    let w = vec![-64i8; m * k];
    let x = vec![255u8; k * n];
    check(&kern, &w, &x, m, k, n, 0, None);
    if kind != Int8Kind::Portable {
        check(&Int8Kind::Portable.kernel().unwrap(), &w, &x, m, k, n, 0, None);
    }
    assert!(PackedA8::new(&kern, &vec![0; m * (K_MAX + 1)], m, K_MAX + 1).is_err());
}

#[test]
fn panels_written_one_at_a_time_match_the_whole_gemm() {
    // gemm_panel as a thread would call it: its own packed panel in a
    // scratch buffer, its own columns of C.
    let (m, k, n) = (37, 203, 77);
    let mut rng = Rng(7);
    let w = rng.weights(m * k);
    let x = rng.activations(k * n);
    let want = reference(&w, &x, m, k, n, 3, None);
    for kern in kernels_and_layouts() {
        let a = PackedA8::new(&kern, &w, m, k).unwrap();
        let row_off = a.row_offsets(&kern, 3, None);
        let mut panel = vec![0xa5u8; kern.b_panel_bytes(k)];
        let mut col_off = vec![0x5a5a; kern.nr];
        let mut c = vec![0i32; m * n];
        for p in (0..n.div_ceil(kern.nr)).rev() {
            let n0 = p * kern.nr;
            let nc = kern.nr.min(n - n0);
            pack_b(&kern, &x, n, k, n0..n0 + nc, &mut panel, &mut col_off);
            unsafe {
                gemm_panel(
                    &kern,
                    &a,
                    &row_off,
                    panel.as_ptr(),
                    col_off.as_ptr(),
                    nc,
                    Strided { ptr: c.as_mut_ptr().add(n0), ld: n },
                )
            };
        }
        let got: Vec<i64> = c.iter().map(|&v| i64::from(v)).collect();
        assert_eq!(got, want, "{}", kern.kind.name());
    }
}

#[test]
fn packed_layouts_follow_the_documented_formulas() {
    let (m, k, n) = (11, 13, 37);
    let mut rng = Rng(11);
    let w = rng.weights(m * k);
    let x = rng.activations(k * n);
    for kern in kernels_and_layouts() {
        let (mr, nr, kg) = (kern.mr, kern.nr, kern.kg);
        assert!(mr * nr <= MAX_TILE);
        let groups = k.div_ceil(kg);
        let a = PackedA8::new(&kern, &w, m, k).unwrap();
        assert_eq!(a.panel, groups * kg * mr);
        assert_eq!(a.data.len(), m.div_ceil(mr) * a.panel);
        let a_shift = match kern.a_store {
            AStore::I8 => 0,
            AStore::U7 => 64,
        };
        assert_eq!(kern.a_shift(), a_shift);
        let mut fixups = Vec::new();
        for row in 0..m.div_ceil(mr) * mr {
            let (p, r) = (row / mr, row % mr);
            // U7: a row with more +64s than -64s is stored negated; +64 left
            // after that is stored as 63 and listed.
            let count = |x: i8| if row < m { w[row * k..(row + 1) * k].iter().filter(|&&v| v == x).count() } else { 0 };
            let neg = a_shift != 0 && count(64) > count(-64);
            assert_eq!(a.row_neg[row], if neg { -1 } else { 0 }, "{}: row {row}'s sign", kern.kind.name());
            for kk in 0..groups * kg {
                let mut v = if row < m && kk < k { i32::from(w[row * k + kk]) } else { 0 };
                if neg {
                    v = -v;
                }
                if a_shift != 0 && v == 64 {
                    fixups.push((row as u32, kk as u32));
                    v = 63;
                }
                let stored = a.data[p * a.panel + (kk / kg * mr + r) * kg + kk % kg];
                let stored = match kern.a_store {
                    AStore::I8 => i32::from(stored as i8),
                    AStore::U7 => i32::from(stored),
                };
                assert_eq!(stored, v + a_shift, "{}: A row {row} k {kk}", kern.kind.name());
            }
            let sum: i32 = if row < m { w[row * k..(row + 1) * k].iter().map(|&v| i32::from(v)).sum() } else { 0 };
            assert_eq!(a.row_sums[row], sum);
        }
        assert_eq!(a.fixups, fixups, "{}", kern.kind.name());
        let b = PackedB8::new(&kern, &x, k, n);
        assert_eq!(b.panel, groups * kg * nr * kern.b_bytes());
        for p in 0..n.div_ceil(nr) {
            for j in 0..nr {
                let col = p * nr + j;
                let mut sum = 0i32;
                for kk in 0..groups * kg {
                    let at = p * b.panel + ((kk / kg * nr + j) * kg + kk % kg) * kern.b_bytes();
                    let (stored, want) = match kern.b_store {
                        BStore::U8 => (i32::from(b.data[at]), None),
                        BStore::I8 => (i32::from(b.data[at] as i8), Some(128)),
                        BStore::I16 => (i32::from(i16::from_le_bytes([b.data[at], b.data[at + 1]])), None),
                    };
                    let real = col < n && kk < k;
                    let expect = if real { i32::from(x[kk * n + col]) - want.unwrap_or(0) } else { 0 };
                    assert_eq!(stored, expect, "{}: B panel {p} column {j} k {kk}", kern.kind.name());
                    sum += stored;
                }
                let col_off = b.col_off[p * nr + j];
                if col < n {
                    assert_eq!(col_off, -a_shift * sum, "{}: column term {col}", kern.kind.name());
                }
            }
        }
        // The row offsets: bias - (zx - b_shift) * rowsum, zero past M without bias.
        let bias: Vec<i32> = (0..m as i32).map(|i| i * 1000 - 5000).collect();
        let off = a.row_offsets(&kern, 200, Some(&bias));
        for row in 0..m {
            assert_eq!(off[row], bias[row] - (200 - kern.b_shift()) * a.row_sums[row]);
        }
        assert!(off[m..].iter().all(|&v| v == 0));
    }
}

#[test]
fn weights_outside_seven_bits_are_refused() {
    for kern in kernels() {
        for bad in [-65i8, 65, -128, 127] {
            let mut w = vec![0i8; 6 * 5];
            w[17] = bad;
            match PackedA8::new(&kern, &w, 6, 5) {
                Err(Error::ModelInvalid(msg)) => assert!(msg.contains("row 3, column 2"), "{msg}"),
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("{}: weight {bad} accepted", kern.kind.name()),
            }
        }
    }
}

#[test]
fn sets_can_be_forced_where_the_machine_has_them() {
    let have = Int8Kind::available();
    assert_eq!(*have.last().unwrap(), Int8Kind::Portable);
    assert_eq!(Int8Kind::best(), have[0]);
    for kind in Int8Kind::ALL {
        match kind.kernel() {
            Some(k) => {
                assert!(have.contains(&kind));
                assert_eq!(k.kind, kind);
                assert_eq!(Int8Kind::from_name(kind.name()), Some(kind));
                // Its f32 counterpart exists on the same machine.
                assert!(kind.f32_kind().kernel().is_some(), "{}", kind.name());
            }
            None => assert!(!have.contains(&kind)),
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let vnni = std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512bw");
        assert_eq!(have.contains(&Int8Kind::Avx512Vnni), vnni);
        assert_eq!(have.contains(&Int8Kind::Avx2), std::arch::is_x86_feature_detected!("avx2"));
    }
}
