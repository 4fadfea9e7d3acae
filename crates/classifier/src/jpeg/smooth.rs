//! libjpeg-turbo's block smoothing (jdcoefct.c, decompress_smooth_data):
//! for a progressive image whose scans leave some of the first 9 AC
//! coefficients unrefined (e.g. a file cut short and closed with EOI),
//! libjpeg estimates those that are still zero from the DC values of the
//! 5x5 neighbouring blocks. PIL's pixels for such files depend on it.

/// Coefficients 0..=9 in zig-zag order are tracked (libjpeg's SAVED_COEFS).
pub(super) const SAVED: usize = 10;

/// Progression state, as jdphuff.c keeps it in `coef_bits`.
#[derive(Clone)]
pub(super) struct Progress {
    /// Per component, per zig-zag coefficient: the Al of its last scan, -1 if none.
    pub cur: Vec<[i32; 64]>,
    /// The same before the component's latest scan (libjpeg's second half of coef_bits).
    pub prev: Vec<[i32; 64]>,
    pub scans: usize,
    /// The last iMCU row whose MCU was fetched with data left (last_good_iMCU_row).
    pub last_good: usize,
}

impl Progress {
    pub(super) fn new(n: usize) -> Progress {
        Progress { cur: vec![[-1; 64]; n], prev: vec![[-1; 64]; n], scans: 0, last_good: 0 }
    }

    /// Start of a progressive scan over components `comps` (jdphuff.c start_pass).
    pub(super) fn start_scan(&mut self, comps: impl Iterator<Item = usize>, ss: usize, se: usize, al: u32) {
        self.scans += 1;
        for ci in comps {
            for k in ss.min(1)..=se.max(9) {
                self.prev[ci][k] = if self.scans > 1 { self.cur[ci][k] } else { 0 };
            }
            for k in ss..=se {
                self.cur[ci][k] = al as i32;
            }
        }
    }
}

/// Latched per-component bits and whether smoothing is on (smoothing_ok).
pub(super) struct Smoothing {
    pub cur: Vec<[i32; SAVED]>,
    pub prev: Vec<[i32; SAVED]>,
    pub last_good: usize,
}

/// Natural-order positions of zig-zag coefficients 1..=9.
const POS: [usize; 10] = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24];

pub(super) fn smoothing_ok(p: &Progress, quants: &[Option<[u16; 64]>]) -> Option<Smoothing> {
    let mut useful = false;
    let mut s = Smoothing { cur: Vec::new(), prev: Vec::new(), last_good: p.last_good };
    for (ci, q) in quants.iter().enumerate() {
        let q = q.as_ref()?;
        if POS.iter().any(|&i| q[i] == 0) || p.cur[ci][0] < 0 {
            return None;
        }
        let mut cur = [0i32; SAVED];
        let mut prev = [0i32; SAVED];
        cur[0] = p.cur[ci][0];
        for k in 1..SAVED {
            prev[k] = if p.scans > 1 { p.prev[ci][k] } else { -1 };
            cur[k] = p.cur[ci][k];
            useful |= cur[k] != 0;
        }
        s.cur.push(cur);
        s.prev.push(prev);
    }
    useful.then_some(s)
}

fn estimate(num: i64, q: i64, al: i32, limit: bool) -> i16 {
    let clip = |p: i64| if limit && al > 0 && p >= (1 << al) { (1 << al) - 1 } else { p };
    if num >= 0 {
        clip(((q << 7) + num) / (q << 8)) as i16
    } else {
        -clip(((q << 7) - num) / (q << 8)) as i16
    }
}

