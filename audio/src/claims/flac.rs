//! FLAC: the metadata blocks before the audio. A block's length is 24 bits
//! (at most 16 MiB) but the VORBIS_COMMENT and PICTURE blocks hold 32-bit
//! lengths that symphonia allocates as claimed.

use std::io::{Read, Seek, SeekFrom};

const VORBIS_COMMENT: u8 = 4;
const PICTURE: u8 = 6;

pub(super) fn check<R: Read + Seek>(r: &mut R, len: u64) -> Result<(), String> {
    r.seek(SeekFrom::Start(4)).map_err(|e| e.to_string())?;
    let mut pos = 4u64;
    loop {
        let mut h = [0u8; 4];
        if r.read_exact(&mut h).is_err() {
            return Ok(()); // symphonia says what is missing
        }
        let last = h[0] & 0x80 != 0;
        let kind = h[0] & 0x7f;
        let size = u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
        pos += 4;
        if size > len - pos {
            return Err(format!(
                "metadata block {kind} claims {size} bytes where {} remain",
                len - pos
            ));
        }
        if kind == VORBIS_COMMENT || kind == PICTURE {
            let mut block = vec![0u8; size as usize];
            r.read_exact(&mut block).map_err(|e| e.to_string())?;
            if kind == VORBIS_COMMENT {
                super::vorbis_comments(&block)?;
            } else {
                picture(&block)?;
            }
        } else {
            r.seek(SeekFrom::Current(size as i64))
                .map_err(|e| e.to_string())?;
        }
        pos += size;
        if last {
            return Ok(());
        }
    }
}

/// PICTURE: type, MIME type, description, four numbers, then the data;
/// big-endian lengths.
fn picture(b: &[u8]) -> Result<(), String> {
    let mut at = 4usize; // the picture type
    for what in ["MIME type", "description"] {
        let n = be(b, at)?;
        at += 4;
        if n > (b.len() - at) as u64 {
            return Err(format!(
                "the picture's {what} claims {n} bytes where {} remain",
                b.len() - at
            ));
        }
        at += n as usize;
    }
    at += 16; // width, height, depth, colours
    let n = be(b, at)?;
    at += 4;
    if n > b.len().saturating_sub(at) as u64 {
        return Err(format!(
            "the picture's data claims {n} bytes where {} remain",
            b.len().saturating_sub(at)
        ));
    }
    Ok(())
}

fn be(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 4)
        .map(|x| u64::from(u32::from_be_bytes([x[0], x[1], x[2], x[3]])))
        .ok_or_else(|| "the picture block ends early".to_string())
}
