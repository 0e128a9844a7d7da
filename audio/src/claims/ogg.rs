//! Ogg: the comment header of the first logical stream (Vorbis's second
//! packet, `\x03vorbis`, or Opus's `OpusTags`), whose 32-bit lengths
//! symphonia allocates as claimed. Pages are read as their segment tables
//! say (bounded by the file); only the first pages are looked at.

use std::io::Read;

/// Pages looked at for the comment header, at most.
const PAGES: usize = 256;
/// A header packet larger than this is not believed.
const HEADER_MAX: usize = 64 << 20;

pub(super) fn check<R: Read>(r: &mut R, _len: u64) -> Result<(), String> {
    let mut serial = None;
    let mut packets = 0usize;
    let mut packet = Vec::new();
    for _ in 0..PAGES {
        let mut h = [0u8; 27];
        if r.read_exact(&mut h).is_err() || &h[..4] != b"OggS" {
            return Ok(()); // symphonia says what is wrong
        }
        let this = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
        let mut table = vec![0u8; usize::from(h[26])];
        if r.read_exact(&mut table).is_err() {
            return Ok(());
        }
        let total: usize = table.iter().map(|&l| usize::from(l)).sum();
        let mut data = vec![0u8; total];
        if r.read_exact(&mut data).is_err() {
            return Ok(());
        }
        if *serial.get_or_insert(this) != this {
            continue;
        }
        let mut at = 0;
        for &l in &table {
            let l = usize::from(l);
            packet.extend_from_slice(&data[at..at + l]);
            at += l;
            if packet.len() > HEADER_MAX {
                return Err(format!("a header packet of more than {HEADER_MAX} bytes"));
            }
            if l < 255 {
                packets += 1;
                if packets == 2 {
                    return comment(&packet);
                }
                packet.clear();
            }
        }
    }
    Ok(())
}

fn comment(p: &[u8]) -> Result<(), String> {
    if let Some(rest) = p.strip_prefix(b"\x03vorbis") {
        super::vorbis_comments(rest)
    } else if let Some(rest) = p.strip_prefix(b"OpusTags") {
        super::vorbis_comments(rest)
    } else {
        Ok(())
    }
}
