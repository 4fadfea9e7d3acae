//! Marker segments: frame and scan headers, tables, and the APP segments
//! that decide colours (JFIF, Adobe) and orientation (EXIF, XMP). Checks
//! follow libjpeg-turbo's jdmarker.c / jdinput.c, and every size is
//! validated before anything is allocated from it.

use super::huffman::{std_ac, std_dc, HuffTable, NATURAL};
use crate::error::{Error, Result};

pub(super) fn corrupt(msg: impl Into<String>) -> Error {
    Error::CorruptImage(msg.into())
}

/// libjpeg's JPEG_MAX_DIMENSION.
const MAX_DIMENSION: u32 = 65500;
/// libjpeg's D_MAX_BLOCKS_IN_MCU.
const MAX_BLOCKS_IN_MCU: usize = 10;

#[derive(Clone, Debug)]
pub(super) struct Component {
    pub id: u8,
    pub h: usize,
    pub v: usize,
    pub tq: usize,
    /// Quantisation table in natural order, latched at the component's first scan.
    pub quant: Option<[u16; 64]>,
    /// Size of the component plane in samples (libjpeg's downsampled_width/height).
    pub ds_w: usize,
    pub ds_h: usize,
    /// Blocks that cover the plane.
    pub bw: usize,
    pub bh: usize,
    /// Blocks that whole MCUs cover (interleaved scans code these).
    pub pbw: usize,
    pub pbh: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Frame {
    pub width: usize,
    pub height: usize,
    pub progressive: bool,
    pub comps: Vec<Component>,
    pub max_h: usize,
    pub max_v: usize,
    pub mcus_x: usize,
    pub mcus_y: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Scan {
    /// Indexes into `Frame::comps`, with their DC and AC table numbers.
    pub comps: Vec<(usize, usize, usize)>,
    pub ss: usize,
    pub se: usize,
    pub ah: u32,
    pub al: u32,
}

pub(super) struct Tables {
    pub quant: [Option<[u16; 64]>; 4],
    pub dc: [Option<HuffTable>; 4],
    pub ac: [Option<HuffTable>; 4],
    pub restart_interval: usize,
}

impl Tables {
    pub(super) fn new() -> Tables {
        // libjpeg-turbo preloads the standard tables into slots 0 and 1
        // (Motion-JPEG frames omit them).
        Tables {
            quant: [None; 4],
            dc: [Some(std_dc(0)), Some(std_dc(1)), None, None],
            ac: [Some(std_ac(0)), Some(std_ac(1)), None, None],
            restart_interval: 0,
        }
    }
}

#[derive(Default, Debug, Clone)]
pub(super) struct AppInfo {
    pub jfif: bool,
    pub adobe_transform: Option<u8>,
    pub exif_seen: bool,
    /// The orientation tag's value when the first EXIF segment has one.
    pub exif_orientation: Option<u32>,
    pub xmp_orientation: Option<u8>,
}

impl AppInfo {
    /// What PIL's `exif_transpose` acts on: EXIF tag 0x0112, else XMP's
    /// tiff:Orientation; values outside 1..=8 mean no change.
    pub(super) fn orientation(&self) -> u8 {
        let v = match self.exif_orientation {
            Some(v) => v,
            None => self.xmp_orientation.unwrap_or(1) as u32,
        };
        if (1..=8).contains(&v) {
            v as u8
        } else {
            1
        }
    }
}

pub(super) enum Next {
    Scan(Scan),
    Eoi,
}

fn be16(d: &[u8], i: usize) -> usize {
    ((d[i] as usize) << 8) | d[i + 1] as usize
}

/// Reads the marker at `*pos` (skipping stray bytes before it, as libjpeg
/// does with a warning) and returns its code.
fn next_marker(data: &[u8], pos: &mut usize) -> Result<u8> {
    loop {
        let Some(off) = data.get(*pos..).and_then(|s| s.iter().position(|&b| b == 0xFF)) else {
            return Err(super::bits::truncated());
        };
        let mut q = *pos + off + 1;
        while data.get(q) == Some(&0xFF) {
            q += 1;
        }
        match data.get(q) {
            None => return Err(super::bits::truncated()),
            Some(0) => *pos = q + 1,
            Some(&m) => {
                *pos = q + 1;
                return Ok(m);
            }
        }
    }
}

fn segment<'a>(data: &'a [u8], pos: &mut usize) -> Result<&'a [u8]> {
    if *pos + 2 > data.len() {
        return Err(super::bits::truncated());
    }
    let len = be16(data, *pos);
    if len < 2 {
        return Err(corrupt("marker segment length under 2"));
    }
    let end = *pos + len;
    if end > data.len() {
        return Err(super::bits::truncated());
    }
    let s = &data[*pos + 2..end];
    *pos = end;
    Ok(s)
}

