//! Hostile JPEGs written byte by byte (the layout of model/jpeg_writer.py),
//! so that tests make them at run time instead of committing big files:
//! headers that claim many pixels over an empty scan, and progressive files
//! with any number of scans.
#![allow(dead_code)]

/// The standard luminance and chrominance Huffman tables (ITU T.81 K.3).
const DC_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D];
const AC_VALS: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
    0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09,
    0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a,
    0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65,
    0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
    0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
    0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
    0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea,
    0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

pub fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// SOI, JFIF, one quantisation table (all 16: any value works), the frame
/// header (3 components, 4:2:0, or 1 when `grey`), the standard Huffman
/// tables in slots 0 (DC and AC) and in AC slot 1 a table of 5-bit codes:
/// the 15 end-of-band run symbols EOB0..EOB14 (0x00, 0x10, .. 0xE0, codes
/// 0..=14), ZRL (0xF0, code 15) and run 14 size 1 (0xE1, code 16).
pub fn header(width: u16, height: u16, progressive: bool, grey: bool) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    let mut dqt = vec![0u8];
    dqt.extend([16u8; 64]);
    out.extend(segment(0xDB, &dqt));
    let mut sof = vec![8];
    sof.extend(height.to_be_bytes());
    sof.extend(width.to_be_bytes());
    if grey {
        sof.extend([1, 1, 0x11, 0]);
    } else {
        sof.extend([3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
    }
    out.extend(segment(if progressive { 0xC2 } else { 0xC0 }, &sof));
    let mut dht = vec![0x00];
    dht.extend(DC_BITS);
    dht.extend(DC_VALS);
    dht.push(0x10);
    dht.extend(AC_BITS);
    dht.extend(AC_VALS);
    dht.push(0x11);
    dht.extend([0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    dht.extend((0..15).map(|r| r << 4));
    dht.extend([0xF0, 0xE1]);
    out.extend(segment(0xC4, &dht));
    out
}

/// A scan header: components (ids), spectral band and successive
/// approximation; DC table 0, AC table 0 (or 1, the EOB runs, for `ss > 0`).
pub fn sos(ids: &[u8], ss: u8, se: u8, ah: u8, al: u8) -> Vec<u8> {
    let mut p = vec![ids.len() as u8];
    for &id in ids {
        p.extend([id, if ss > 0 { 0x01 } else { 0x00 }]);
    }
    p.extend([ss, se, (ah << 4) | al]);
    segment(0xDA, &p)
}

/// A baseline 4:2:0 JPEG whose frame says `width x height` and whose only
/// scan holds no data at all: libjpeg (and so PIL) warns and decodes every
/// block as zero, a grey image.
pub fn header_only(width: u16, height: u16) -> Vec<u8> {
    let mut out = header(width, height, false, false);
    out.extend(sos(&[1, 2, 3], 0, 63, 0, 0));
    out.extend([0xFF, 0xD9]);
    out
}

/// `jpeg` with an EXIF segment (APP1) after SOI holding orientation `o`.
pub fn with_orientation(jpeg: &[u8], o: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend(o.to_be_bytes());
    exif.extend([0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE1, &exif));
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A progressive 4:2:0 JPEG with `scans` scans and no data in any: a DC
/// scan of the three components, then AC scans of the first one.
pub fn empty_scans(width: u16, height: u16, scans: usize) -> Vec<u8> {
    let mut out = header(width, height, true, false);
    out.extend(sos(&[1, 2, 3], 0, 0, 0, 0));
    let ac = sos(&[1], 1, 63, 0, 0);
    for _ in 1..scans {
        out.extend_from_slice(&ac);
    }
    out.extend([0xFF, 0xD9]);
    out
}

/// What the scans after the first of [`many_scans`] hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scans {
    /// Progressive: AC first scans (1..=63, Al=0), each one end-of-band run
    /// over every block.
    AcFirstEobRuns,
    /// Progressive: after an AC first scan of end-of-band runs, AC
    /// refinement scans (1..=63, Ah=1, Al=0) of end-of-band runs: each
    /// visits every coefficient of every block.
    AcRefineEobRuns,
    /// The same over blocks whose coefficient 63 is not zero (set by the AC
    /// first scan): each refinement also reads one correction bit a block.
    AcRefineNonzero,
    /// Progressive: DC refinement scans, one bit a block.
    DcRefine,
    /// Sequential, 3 components (4:4:4) in separate scans, repeated: a DC
    /// difference of 0 and an end-of-band a block (6 bits).
    Sequential,
}

/// A JPEG (2000x2000-like sizes) of `scans` scans that are not empty: the
/// data each holds is the least that makes a decoder visit every block,
/// which costs it far more than the data's size. Progressive kinds are
/// greyscale; the first scan is a DC scan (a zero difference a block).
pub fn many_scans(width: u16, height: u16, scans: usize, kind: Scans) -> Vec<u8> {
    let blocks = (width as usize).div_ceil(8) * (height as usize).div_ceil(8);
    if kind == Scans::Sequential {
        let mut out = header(width, height, false, false);
        // Rewrite the sampling factors to 4:4:4 (every component 1x1).
        let sof = out.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        out[sof + 11] = 0x11;
        let block = bits(&[(0b00u32, 2u32), (0b1010, 4)].repeat(blocks));
        for i in 0..scans {
            out.extend(sos(&[1 + (i % 3) as u8], 0, 63, 0, 0));
            out.extend_from_slice(&block);
        }
        out.extend([0xFF, 0xD9]);
        return out;
    }
    let mut out = header(width, height, true, true);
    out.extend(sos(&[1], 0, 0, 0, 1));
    out.extend(bits(&vec![(0u32, 2u32); blocks]));
    let mut n = 1;
    if matches!(kind, Scans::AcRefineEobRuns | Scans::AcRefineNonzero) {
        out.extend(sos(&[1], 1, 63, 0, 1));
        if kind == Scans::AcRefineNonzero {
            // Three zero runs of 16 (ZRL), then run 14 size 1 (0xE1) with
            // value bit 1: coefficient 63 is 1 << Al.
            let block = [(ZRL, 5), (ZRL, 5), (ZRL, 5), (E1, 5), (1, 1)];
            out.extend(bits(&block.repeat(blocks)));
        } else {
            out.extend(eob_runs(blocks));
        }
        n += 1;
    }
    let refine_bits = if kind == Scans::AcRefineNonzero { vec![(0u32, 1u32); blocks] } else { Vec::new() };
    while n < scans {
        match kind {
            Scans::AcFirstEobRuns => {
                out.extend(sos(&[1], 1, 63, 0, 0));
                out.extend(eob_runs(blocks));
            }
            Scans::AcRefineEobRuns => {
                out.extend(sos(&[1], 1, 63, 1, 0));
                out.extend(eob_runs(blocks));
            }
            Scans::AcRefineNonzero => {
                // EOB runs, each followed by the correction bits of the
                // nonzero coefficients of the blocks it covers.
                out.extend(sos(&[1], 1, 63, 1, 0));
                let mut codes = Vec::new();
                let mut left = blocks;
                while left > 0 {
                    let run = left.min(32767);
                    let r = usize::BITS - 1 - run.leading_zeros();
                    codes.push((r, 5));
                    if r > 0 {
                        codes.push(((run - (1 << r)) as u32, r));
                    }
                    codes.extend_from_slice(&refine_bits[..run]);
                    left -= run;
                }
                out.extend(bits(&codes));
            }
            Scans::DcRefine => {
                out.extend(sos(&[1], 0, 0, 1, 0));
                out.extend(bits(&vec![(0u32, 1u32); blocks]));
            }
            Scans::Sequential => unreachable!(),
        }
        n += 1;
    }
    out.extend([0xFF, 0xD9]);
    out
}

/// Codes of AC table 1 (5 bits each): EOBr is r, then ZRL and 0xE1.
const ZRL: u32 = 15;
const E1: u32 = 16;

/// Entropy-coded bytes of end-of-band runs covering `blocks` blocks (AC
/// table 1 of [`header`]: symbol EOBr is the 5-bit code r, followed by r
/// bits; a run of 2^r + those bits blocks, at most 32767).
pub fn eob_runs(mut blocks: usize) -> Vec<u8> {
    let mut codes = Vec::new();
    while blocks > 0 {
        let run = blocks.min(32767);
        let r = usize::BITS - 1 - run.leading_zeros();
        codes.push((r, 5));
        if r > 0 {
            codes.push(((run - (1 << r)) as u32, r));
        }
        blocks -= run;
    }
    bits(&codes)
}
/// Packs (code, length) pairs MSB first, pads with ones and stuffs 0xFF.
pub fn bits(codes: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u64, 0u32);
    for &(code, len) in codes {
        acc = (acc << len) | code as u64;
        n += len;
        while n >= 8 {
            let b = (acc >> (n - 8)) as u8;
            out.push(b);
            if b == 0xFF {
                out.push(0);
            }
            n -= 8;
        }
    }
    if n > 0 {
        let b = ((acc << (8 - n)) as u8) | ((1u8 << (8 - n)) - 1);
        out.push(b);
        if b == 0xFF {
            out.push(0);
        }
    }
    out
}
