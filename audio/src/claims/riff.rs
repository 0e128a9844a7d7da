//! WAV (RIFF): a `LIST` chunk of form `INFO` holds text chunks whose 32-bit
//! lengths symphonia allocates as claimed.

use std::io::{Read, Seek, SeekFrom};

pub(super) fn check<R: Read + Seek>(r: &mut R, len: u64) -> Result<(), String> {
    let mut pos = 12u64; // "RIFF", its length, "WAVE"
    while len.saturating_sub(pos) >= 8 {
        r.seek(SeekFrom::Start(pos)).map_err(|e| e.to_string())?;
        let (id, size) = chunk(r)?;
        let body = pos + 8;
        let room = len - body;
        if &id == b"LIST" && size >= 4 {
            if u64::from(size) > room {
                return Err(format!(
                    "chunk LIST claims {size} bytes where {room} remain"
                ));
            }
            let mut form = [0u8; 4];
            r.read_exact(&mut form).map_err(|e| e.to_string())?;
            if &form == b"INFO" {
                info(r, u64::from(size) - 4)?;
            }
        }
        if &id == b"data" {
            return Ok(()); // the audio, read as it plays
        }
        // Chunks are padded to an even length.
        pos = body + u64::from(size) + u64::from(size & 1);
    }
    Ok(())
}

/// The text chunks of an INFO list of `room` bytes.
fn info<R: Read + Seek>(r: &mut R, mut room: u64) -> Result<(), String> {
    while room >= 8 {
        let (id, size) = chunk(r)?;
        room -= 8;
        let size = u64::from(size);
        if size > room {
            return Err(format!(
                "INFO chunk {} claims {size} bytes where {room} remain",
                String::from_utf8_lossy(&id)
            ));
        }
        let padded = (size + (size & 1)).min(room);
        r.seek(SeekFrom::Current(padded as i64))
            .map_err(|e| e.to_string())?;
        room -= padded;
    }
    Ok(())
}

fn chunk<R: Read>(r: &mut R) -> Result<([u8; 4], u32), String> {
    let mut h = [0u8; 8];
    r.read_exact(&mut h)
        .map_err(|_| "the file ends inside a chunk header".to_string())?;
    Ok((
        [h[0], h[1], h[2], h[3]],
        u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
    ))
}