/// Checks the SOI marker; returns the position after it.
pub(super) fn start(data: &[u8]) -> Result<usize> {
    if data.len() < 2 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(Error::NotAnImage);
    }
    Ok(2)
}

/// Reads markers from `*pos` up to the next SOS (returned with `*pos` at
/// the first entropy-coded byte) or EOI.
pub(super) fn read_markers(
    data: &[u8],
    pos: &mut usize,
    tables: &mut Tables,
    frame: &mut Option<Frame>,
    app: &mut AppInfo,
) -> Result<Next> {
    loop {
        let m = next_marker(data, pos)?;
        match m {
            0xC0..=0xC2 => {
                let s = segment(data, pos)?;
                if frame.is_some() {
                    return Err(corrupt("more than one frame header (SOF)"));
                }
                *frame = Some(parse_sof(s, m == 0xC2)?);
            }
            0xC3 => {
                return Err(Error::UnsupportedFormat("lossless JPEG (SOF3)".into()));
            }
            0xC9..=0xCB => {
                return Err(Error::UnsupportedFormat("arithmetic-coded JPEG".into()));
            }
            0xC5..=0xC7 | 0xCD..=0xCF => {
                return Err(Error::UnsupportedFormat("hierarchical JPEG".into()));
            }
            0xC4 => parse_dht(segment(data, pos)?, tables)?,
            0xDB => parse_dqt(segment(data, pos)?, tables)?,
            0xDD => {
                let s = segment(data, pos)?;
                if s.len() != 2 {
                    return Err(corrupt("bad DRI length"));
                }
                tables.restart_interval = be16(s, 0);
            }
            0xCC => {
                segment(data, pos)?;
                return Err(Error::UnsupportedFormat("arithmetic-coded JPEG".into()));
            }
            0xDA => {
                let s = segment(data, pos)?;
                let Some(f) = frame.as_ref() else {
                    return Err(corrupt("scan (SOS) before the frame header (SOF)"));
                };
                return Ok(Next::Scan(parse_sos(s, f)?));
            }
            0xD9 => return Ok(Next::Eoi),
            0xD8 => return Err(corrupt("a second SOI marker")),
            0xE0..=0xEF | 0xFE => {
                let s = segment(data, pos)?;
                parse_app(m, s, app);
            }
            0xD0..=0xD7 | 0x01 => {}
            0xDC => {
                // DNL: libjpeg skips it; a zero height was rejected at SOF.
                segment(data, pos)?;
            }
            _ => return Err(corrupt(format!("unknown JPEG marker 0x{m:02X}"))),
        }
    }
}

/// Scans of a multi-scan image, and what visiting their blocks costs, read
/// from the markers alone (entropy-coded data is skipped, not decoded).
pub(super) struct Survey {
    /// Scans met, the first one included.
    pub scans: u32,
    /// Work of the scans' block loops, in pixels (see [`scan_work`]).
    pub work: u64,
}

/// Walks the markers after the first scan (`pos` at its first entropy-coded
/// byte) the way [`read_markers`] will, counting scans as they are met:
/// more than `max_scans` is refused at the first one over, so refusing
/// costs the bytes up to it. Stops quietly at EOI, at the end of the data
/// and at anything the decoder will refuse itself (it says why then).
pub(super) fn survey(data: &[u8], mut pos: usize, frame: &Frame, first: &Scan, max_scans: u32) -> Result<Survey> {
    let mut s = Survey { scans: 1, work: scan_work(frame, first) };
    if s.scans > max_scans {
        return Err(too_many_scans(max_scans));
    }
    while let Ok(m) = next_marker(data, &mut pos) {
        match m {
            // Entropy-coded data, restart markers and fill: the decoder
            // reads or skips them; what follows them is what counts.
            0xD0..=0xD7 | 0x01 => {}
            0xDA => {
                let Ok(scan) = segment(data, &mut pos).and_then(|seg| parse_sos(seg, frame)) else { break };
                s.scans += 1;
                if s.scans > max_scans {
                    return Err(too_many_scans(max_scans));
                }
                s.work += scan_work(frame, &scan);
            }
            0xC4 | 0xDB | 0xDC | 0xDD | 0xE0..=0xEF | 0xFE => {
                if segment(data, &mut pos).is_err() {
                    break;
                }
            }
            _ => break,
        }
    }
    Ok(s)
}

pub(super) fn too_many_scans(max_scans: u32) -> Error {
    Error::TooMuchWork(format!(
        "the JPEG has more than {max_scans} scans (the limit; encoders write about 10, a progressive file with \
         thousands of scans costs seconds of CPU to decode)"
    ))
}

