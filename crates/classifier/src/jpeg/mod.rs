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
//! CPU: [`RowSource::work`] states what decoding costs before it starts, in
//! pixels (one pixel: one pixel of a baseline JPEG decoded and resized):
//! the image's pixels, plus for a multi-scan image every scan's block loop
//! (markers::scan_work), read from the markers alone. More scans than the
//! cap given to [`JpegRows::with_max_scans`] are refused as they are met.
//! A sequential JPEG whose data runs out (libjpeg reads zeros: every later
//! block is zero, mid grey) stops decoding blocks: its later MCU rows are
//! filled with one value and its later output rows are repeats, which the
//! resize can skip ([`RowSource::skip_repeated_row`]).
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

/// Scans per image accepted by [`JpegRows::new`]: libjpeg-turbo's own fuzz
/// targets set TJPARAM_SCANLIMIT to 500; encoders write 10 or so (libjpeg's
/// progressive script: 10 for YCbCr, mozjpeg's about as many).
pub(crate) const DEFAULT_MAX_SCANS: u32 = 500;

enum Source<'a> {
    /// One scan with every component: decoded MCU row by MCU row.
    Stream { br: BitReader<'a>, scan: Scan, preds: [i32; 4], mcu: usize },
    /// Several scans: all coefficients first, then rows from them.
    Buffered { pos: usize, first: Option<Scan>, coefs: Vec<Vec<i16>>, smoothing: Option<smooth::Smoothing> },
}