/// The block to transform in place of `blk`, given the DC values `dc[row][col]`
/// of the 5x5 neighbourhood (row 2, col 2 is the block itself).
pub(super) fn smooth_block(blk: &[i16], dc: &[[i32; 5]; 5], bits: &[i32; SAVED], q: &[u16; 64]) -> [i16; 64] {
    let mut w = [0i16; 64];
    w.copy_from_slice(&blk[..64]);
    let d = |n: usize| dc[(n - 1) / 5][(n - 1) % 5] as i64;
    let change_dc = bits[1..].iter().all(|&b| b == -1);
    let qv = |k: usize| q[POS[k]] as i64;
    let q00 = q[0] as i64;
    let mut apply = |k: usize, num: i64| {
        let al = bits[k];
        if al != 0 && w[POS[k]] == 0 {
            w[POS[k]] = estimate(q00 * num, qv(k), al, true);
        }
    };
    apply(
        1,
        if change_dc {
            -d(1) - d(2) + d(4) + d(5) - 3 * d(6) + 13 * d(7) - 13 * d(9) + 3 * d(10) - 3 * d(11) + 38 * d(12)
                - 38 * d(14)
                + 3 * d(15)
                - 3 * d(16)
                + 13 * d(17)
                - 13 * d(19)
                + 3 * d(20)
                - d(21)
                - d(22)
                + d(24)
                + d(25)
        } else {
            -7 * d(11) + 50 * d(12) - 50 * d(14) + 7 * d(15)
        },
    );
    apply(
        2,
        if change_dc {
            -d(1) - 3 * d(2) - 3 * d(3) - 3 * d(4) - d(5) - d(6) + 13 * d(7) + 38 * d(8) + 13 * d(9) - d(10) + d(16)
                - 13 * d(17)
                - 38 * d(18)
                - 13 * d(19)
                + d(20)
                + d(21)
                + 3 * d(22)
                + 3 * d(23)
                + 3 * d(24)
                + d(25)
        } else {
            -7 * d(3) + 50 * d(8) - 50 * d(18) + 7 * d(23)
        },
    );
    apply(
        3,
        if change_dc {
            d(3) + 2 * d(7) + 7 * d(8) + 2 * d(9) - 5 * d(12) - 14 * d(13) - 5 * d(14)
                + 2 * d(17)
                + 7 * d(18)
                + 2 * d(19)
                + d(23)
        } else {
            -d(3) + 13 * d(8) - 24 * d(13) + 13 * d(18) - d(23)
        },
    );
    apply(
        4,
        if change_dc {
            -d(1) + d(5) + 9 * d(7) - 9 * d(9) - 9 * d(17) + 9 * d(19) + d(21) - d(25)
        } else {
            d(10) + d(16) - 10 * d(17) + 10 * d(19) - d(2) - d(20) + d(22) - d(24) + d(4) - d(6) + 10 * d(7) - 10 * d(9)
        },
    );
    apply(
        5,
        if change_dc {
            2 * d(7) - 5 * d(8) + 2 * d(9) + d(11) + 7 * d(12) - 14 * d(13) + 7 * d(14) + d(15) + 2 * d(17) - 5 * d(18)
                + 2 * d(19)
        } else {
            -d(11) + 13 * d(12) - 24 * d(13) + 13 * d(14) - d(15)
        },
    );
    if change_dc {
        apply(6, d(7) - d(9) + 2 * d(12) - 2 * d(14) + d(17) - d(19));
        apply(7, d(7) - 3 * d(8) + d(9) - d(17) + 3 * d(18) - d(19));
        apply(8, d(7) - d(9) - 3 * d(12) + 3 * d(14) + d(17) - d(19));
        apply(9, d(7) + 2 * d(8) + d(9) - d(17) - 2 * d(18) - d(19));
        let num = q00
            * (-2 * d(1) - 6 * d(2) - 8 * d(3) - 6 * d(4) - 2 * d(5) - 6 * d(6) + 6 * d(7) + 42 * d(8) + 6 * d(9)
                - 6 * d(10)
                - 8 * d(11)
                + 42 * d(12)
                + 152 * d(13)
                + 42 * d(14)
                - 8 * d(15)
                - 6 * d(16)
                + 6 * d(17)
                + 42 * d(18)
                + 6 * d(19)
                - 6 * d(20)
                - 2 * d(21)
                - 6 * d(22)
                - 8 * d(23)
                - 6 * d(24)
                - 2 * d(25));
        w[0] = estimate(num, q00, 0, false);
    }
    w
}
