//! An ID3v2 tag (before MP3 audio, or a FLAC stream): each frame's body is
//! read whole, and version 2.3 gives its size as a plain 32-bit number.

use std::io::Read;

pub(super) fn check<R: Read>(r: &mut R, len: u64) -> Result<(), String> {
    let mut h = [0u8; 10];
    if r.read_exact(&mut h).is_err() {
        return Ok(());
    }
    let version = h[3];
    let flags = h[5];
    let tag = synchsafe(&h[6..10]);
    if tag > len - 10 {
        return Err(format!(
            "the ID3v2 tag claims {tag} bytes where {} remain",
            len - 10
        ));
    }
    let mut body = vec![0u8; tag as usize];
    if r.read_exact(&mut body).is_err() {
        return Ok(());
    }
    let mut at = 0usize;
    if flags & 0x40 != 0 && version >= 3 {
        // The extended header: its size excludes itself in 2.3, includes it in 2.4.
        let Some(b) = body.get(0..4) else {
            return Ok(());
        };
        let size = if version == 3 {
            u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])) + 4
        } else {
            synchsafe(b)
        };
        if size > body.len() as u64 {
            return Err(format!("the ID3v2 extended header claims {size} bytes"));
        }
        at = size as usize;
    }
    let (head, size_of): (usize, fn(&[u8]) -> u64) = match version {
        2 => (6, |b| u64::from(u32::from_be_bytes([0, b[3], b[4], b[5]]))),
        3 => (10, |b| {
            u64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
        }),
        4 => (10, |b| synchsafe(&b[4..8])),
        _ => return Ok(()),
    };
    while body.len() - at >= head {
        let frame = &body[at..at + head];
        if frame[0] == 0 {
            return Ok(()); // padding
        }
        let size = size_of(frame);
        let left = (body.len() - at - head) as u64;
        if size > left {
            return Err(format!(
                "ID3v2 frame {} claims {size} bytes where {left} remain",
                String::from_utf8_lossy(&frame[..head.min(4)])
            ));
        }
        at += head + size as usize;
    }
    Ok(())
}

fn synchsafe(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |n, &x| (n << 7) | u64::from(x & 0x7f))
}