/// What visiting one block costs in each kind of scan, in 64ths of a pixel
/// of work (a pixel of a baseline 12 MP photo decoded and resized),
/// measured by crates/classifier/tests/work_bench.rs on scans whose data is
/// the least that makes the decoder visit every block (end-of-band runs,
/// one bit a block) and charged at about the top of the range measured
/// (wall time, best of runs on a loaded 2-core machine; by instruction
/// counts a refinement block costs up to 1.3x its charge): a progressive
/// DC or AC first scan, or a DC refinement, 0.5-1.0 pixel a block;
const PROGRESSIVE_BLOCK_64THS: u64 = 64;
/// an AC refinement scan visits every coefficient of its band in every
/// block, even under an end-of-band run: 4.3-5.6 pixels a block for the
/// whole band (1..=63), charged 1 + 63 * 5/64 = 5.9;
const REFINE_COEFFICIENT_64THS: u64 = 5;
/// a sequential scan (a multi-scan sequential file) decodes every block in
/// full: 2.9-3.5 pixels a block with a zero DC difference and an end-of-band.
const SEQUENTIAL_BLOCK_64THS: u64 = 256;

/// The work of one scan's block loop, in pixels: its blocks (an interleaved
/// scan codes whole MCUs) times what a block of its kind costs.
pub(super) fn scan_work(f: &Frame, scan: &Scan) -> u64 {
    let blocks: u64 = if scan.comps.len() == 1 {
        let c = &f.comps[scan.comps[0].0];
        c.bw as u64 * c.bh as u64
    } else {
        scan.comps.iter().map(|&(ci, _, _)| f.comps[ci].pbw as u64 * f.comps[ci].pbh as u64).sum()
    };
    let per_block = if !f.progressive {
        SEQUENTIAL_BLOCK_64THS
    } else if scan.ss > 0 && scan.ah > 0 {
        PROGRESSIVE_BLOCK_64THS + REFINE_COEFFICIENT_64THS * (scan.se + 1).saturating_sub(scan.ss) as u64
    } else {
        PROGRESSIVE_BLOCK_64THS
    };
    (blocks * per_block).div_ceil(64)
}

fn parse_sof(s: &[u8], progressive: bool) -> Result<Frame> {
    if s.len() < 6 {
        return Err(corrupt("short frame header"));
    }
    let precision = s[0];
    let height = be16(s, 1) as u32;
    let width = be16(s, 3) as u32;
    let n = s[5] as usize;
    if precision != 8 {
        // PIL: "cannot handle 12-bit layers" when opening.
        return Err(Error::UnsupportedFormat(format!("{precision}-bit JPEG")));
    }
    if width == 0 || height == 0 {
        return Err(corrupt("empty JPEG image (zero width or height, DNL not supported)"));
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(corrupt(format!("JPEG dimensions {width}x{height} over {MAX_DIMENSION}")));
    }
    if !(n == 1 || n == 3 || n == 4) {
        // PIL: "cannot handle N-layer images".
        return Err(Error::UnsupportedFormat(format!("JPEG with {n} components")));
    }
    if s.len() != 6 + 3 * n {
        return Err(corrupt("bad frame header length"));
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let c = &s[6 + 3 * i..9 + 3 * i];
        let (h, v, tq) = ((c[1] >> 4) as usize, (c[1] & 15) as usize, c[2] as usize);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(corrupt("bad sampling factors"));
        }
        if tq > 3 {
            return Err(corrupt("bad quantisation table number"));
        }
        comps.push(Component { id: c[0], h, v, tq, quant: None, ds_w: 0, ds_h: 0, bw: 0, bh: 0, pbw: 0, pbh: 0 });
    }
    let max_h = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = comps.iter().map(|c| c.v).max().unwrap_or(1);
    for c in &comps {
        if max_h % c.h != 0 || max_v % c.v != 0 {
            // libjpeg: "Fractional sampling not implemented yet".
            return Err(Error::UnsupportedFormat("JPEG with fractional sampling factors".into()));
        }
    }
    let (w, h) = (width as usize, height as usize);
    let mcus_x = w.div_ceil(8 * max_h);
    let mcus_y = h.div_ceil(8 * max_v);
    for c in &mut comps {
        c.ds_w = (w * c.h).div_ceil(max_h);
        c.ds_h = (h * c.v).div_ceil(max_v);
        c.bw = c.ds_w.div_ceil(8);
        c.bh = c.ds_h.div_ceil(8);
        c.pbw = mcus_x * c.h;
        c.pbh = mcus_y * c.v;
    }
    Ok(Frame { width: w, height: h, progressive, comps, max_h, max_v, mcus_x, mcus_y })
}

