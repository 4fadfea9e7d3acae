//! Huffman decoding of blocks: sequential (jdhuff.c) and progressive
//! (jdphuff.c: DC first/refine, AC first/refine with end-of-band runs).

use super::bits::BitReader;
use super::huffman::{HuffTable, NATURAL};
use crate::error::Result;

/// Decodes one sequential block into `blk` (natural order; must be zero).
/// Returns whether any AC coefficient was coded (false: a flat block).
#[inline]
pub(super) fn sequential_block(
    br: &mut BitReader,
    dc: &HuffTable,
    ac: &HuffTable,
    pred: &mut i32,
    blk: &mut [i16; 64],
) -> Result<bool> {
    let mut any_ac = false;
    let s = br.decode(dc)? as u32;
    let diff = br.receive_extend(s)?;
    *pred = pred.wrapping_add(diff);
    blk[0] = *pred as i16;
    let mut k = 1usize;
    while k < 64 {
        let rs = br.decode(ac)?;
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s != 0 {
            k += r;
            let v = br.receive_extend(s)?;
            blk[NATURAL[k]] = v as i16;
            any_ac = true;
        } else if r == 15 {
            k += 15;
        } else {
            break;
        }
        k += 1;
    }
    Ok(any_ac)
}

pub(super) fn dc_first(br: &mut BitReader, dc: &HuffTable, pred: &mut i32, al: u32, blk: &mut [i16]) -> Result<()> {
    let s = br.decode(dc)? as u32;
    let diff = br.receive_extend(s)?;
    *pred = pred.wrapping_add(diff);
    blk[0] = pred.wrapping_shl(al) as i16;
    Ok(())
}

pub(super) fn dc_refine(br: &mut BitReader, al: u32, blk: &mut [i16]) -> Result<()> {
    if br.bit()? {
        blk[0] |= (1i32 << al) as i16;
    }
    Ok(())
}

pub(super) fn ac_first(
    br: &mut BitReader,
    ac: &HuffTable,
    ss: usize,
    se: usize,
    al: u32,
    eobrun: &mut u32,
    blk: &mut [i16],
) -> Result<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = ss;
    while k <= se {
        let rs = br.decode(ac)?;
        let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
        if s != 0 {
            k += r;
            let v = br.receive_extend(s)?;
            blk[NATURAL[k]] = v.wrapping_shl(al) as i16;
        } else if r == 15 {
            k += 15;
        } else {
            let mut run = 1u32 << r;
            if r != 0 {
                run += br.bits(r as u32)?;
            }
            *eobrun = run - 1;
            break;
        }
        k += 1;
    }
    Ok(())
}

pub(super) fn ac_refine(
    br: &mut BitReader,
    ac: &HuffTable,
    ss: usize,
    se: usize,
    al: u32,
    eobrun: &mut u32,
    blk: &mut [i16],
) -> Result<()> {
    let p1 = 1i32 << al;
    let m1 = -1i32 << al;
    let refine = |br: &mut BitReader, c: &mut i16| -> Result<()> {
        if br.bit()? && (*c as i32 & p1) == 0 {
            *c = if *c >= 0 { (*c as i32).wrapping_add(p1) } else { (*c as i32).wrapping_add(m1) } as i16;
        }
        Ok(())
    };
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            let rs = br.decode(ac)?;
            let (mut r, s) = ((rs >> 4) as i32, rs & 15);
            let mut val = 0i32;
            if s != 0 {
                // s != 1 is corrupt; libjpeg warns and goes on.
                val = if br.bit()? { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = 1u32 << r;
                if r != 0 {
                    *eobrun += br.bits(r as u32)?;
                }
                break;
            }
            // Advance over already-nonzero coefficients (refining them) and
            // r zero ones; the new value lands on the next zero one.
            while k <= se {
                let c = &mut blk[NATURAL[k]];
                if *c != 0 {
                    refine(br, c)?;
                } else {
                    r -= 1;
                    if r < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if val != 0 {
                blk[NATURAL[k]] = val as i16;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            let c = &mut blk[NATURAL[k]];
            if *c != 0 {
                refine(br, c)?;
            }
            k += 1;
        }
        *eobrun -= 1;
    }
    Ok(())
}
