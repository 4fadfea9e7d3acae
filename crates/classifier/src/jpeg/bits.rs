//! Entropy-coded data reader with libjpeg's behaviour at the edges: a
//! marker inside a scan ends the data and later bits read as zeros (libjpeg
//! warns "premature end of data segment" and goes on, so PIL accepts such
//! files), while running off the end of the input is truncation (libjpeg
//! suspends for more data, and PIL reports "image file is truncated").

use super::huffman::{HuffTable, LOOKAHEAD};
use crate::error::{Error, Result};

pub(super) fn truncated() -> Error {
    Error::CorruptImage("image file is truncated".into())
}

pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pub pos: usize,
    /// Valid bits are the top `nbits` of `buf`.
    buf: u64,
    nbits: u32,
    /// A marker (0xFF followed by a non-zero byte) starts at `pos`.
    pub at_marker: bool,
    /// libjpeg's `insufficient_data`: bits were needed past a marker, so the
    /// following MCUs of this restart interval are skipped (left zero).
    pub insufficient: bool,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> BitReader<'a> {
        BitReader { data, pos, buf: 0, nbits: 0, at_marker: false, insufficient: false }
    }

    /// Loads bytes until at least 57 bits are held, a marker is met or the
    /// input ends; `need` bits must be available afterwards.
    #[cold]
    fn fill(&mut self, need: u32) -> Result<()> {
        while self.nbits <= 56 {
            if self.at_marker {
                break;
            }
            let Some(&b) = self.data.get(self.pos) else {
                return Err(truncated());
            };
            if b != 0xFF {
                self.pos += 1;
                self.buf |= (b as u64) << (56 - self.nbits);
                self.nbits += 8;
                continue;
            }
            // Skip fill bytes: FF FF ... 00 is one data byte FF, FF FF ... xx a marker.
            let mut q = self.pos + 1;
            while self.data.get(q) == Some(&0xFF) {
                q += 1;
            }
            match self.data.get(q) {
                None => return Err(truncated()),
                Some(0) => {
                    self.pos = q + 1;
                    self.buf |= 0xFFu64 << (56 - self.nbits);
                    self.nbits += 8;
                }
                Some(_) => {
                    self.pos = q - 1;
                    self.at_marker = true;
                }
            }
        }
        if self.nbits < need {
            // Past a marker: zeros, as libjpeg does after its warning.
            self.insufficient = true;
            self.nbits = 64;
        }
        Ok(())
    }

    #[inline]
    pub(super) fn bits(&mut self, n: u32) -> Result<u32> {
        if n == 0 {
            return Ok(0);
        }
        if self.nbits < n {
            self.fill(n)?;
        }
        let v = (self.buf >> (64 - n)) as u32;
        self.buf <<= n;
        self.nbits -= n;
        Ok(v)
    }

    #[inline]
    pub(super) fn bit(&mut self) -> Result<bool> {
        Ok(self.bits(1)? != 0)
    }

    /// `bits(n)` sign-extended as in the JPEG spec (F.2.2.1 EXTEND).
    #[inline]
    pub(super) fn receive_extend(&mut self, s: u32) -> Result<i32> {
        if s == 0 {
            return Ok(0);
        }
        let v = self.bits(s)? as i32;
        Ok(if v < (1 << (s - 1)) { v - (1 << s) + 1 } else { v })
    }

    #[inline]
    pub(super) fn decode(&mut self, t: &HuffTable) -> Result<u8> {
        if self.nbits < LOOKAHEAD {
            self.fill(LOOKAHEAD)?;
        }
        let look = (self.buf >> (64 - LOOKAHEAD)) as usize;
        let e = t.lookup[look];
        if e != 0 {
            let len = (e >> 8) as u32;
            self.buf <<= len;
            self.nbits -= len;
            return Ok(e as u8);
        }
        self.decode_slow(t)
    }

    #[cold]
    fn decode_slow(&mut self, t: &HuffTable) -> Result<u8> {
        let mut l = LOOKAHEAD as usize + 1;
        let mut code = self.bits(l as u32)? as i32;
        while code > t.maxcode[l] {
            code = (code << 1) | self.bits(1)? as i32;
            l += 1;
        }
        if l > 16 {
            // libjpeg: "Corrupt JPEG data: bad Huffman code", symbol 0.
            return Ok(0);
        }
        Ok(t.values[((code + t.valoffset[l]) & 0xFF) as usize])
    }

    /// Whether every later bit of this scan reads as zero: the data ran out
    /// at a marker that no restart can pass (with `restarts`, a restart
    /// consumes an RSTn marker and reads on; any other marker stays).
    pub(super) fn exhausted(&self, restarts: bool) -> bool {
        self.insufficient && !(restarts && matches!(self.data.get(self.pos + 1), Some(0xD0..=0xD7)))
    }

    /// Drops the bits of the current byte and the buffered bytes, and
    /// consumes an RSTn marker if one comes next (libjpeg's process_restart).
    pub(super) fn restart(&mut self) -> Result<()> {
        self.buf = 0;
        self.nbits = 0;
        if !self.at_marker {
            // Skip to the next marker, as libjpeg's next_marker does.
            self.skip_to_marker()?;
        }
        let code = self.data.get(self.pos + 1).copied().unwrap_or(0);
        if (0xD0..=0xD7).contains(&code) {
            self.pos += 2;
            self.at_marker = false;
            self.insufficient = false;
        }
        // Any other marker stays: the rest of the scan reads as zeros.
        Ok(())
    }

    /// Moves `pos` to the next marker after the entropy-coded data.
    pub(super) fn skip_to_marker(&mut self) -> Result<()> {
        if self.at_marker {
            return Ok(());
        }
        loop {
            let Some(off) = self.data.get(self.pos..).and_then(|s| s.iter().position(|&b| b == 0xFF)) else {
                return Err(truncated());
            };
            let mut q = self.pos + off + 1;
            while self.data.get(q) == Some(&0xFF) {
                q += 1;
            }
            match self.data.get(q) {
                None => return Err(truncated()),
                Some(0) => self.pos = q + 1,
                Some(_) => {
                    self.pos = q - 1;
                    self.at_marker = true;
                    return Ok(());
                }
            }
        }
    }
}