fn parse_sos(s: &[u8], f: &Frame) -> Result<Scan> {
    if s.is_empty() {
        return Err(corrupt("short scan header"));
    }
    let n = s[0] as usize;
    if !(1..=4).contains(&n) || s.len() != 4 + 2 * n {
        return Err(corrupt("bad scan header"));
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let (id, t) = (s[1 + 2 * i], s[2 + 2 * i]);
        let Some(ci) = f.comps.iter().position(|c| c.id == id) else {
            return Err(corrupt(format!("scan names unknown component {id}")));
        };
        if comps.iter().any(|&(c, _, _)| c == ci) {
            return Err(corrupt("scan names a component twice"));
        }
        let (td, ta) = ((t >> 4) as usize, (t & 15) as usize);
        if td > 3 || ta > 3 {
            return Err(corrupt("bad Huffman table number"));
        }
        comps.push((ci, td, ta));
    }
    if n > 1 {
        let blocks: usize = comps.iter().map(|&(c, _, _)| f.comps[c].h * f.comps[c].v).sum();
        if blocks > MAX_BLOCKS_IN_MCU {
            return Err(corrupt("too many blocks in an MCU"));
        }
    }
    let p = 1 + 2 * n;
    let (ss, se, ah, al) = (s[p] as usize, s[p + 1] as usize, (s[p + 2] >> 4) as u32, (s[p + 2] & 15) as u32);
    if f.progressive {
        // Same checks as jdphuff.c start_pass_phuff_decoder.
        let bad = if ss == 0 { se != 0 } else { ss > se || se > 63 || n != 1 };
        if bad || (ah != 0 && al != ah - 1) || al > 13 {
            return Err(corrupt("bad progressive scan parameters"));
        }
    }
    Ok(Scan { comps, ss, se, ah, al })
}

fn parse_dqt(mut s: &[u8], t: &mut Tables) -> Result<()> {
    while !s.is_empty() {
        let (pq, tq) = (s[0] >> 4, (s[0] & 15) as usize);
        if tq > 3 || pq > 1 {
            return Err(corrupt("bad quantisation table"));
        }
        let size = if pq == 0 { 64 } else { 128 };
        if s.len() < 1 + size {
            return Err(corrupt("short quantisation table"));
        }
        let mut q = [0u16; 64];
        for (i, &nat) in NATURAL.iter().take(64).enumerate() {
            q[nat] = if pq == 0 { s[1 + i] as u16 } else { be16(s, 1 + 2 * i) as u16 };
        }
        t.quant[tq] = Some(q);
        s = &s[1 + size..];
    }
    Ok(())
}

fn parse_dht(mut s: &[u8], t: &mut Tables) -> Result<()> {
    while !s.is_empty() {
        if s.len() < 17 {
            return Err(corrupt("short Huffman table"));
        }
        let (class, index) = (s[0] >> 4, (s[0] & 15) as usize);
        if class > 1 || index > 3 {
            return Err(corrupt("bad Huffman table class or number"));
        }
        let mut counts = [0u8; 16];
        counts.copy_from_slice(&s[1..17]);
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total > 256 || s.len() < 17 + total {
            return Err(corrupt("bad Huffman table length"));
        }
        let table = HuffTable::new(&counts, &s[17..17 + total], class == 0)?;
        if class == 0 {
            t.dc[index] = Some(table);
        } else {
            t.ac[index] = Some(table);
        }
        s = &s[17 + total..];
    }
    Ok(())
}

fn parse_app(m: u8, s: &[u8], app: &mut AppInfo) {
    match m {
        // libjpeg: JFIF needs at least 14 bytes; Adobe at least 12.
        0xE0 if s.len() >= 14 && s.starts_with(b"JFIF\0") => app.jfif = true,
        0xEE if s.len() >= 12 && s.starts_with(b"Adobe") => app.adobe_transform = Some(s[11]),
        // PIL keeps the first EXIF segment.
        0xE1 if s.starts_with(b"Exif\0\0") && !app.exif_seen => {
            app.exif_seen = true;
            app.exif_orientation = super::exif::orientation(&s[6..]);
        }
        0xE1 if s.starts_with(b"Exif\0\0") => {}
        0xE1 if s.starts_with(b"http://ns.adobe.com/xap/1.0/\0") => {
            // PIL keeps the last XMP packet and falls back on its
            // tiff:Orientation when EXIF has none.
            app.xmp_orientation = super::exif::xmp_orientation(&s[29..]);
        }
        _ => {}
    }
}
