//! A JPEG decoder that reproduces PIL's pixels (libjpeg-turbo: accurate
//! integer IDCT, fancy upsampling, its fixed-point YCbCr->RGB, PIL's CMYK
//! handling) and hands them out one row at a time.
//!
//! Memory: a sequential JPEG whose first scan holds every component (what
//! cameras and phones write) is decoded as it streams, holding two MCU rows
//! of component samples (the current one plus the neighbour rows that fancy
//! upsampling blends in) and one upsampled row per component. A
//! progressive JPEG, or a sequential one split into several scans, needs
//! every coefficient of the image before its first row (2 bytes per
//! coefficient, 64 per 8x8 block, blocks padded to whole MCUs): that is
//! stated by [`RowSource::peak_bytes`] before anything is allocated.
//!
//! Unsupported (PIL through libjpeg-turbo 3 decodes the first two; it
//! refuses 12-bit at open with "cannot handle 12-bit layers"): arithmetic
//! coding, lossless (SOF3), 12- and 16-bit samples, hierarchical JPEG.
//! Progressive images whose scans leave some of the first 10 coefficients
//! unrefined (a file cut short and closed with EOI, unusual scan scripts)
//! get libjpeg's block smoothing too (smooth.rs), as PIL's pixels do.

mod bits;
mod color;
mod entropy;
mod exif;
mod huffman;
mod idct;
mod markers;
mod smooth;

use crate::error::{Error, Result};
use crate::rows::RowSource;
use bits::BitReader;
use color::{ColorSpace, Upsample, YccTables};
use markers::{corrupt, AppInfo, Frame, Next, Scan, Tables};

/// Everything from new() to the last row beyond the counted buffers and
/// the boxed tables: component lists (the frame is cloned between scans),
/// scan lists and the transient vectors of Huffman table construction.
const OVERHEAD_BYTES: u64 = 20 * 1024;

enum Source<'a> {
    /// One scan with every component: decoded MCU row by MCU row.
    Stream { br: BitReader<'a>, scan: Scan, preds: [i32; 4], mcu: usize },
    /// Several scans: all coefficients first, then rows from them.
    Buffered { pos: usize, first: Option<Scan>, coefs: Vec<Vec<i16>>, smoothing: Option<smooth::Smoothing> },
}

pub(crate) struct JpegRows<'a> {
    data: &'a [u8],
    frame: Frame,
    tables: Box<Tables>,
    space: ColorSpace,
    orientation: u8,
    ups: Vec<Upsample>,
    source: Source<'a>,
    peak: u64,
    /// Per component: two MCU rows of samples, used as a ring.
    planes: Vec<Vec<u8>>,
    /// Per component: the current output row after upsampling.
    urows: Vec<Vec<u8>>,
    ycc: Option<Box<YccTables>>,
    /// MCU rows decoded into `planes` so far.
    decoded: usize,
    y: usize,
    failed: bool,
}

fn too_large(frame: &Frame, needed: u64) -> Error {
    Error::ImageTooLarge {
        width: frame.width as u32,
        height: frame.height as u32,
        needed_bytes: needed,
        budget_bytes: 0,
    }
}

fn alloc_zeroed<T: Clone + Default>(n: usize, frame: &Frame, peak: u64) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_large(frame, peak))?;
    v.resize(n, T::default());
    Ok(v)
}

impl<'a> JpegRows<'a> {
    /// Parses markers up to the first scan and validates the frame; no
    /// sample or coefficient memory is allocated until the first row.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<JpegRows<'a>> {
        let mut pos = markers::start(bytes)?;
        let mut tables = Box::new(Tables::new());
        let mut frame = None;
        let mut app = AppInfo::default();
        let scan = match markers::read_markers(bytes, &mut pos, &mut tables, &mut frame, &mut app)? {
            Next::Scan(s) => s,
            Next::Eoi => return Err(corrupt("no image data before EOI")),
        };
        let frame = frame.ok_or_else(|| corrupt("no frame header"))?;
        let space = match frame.comps.len() {
            1 => ColorSpace::Gray,
            3 => {
                let ids = (frame.comps[0].id, frame.comps[1].id, frame.comps[2].id);
                if app.jfif {
                    ColorSpace::YCbCr
                } else if let Some(t) = app.adobe_transform {
                    if t == 0 {
                        ColorSpace::Rgb
                    } else {
                        ColorSpace::YCbCr
                    }
                } else if ids == (82, 71, 66) {
                    ColorSpace::Rgb
                } else {
                    ColorSpace::YCbCr
                }
            }
            _ => match app.adobe_transform {
                Some(0) | None => ColorSpace::Cmyk,
                Some(_) => ColorSpace::Ycck,
            },
        };
        let ups = frame.comps.iter().map(|c| Upsample::choose(c, frame.max_h, frame.max_v)).collect();
        let streaming = !frame.progressive && scan.comps.len() == frame.comps.len();