pub struct JpegRows<'a> {
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
    max_scans: u32,
    /// Work stated before decoding, in pixels.
    work: u64,
    /// Per ring slot: the one value of every component's samples when the
    /// slot was filled after the data ran out (every block zero).
    uniform: [Option<[u8; 4]>; 2],
    /// The values of the uniform rows that made the last output row, when
    /// every row it was made of was uniform.
    last_uniform: Option<[u8; 4]>,
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
    /// [`JpegRows::with_max_scans`] with [`DEFAULT_MAX_SCANS`].
    pub fn new(bytes: &'a [u8]) -> Result<JpegRows<'a>> {
        Self::with_max_scans(bytes, DEFAULT_MAX_SCANS)
    }

    /// Parses markers up to the first scan and validates the frame; no
    /// sample or coefficient memory is allocated until the first row. A
    /// multi-scan image's later markers are walked too (its entropy-coded
    /// data skipped), counting its scans: more than `max_scans` is
    /// [`Error::TooMuchWork`].
    pub(crate) fn with_max_scans(bytes: &'a [u8], max_scans: u32) -> Result<JpegRows<'a>> {
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

        // A streamed image reads its first scan only (any later one is
        // never read): one scan.
        let mut work = frame.width as u64 * frame.height as u64;
        if !streaming {
            work += markers::survey(bytes, pos, &frame, &scan, max_scans)?.work;
        } else if max_scans < 1 {
            return Err(markers::too_many_scans(max_scans));
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
            max_scans,
            work,
            uniform: [None; 2],
            last_uniform: None,
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
        let mut scans = 0u32;
        loop {
            // new() counted them already; this holds whatever it missed.
            scans += 1;
            if scans > self.max_scans {
                return Err(markers::too_many_scans(self.max_scans));
            }
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
                self.uniform[slot] = None;
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
                            let dc = blk[0] as i32 * q[0] as i32;
                            if dc.unsigned_abs() < 1 << 15 && blk[1..].iter().all(|&v| v == 0) {
                                // The same samples, as in the streamed path
                                // (a block past the end of the data of a
                                // progressive file is all zero): both IDCT
                                // passes are exact below 2^16 (only garbage
                                // data overflows islow's 32-bit sums).
                                idct::idct_flat(blk[0], q[0], &mut plane[off..], stride);
                            } else {
                                idct::idct_islow(blk, q, &mut plane[off..], stride);
                            }
                        }
                    }
                }
            }
            Source::Stream { br, scan, preds, mcu } => {
                let ri = self.tables.restart_interval;
                if br.exhausted(ri > 0) {
                    // libjpeg skips every MCU once the data has run out,
                    // leaving its coefficients zero: each component's
                    // samples are one value (the IDCT of a zero block), the
                    // same in every later MCU row.
                    let mut vals = [0u8; 4];
                    for (ci, c) in frame.comps.iter().enumerate() {
                        let q = c.quant.as_ref().ok_or_else(|| corrupt("missing quantisation table"))?;
                        let mut flat = [0u8; 8];
                        idct::idct_flat(0, q[0], &mut flat, 0);
                        vals[ci] = flat[0];
                    }
                    *mcu += if scan.comps.len() == 1 {
                        let c = &frame.comps[scan.comps[0].0];
                        c.bw * c.v.min(c.bh.saturating_sub(n * c.v))
                    } else {
                        frame.mcus_x
                    };
                    if self.uniform[slot] != Some(vals) {
                        for (ci, c) in frame.comps.iter().enumerate() {
                            let len = c.v * 8 * c.pbw * 8;
                            self.planes[ci][slot * len..(slot + 1) * len].fill(vals[ci]);
                        }
                        self.uniform[slot] = Some(vals);
                    }
                    return Ok(());
                }
                self.uniform[slot] = None;
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

    /// Decodes the MCU rows that output row `self.y` is made of.
    fn prepare_row(&mut self) -> Result<()> {
        if self.y >= self.frame.height {
            return Err(Error::InvalidArgument("all rows were already read".into()));
        }
        if self.planes.is_empty() {
            self.decode_all_scans()?;
            self.allocate_rows()?;
        }
        let mut needed = 0;
        for (c, up) in self.frame.comps.iter().zip(&self.ups) {
            let (a, b) = up.rows_for(self.y, c.ds_h);
            needed = needed.max(a.max(b) / (c.v * 8));
        }
        while self.decoded <= needed {
            self.decode_mcu_row(self.decoded)?;
            self.decoded += 1;
        }
        Ok(())
    }

    /// When every plane row that output row `self.y` is made of is uniform
    /// (filled after the data ran out), the values per component.
    fn uniform_sources(&self) -> Option<[u8; 4]> {
        let mut vals = [0u8; 4];
        for (ci, (c, up)) in self.frame.comps.iter().zip(&self.ups).enumerate() {
            let (a, b) = up.rows_for(self.y, c.ds_h);
            let rows = c.v * 8;
            let (ua, ub) = (self.uniform[(a / rows) % 2]?, self.uniform[(b / rows) % 2]?);
            if ua[ci] != ub[ci] {
                return None;
            }
            vals[ci] = ua[ci];
        }
        Some(vals)
    }

    /// Counts the row handed out (or skipped).
    fn finish_row(&mut self) -> Result<()> {
        self.y += 1;
        if self.y == self.frame.height {
            if let Source::Stream { br, .. } = &mut self.source {
                // PIL refuses a sequential JPEG whose data ends before a
                // marker follows the scan ("image file is truncated").
                br.skip_to_marker()?;
            }
        }
        Ok(())
    }

    fn row_inner(&mut self, row: &mut [u8]) -> Result<()> {
        let w = self.frame.width;
        if row.len() != w * 3 {
            return Err(Error::InvalidArgument(format!("row buffer of {} bytes, expected {}", row.len(), w * 3)));
        }
        self.prepare_row()?;
        let y = self.y;
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
        self.last_uniform = self.uniform_sources();
        self.finish_row()
    }

    /// A row made of the same uniform plane rows as the one before it is
    /// that row again (upsampling and colour conversion of uniform rows give
    /// uniform rows): it is skipped without being computed.
    fn skip_inner(&mut self) -> Result<bool> {
        if self.y == 0 || self.y >= self.frame.height || self.last_uniform.is_none() {
            return Ok(false);
        }
        self.prepare_row()?;
        if self.uniform_sources() != self.last_uniform {
            return Ok(false);
        }
        self.finish_row()?;
        Ok(true)
    }

    /// Marks the source failed after a decoding error.
    fn fail_on<T>(&mut self, r: Result<T>) -> Result<T> {
        if matches!(r, Err(Error::CorruptImage(_)) | Err(Error::ImageTooLarge { .. }) | Err(Error::TooMuchWork(_))) {
            self.failed = true;
        }
        r
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
        'rows: for by in 0..c.bh {
            for bx in 0..c.bw {
                restart_if_due(&mut br, ri, &mut mcu, &mut preds, &mut eobrun)?;
                if br.insufficient {
                    // Nothing more can happen in this scan: every later
                    // block would be skipped too.
                    if br.exhausted(ri > 0) {
                        break 'rows;
                    }
                    continue;
                }
                progress.last_good = by / c.v;
                let blk = &mut coefs[ci][(by * c.pbw + bx) * 64..][..64];
                block(&mut br, 0, blk, &mut preds, &mut eobrun)?;
            }
        }
    } else {
        'mcu_rows: for my in 0..f.mcus_y {
            for mx in 0..f.mcus_x {
                restart_if_due(&mut br, ri, &mut mcu, &mut preds, &mut eobrun)?;
                if br.insufficient {
                    if br.exhausted(ri > 0) {
                        break 'mcu_rows;
                    }
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
        self.fail_on(r)
    }
    fn skip_repeated_row(&mut self) -> Result<bool> {
        if self.failed {
            return Err(corrupt("decoding already failed"));
        }
        let r = self.skip_inner();
        self.fail_on(r)
    }
    fn work(&self) -> u64 {
        self.work
    }
}

/// Decodes every row (stored order, no orientation applied) into one RGB
/// buffer; a row the decoder skips as a repeat is copied from the one above
/// (`skip_repeats: false` computes every row).
pub fn decode_rgb_with(bytes: &[u8], skip_repeats: bool) -> Result<(u32, u32, Vec<u8>)> {
    let mut rows = JpegRows::new(bytes)?;
    let (w, h) = (rows.width() as usize, rows.height() as usize);
    let mut out = alloc_zeroed::<u8>(w * 3 * h, &rows.frame, rows.peak)?;
    rows.read_rows(&mut out, skip_repeats)?;
    Ok((w as u32, h as u32, out))
}

/// [`decode_rgb_with`], skipping repeats.
pub fn decode_rgb(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>)> {
    decode_rgb_with(bytes, true)
}
