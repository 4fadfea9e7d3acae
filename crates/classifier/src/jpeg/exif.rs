//! The orientation tag from EXIF (APP1 "Exif") or XMP, as PIL reads it.

/// Value of tag 0x0112 in IFD0 of a TIFF structure, if present.
pub(super) fn orientation(tiff: &[u8]) -> Option<u32> {
    if tiff.len() < 8 {
        return None;
    }
    let le = match &tiff[..4] {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u32> {
        let b = tiff.get(i..i + 2)?;
        Some(if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) } as u32)
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b = tiff.get(i..i + 4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    for i in 0..count {
        let e = ifd.checked_add(2 + 12 * i)?;
        if u16_at(e)? != 0x0112 {
            continue;
        }
        return match u16_at(e + 2)? {
            3 => u16_at(e + 8),
            4 => u32_at(e + 8),
            // Another type: PIL holds a value that is not 1..=8.
            _ => Some(0),
        };
    }
    None
}

/// PIL's fallback: the first `tiff:Orientation="N"` or `tiff:Orientation>N` in the XMP packet.
pub(super) fn xmp_orientation(xmp: &[u8]) -> Option<u8> {
    const KEY: &[u8] = b"tiff:Orientation";
    let mut i = 0;
    while i + KEY.len() <= xmp.len() {
        if &xmp[i..i + KEY.len()] == KEY {
            let rest = &xmp[i + KEY.len()..];
            let digit = match rest {
                [b'=', b'"', d, ..] | [b'>', d, ..] if d.is_ascii_digit() => Some(*d),
                _ => None,
            };
            if let Some(d) = digit {
                return Some(d - b'0');
            }
        }
        i += 1;
    }
    None
}