        let mut peak = OVERHEAD_BYTES + std::mem::size_of::<Tables>() as u64 + std::mem::size_of::<YccTables>() as u64;
        for c in &frame.comps {
            peak += 2 * (c.v as u64 * 8) * (c.pbw as u64 * 8); // planes
            peak += frame.width as u64; // upsampled row
            if !streaming {
                peak += c.pbw as u64 * c.pbh as u64 * 64 * 2;
            }
        }

        let mut rows = JpegRows {
            data: bytes,
            frame,
            tables,
            space,
            orientation: app.orientation(),
            ups,
            source: Source::Buffered { pos, first: None, coefs: Vec::new(), smoothing: None },
            peak,
            planes: Vec::new(),
            urows: Vec::new(),
            ycc: None,
            decoded: 0,
            y: 0,
            failed: false,
        };
        if streaming {
            rows.check_scan_tables(&scan)?;
            rows.source = Source::Stream { br: BitReader::new(bytes, pos), scan, preds: [0; 4], mcu: 0 };
        } else {
            rows.source = Source::Buffered { pos, first: Some(scan), coefs: Vec::new(), smoothing: None };
        }
        Ok(rows)
    }

    /// Latches the quantisation tables of the scan's components and checks
    /// that its Huffman tables exist.
    fn check_scan_tables(&mut self, scan: &Scan) -> Result<()> {
        let progressive = self.frame.progressive;
        for &(ci, td, ta) in &scan.comps {
            let c = &mut self.frame.comps[ci];
            if c.quant.is_none() {
                c.quant = Some(self.tables.quant[c.tq].ok_or_else(|| corrupt("missing quantisation table"))?);
            }
            let needs_dc = !progressive || (scan.ss == 0 && scan.ah == 0);
            let needs_ac = !progressive || scan.ss > 0;
            if needs_dc && self.tables.dc[td].is_none() || needs_ac && self.tables.ac[ta].is_none() {
                return Err(corrupt("missing Huffman table"));
            }
        }
        Ok(())
    }

    fn allocate_rows(&mut self) -> Result<()> {
        let f = &self.frame;
        let mut planes = Vec::with_capacity(f.comps.len());
        let mut urows = Vec::with_capacity(f.comps.len());
        for c in &f.comps {
            planes.push(alloc_zeroed::<u8>(2 * c.v * 8 * c.pbw * 8, f, self.peak)?);
            urows.push(alloc_zeroed::<u8>(f.width, f, self.peak)?);
        }
        self.planes = planes;
        self.urows = urows;
        self.ycc = Some(YccTables::new());
        Ok(())
    }

    /// Decodes every scan of a multi-scan image into the coefficient buffers.
    fn decode_all_scans(&mut self) -> Result<()> {
        let Source::Buffered { pos, first, .. } = &mut self.source else { return Ok(()) };
        let mut pos = *pos;
        let mut scan = first.take().ok_or_else(|| corrupt("no scan"))?;
        let mut coefs = Vec::with_capacity(self.frame.comps.len());
        for c in &self.frame.comps {
            coefs.push(alloc_zeroed::<i16>(c.pbw * c.pbh * 64, &self.frame, self.peak)?);
        }
        let mut app = AppInfo::default();
        let mut progress = smooth::Progress::new(self.frame.comps.len());
        loop {
            self.check_scan_tables(&scan)?;
            if self.frame.progressive {
                progress.start_scan(scan.comps.iter().map(|c| c.0), scan.ss, scan.se, scan.al);
            }
            pos = decode_scan(self.data, pos, &self.frame, &self.tables, &scan, &mut coefs, &mut progress)?;
            // The frame is known: a second SOF is an error there.
            let mut frame_opt = Some(self.frame.clone());
            match markers::read_markers(self.data, &mut pos, &mut self.tables, &mut frame_opt, &mut app)? {
                Next::Scan(s) => scan = s,
                Next::Eoi => break,
            }
        }
        let smoothing = if self.frame.progressive {
            let quants: Vec<_> = self.frame.comps.iter().map(|c| c.quant).collect();
            smooth::smoothing_ok(&progress, &quants)
        } else {
            None
        };
        // Components that no scan named: libjpeg leaves them without a
        // quantisation table and zero coefficients (mid grey).
        for c in &mut self.frame.comps {
            if c.quant.is_none() {
                c.quant = Some([0; 64]);
            }
        }
        self.source = Source::Buffered { pos, first: None, coefs, smoothing };
        Ok(())
    }

    /// Fills the ring slot of MCU row `n` with component samples.
    fn decode_mcu_row(&mut self, n: usize) -> Result<()> {
        let slot = n % 2;
        let frame = &self.frame;
        match &mut self.source {
            Source::Buffered { coefs, smoothing, .. } => {
                for (ci, c) in frame.comps.iter().enumerate() {
                    let q = c.quant.as_ref().ok_or_else(|| corrupt("missing quantisation table"))?;
                    let stride = c.pbw * 8;
                    let plane = &mut self.planes[ci];
                    for bv in 0..c.v {
                        let by = n * c.v + bv;
                        if by >= c.bh {
                            break;
                        }
                        for bx in 0..c.bw {
                            let blk = &coefs[ci][(by * c.pbw + bx) * 64..][..64];
                            let off = (slot * c.v * 8 + bv * 8) * stride + bx * 8;
                            let smoothed;
                            let blk: &[i16; 64] = match smoothing {
                                Some(s) => {
                                    let bits = if n > s.last_good { &s.prev[ci] } else { &s.cur[ci] };
                                    let dc = neighbour_dcs(&coefs[ci], c, n, frame.mcus_y, bv, bx);
                                    smoothed = smooth::smooth_block(blk, &dc, bits, q);
                                    &smoothed
                                }
                                None => blk.try_into().map_err(|_| corrupt("block"))?,
                            };
                            idct::idct_islow(blk, q, &mut plane[off..], stride);
                        }
                    }
                }
            }
            Source::Stream { br, scan, preds, mcu } => {
                let ri = self.tables.restart_interval;
                let mut blk = [0i16; 64];
                if scan.comps.len() == 1 {
                    let (ci, td, ta) = scan.comps[0];
                    let c = &frame.comps[ci];
                    let (dc, ac) = tables_of(&self.tables, td, ta)?;
                    let q = c.quant.as_ref().ok_or_else(|| corrupt("missing quantisation table"))?;
                    let stride = c.pbw * 8;
                    for bv in 0..c.v {
                        let by = n * c.v + bv;
                        if by >= c.bh {
                            break;
                        }
                        for bx in 0..c.bw {
                            restart_if_due(br, ri, mcu, preds, &mut 0)?;
                            blk.fill(0);
                            let coded =
                                !br.insufficient && entropy::sequential_block(br, dc, ac, &mut preds[0], &mut blk)?;
                            let off = (slot * c.v * 8 + bv * 8) * stride + bx * 8;
                            if coded {
                                idct::idct_islow(&blk, q, &mut self.planes[ci][off..], stride);
                            } else {
                                idct::idct_flat(blk[0], q[0], &mut self.planes[ci][off..], stride);
                            }
                        }
                    }
                } else {
                    for mx in 0..frame.mcus_x {
                        restart_if_due(br, ri, mcu, preds, &mut 0)?;
                        let skip = br.insufficient;
                        for (si, &(ci, td, ta)) in scan.comps.iter().enumerate() {
                            let c = &frame.comps[ci];
                            let (dc, ac) = tables_of(&self.tables, td, ta)?;
                            let q = c.quant.as_ref().ok_or_else(|| corrupt("missing quantisation table"))?;
                            let stride = c.pbw * 8;
                            for bv in 0..c.v {
                                for bh in 0..c.h {
                                    blk.fill(0);
                                    let coded =
                                        !skip && entropy::sequential_block(br, dc, ac, &mut preds[si], &mut blk)?;
                                    let (bx, by) = (mx * c.h + bh, n * c.v + bv);
                                    if bx < c.bw && by < c.bh {
                                        let off = (slot * c.v * 8 + bv * 8) * stride + bx * 8;
                                        let plane = &mut self.planes[ci][off..];
                                        if coded {
                                            idct::idct_islow(&blk, q, plane, stride);
                                        } else {
                                            idct::idct_flat(blk[0], q[0], plane, stride);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn row_inner(&mut self, row: &mut [u8]) -> Result<()> {
        let (w, h) = (self.frame.width, self.frame.height);
        if row.len() != w * 3 {
            return Err(Error::InvalidArgument(format!("row buffer of {} bytes, expected {}", row.len(), w * 3)));
        }
        if self.y >= h {
            return Err(Error::InvalidArgument("all rows were already read".into()));
        }
        if self.planes.is_empty() {
            self.decode_all_scans()?;
            self.allocate_rows()?;
        }
        let y = self.y;
        let mut needed = 0;
        for (c, up) in self.frame.comps.iter().zip(&self.ups) {
            let (a, b) = up.rows_for(y, c.ds_h);
            needed = needed.max(a.max(b) / (c.v * 8));
        }
        while self.decoded <= needed {
            self.decode_mcu_row(self.decoded)?;
            self.decoded += 1;
        }
        for (ci, (c, up)) in self.frame.comps.iter().zip(&self.ups).enumerate() {
            let (a, b) = up.rows_for(y, c.ds_h);
            let stride = c.pbw * 8;
            let rows = c.v * 8;
            let line = |r: usize| ((r / rows) % 2 * rows + r % rows) * stride;
            let plane = &self.planes[ci];
            let near = &plane[line(a)..line(a) + stride];
            let far = &plane[line(b)..line(b) + stride];
            up.row(near, far, c.ds_w, y, &mut self.urows[ci]);
        }
        let ycc = self.ycc.as_deref().ok_or_else(|| corrupt("colour tables missing"))?;
        color::to_rgb(self.space, ycc, &self.urows, row);
        self.y += 1;
        if self.y == h {
            if let Source::Stream { br, .. } = &mut self.source {
                // PIL refuses a sequential JPEG whose data ends before a
                // marker follows the scan ("image file is truncated").
                br.skip_to_marker()?;
            }
        }
        Ok(())
    }
}

/// DC values of the 5x5 blocks around block (`bx`, row `bv` of MCU row `n`),
/// with the edge rules of decompress_smooth_data (including its row count
/// for the last MCU row).
fn neighbour_dcs(coefs: &[i16], c: &markers::Component, n: usize, total: usize, bv: usize, bx: usize) -> [[i32; 5]; 5] {
    let block_rows = if n + 1 == total {
        if c.bh.is_multiple_of(c.v) {
            c.v
        } else {
            c.bh % c.v
        }
    } else {
        c.v
    };
    let image_rows = block_rows * total;
    let ib = n * block_rows + bv;
    let r = n * c.v + bv;
    let prev = if ib > 0 { r - 1 } else { r };
    let prev_prev = if ib > 1 { r - 2 } else { prev };
    let next = if ib + 1 < image_rows { r + 1 } else { r };
    let next_next = if ib + 2 < image_rows { r + 2 } else { next };
    let last_col = c.bw as isize - 1;
    let mut dc = [[0i32; 5]; 5];
    for (i, &row) in [prev_prev, prev, r, next, next_next].iter().enumerate() {
        let row = row.min(c.pbh - 1);
        for (j, v) in dc[i].iter_mut().enumerate() {
            let col = (bx as isize + j as isize - 2).clamp(0, last_col.max(0)) as usize;
            *v = coefs[(row * c.pbw + col) * 64] as i32;
        }
    }
    dc
}

fn tables_of(t: &Tables, td: usize, ta: usize) -> Result<(&huffman::HuffTable, &huffman::HuffTable)> {
    match (&t.dc[td], &t.ac[ta]) {
        (Some(dc), Some(ac)) => Ok((dc, ac)),
        _ => Err(corrupt("missing Huffman table")),
    }
}

/// Before MCU number `*mcu`: reads the restart marker that is due, resetting
/// the DC predictions and the end-of-band run; then counts the MCU.
fn restart_if_due(
    br: &mut BitReader,
    ri: usize,
    mcu: &mut usize,
    preds: &mut [i32; 4],
    eobrun: &mut u32,
) -> Result<()> {
    if ri > 0 && *mcu > 0 && mcu.is_multiple_of(ri) {
        br.restart()?;
        *preds = [0; 4];
        *eobrun = 0;
    }
    *mcu += 1;
    Ok(())
}

/// Decodes one scan of a multi-scan image into `coefs`; returns the
/// position of the marker that follows it.
fn decode_scan(
    data: &[u8],
    pos: usize,
    f: &Frame,
    t: &Tables,
    scan: &Scan,
    coefs: &mut [Vec<i16>],
    progress: &mut smooth::Progress,
) -> Result<usize> {
    let mut br = BitReader::new(data, pos);
    let ri = t.restart_interval;
    let (mut mcu, mut preds, mut eobrun) = (0usize, [0i32; 4], 0u32);
    let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
    let missing = || corrupt("missing Huffman table");
    let block =
        |br: &mut BitReader, si: usize, blk: &mut [i16], preds: &mut [i32; 4], eobrun: &mut u32| -> Result<()> {
            let (_, td, ta) = scan.comps[si];
            if !f.progressive {
                let (dc, ac) = tables_of(t, td, ta)?;
                let b: &mut [i16; 64] = blk.try_into().map_err(|_| corrupt("block"))?;
                b.fill(0);
                entropy::sequential_block(br, dc, ac, &mut preds[si], b).map(|_| ())
            } else if ss == 0 {
                if ah == 0 {
                    entropy::dc_first(br, t.dc[td].as_ref().ok_or_else(missing)?, &mut preds[si], al, blk)
                } else {
                    entropy::dc_refine(br, al, blk)
                }
            } else {
                let ac = t.ac[ta].as_ref().ok_or_else(missing)?;
                if ah == 0 {
                    entropy::ac_first(br, ac, ss, se, al, eobrun, blk)
                } else {
                    entropy::ac_refine(br, ac, ss, se, al, eobrun, blk)
                }
            }
        };
    if scan.comps.len() == 1 {
        let ci = scan.comps[0].0;
        let c = &f.comps[ci];
        for by in 0..c.bh {
            for bx in 0..c.bw {
                restart_if_due(&mut br, ri, &mut mcu, &mut preds, &mut eobrun)?;
                if br.insufficient {
                    continue;
                }
                progress.last_good = by / c.v;
                let blk = &mut coefs[ci][(by * c.pbw + bx) * 64..][..64];
                block(&mut br, 0, blk, &mut preds, &mut eobrun)?;
            }
        }
    } else {
        for my in 0..f.mcus_y {
            for mx in 0..f.mcus_x {
                restart_if_due(&mut br, ri, &mut mcu, &mut preds, &mut eobrun)?;
                if br.insufficient {
                    continue;
                }
                progress.last_good = my;
                for (si, &(ci, _, _)) in scan.comps.iter().enumerate() {
                    let c = &f.comps[ci];
                    for bv in 0..c.v {
                        for bh in 0..c.h {
                            let (bx, by) = (mx * c.h + bh, my * c.v + bv);
                            let blk = &mut coefs[ci][(by * c.pbw + bx) * 64..][..64];
                            block(&mut br, si, blk, &mut preds, &mut eobrun)?;
                        }
                    }
                }
            }
        }
    }
    br.skip_to_marker()?;
    Ok(br.pos)
}

impl RowSource for JpegRows<'_> {
    fn width(&self) -> u32 {
        self.frame.width as u32
    }
    fn height(&self) -> u32 {
        self.frame.height as u32
    }
    fn orientation(&self) -> u8 {
        self.orientation
    }
    fn peak_bytes(&self) -> u64 {
        self.peak
    }
    fn next_row(&mut self, row: &mut [u8]) -> Result<()> {
        if self.failed {
            return Err(corrupt("decoding already failed"));
        }
        let r = self.row_inner(row);
        if matches!(r, Err(Error::CorruptImage(_)) | Err(Error::ImageTooLarge { .. })) {
            self.failed = true;
        }
        r
    }
}

/// Decodes every row (stored order, no orientation applied) into one RGB buffer.
#[allow(dead_code)] // for tests/jpeg.rs, which compiles this module on its own
pub(crate) fn decode_rgb(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>)> {
    let mut rows = JpegRows::new(bytes)?;
    let (w, h) = (rows.width() as usize, rows.height() as usize);
    let mut out = alloc_zeroed::<u8>(w * h * 3, &rows.frame, rows.peak)?;
    for row in out.chunks_exact_mut(w * 3) {
        rows.next_row(row)?;
    }
    Ok((w as u32, h as u32, out))
}
