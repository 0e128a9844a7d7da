//! Lengths a file claims, checked before symphonia reads it.
//!
//! Symphonia's readers allocate what a header claims before they read it:
//! an MP4 sample of the size its table says, a FLAC or Ogg comment, a WAV
//! INFO text or an ID3v2 frame of the length its header says. A damaged file of a few KB can so ask for 4 GiB,
//! and a failed allocation aborts the process: there is no panic to contain
//! (crate::contain). The fuzzer found both (audio/fuzz/regressions:
//! `isomp4-sample-size-4gib`, `flac-comment-4gib`).
//!
//! Each check reads only headers and refuses a length larger than what
//! holds it, so that nothing symphonia allocates can exceed the file.

mod flac;
mod id3v2;
mod isobmff;
mod ogg;
mod riff;

use std::io::{Read, Seek, SeekFrom};

/// Checks the file `r` of `len` bytes whose first bytes are `head`, by
/// its kind (the others pass). Leaves `r` at its start.
pub(crate) fn check<R: Read + Seek>(r: &mut R, len: u64, head: &[u8]) -> Result<(), String> {
    let verdict = if isobmff::looks_like(head) {
        isobmff::check(r, len).map_err(|why| format!("a damaged MP4: {why}"))
    } else if head.starts_with(b"fLaC") {
        flac::check(r, len).map_err(|why| format!("a damaged FLAC file: {why}"))
    } else if head.starts_with(b"OggS") {
        ogg::check(r, len).map_err(|why| format!("a damaged Ogg file: {why}"))
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WAVE") {
        riff::check(r, len).map_err(|why| format!("a damaged WAV file: {why}"))
    } else if head.starts_with(b"ID3") {
        id3v2::check(r, len).map_err(|why| format!("a damaged tag: {why}"))
    } else {
        Ok(())
    };
    r.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    verdict
}

/// An fMP4 relay segment, in memory.
pub(crate) fn check_fmp4(bytes: &[u8]) -> Result<(), String> {
    isobmff::check(&mut std::io::Cursor::new(bytes), bytes.len() as u64)
        .map_err(|why| format!("a damaged fMP4 segment: {why}"))
}

/// Vorbis comments (FLAC's VORBIS_COMMENT block, Vorbis's and Opus's
/// comment packets): little-endian lengths, each within `data`.
fn vorbis_comments(data: &[u8]) -> Result<(), String> {
    let mut c = Comments { data, at: 0 };
    let Some(vendor) = c.le() else {
        return Ok(()); // too short to claim anything
    };
    c.take(vendor, "vendor")?;
    let Some(count) = c.le() else {
        return Ok(());
    };
    for _ in 0..count {
        let n = c
            .le()
            .ok_or_else(|| "the comments end before their count".to_string())?;
        c.take(n, "text")?;
    }
    Ok(())
}

struct Comments<'a> {
    data: &'a [u8],
    at: usize,
}

impl Comments<'_> {
    /// The next little-endian length.
    fn le(&mut self) -> Option<u64> {
        let b = self.data.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    fn take(&mut self, n: u64, what: &str) -> Result<(), String> {
        let left = (self.data.len() - self.at) as u64;
        if n > left {
            return Err(format!(
                "a comment's {what} claims {n} bytes where {left} remain"
            ));
        }
        self.at += n as usize;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::Path;

    fn file(rel: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
    }

    fn checked(data: &[u8]) -> Result<(), String> {
        check(
            &mut Cursor::new(data),
            data.len() as u64,
            &data[..data.len().min(16)],
        )
    }

    #[test]
    fn every_fixture_passes() {
        for f in [
            "tiny.flac",
            "tiny.ogg",
            "tone-1s.m4a",
            "tiny.mp3",
            "tiny.wav",
            "tiny.aac",
        ] {
            assert_eq!(
                checked(&file(&format!("tests/fixtures/{f}"))),
                Ok(()),
                "{f}"
            );
        }
    }

    #[test]
    fn the_fuzzers_findings_are_refused_before_symphonia_allocates() {
        assert_eq!(
            checked(&file("fuzz/regressions/isomp4-sample-size-4gib")).unwrap_err(),
            "a damaged MP4: box `stsz` claims a sample of 4294965850 bytes in a file of 4940"
        );
        let e = checked(&file("fuzz/regressions/flac-comment-4gib")).unwrap_err();
        assert!(e.starts_with("a damaged FLAC file: "), "{e}");
        assert!(e.contains("claims"), "{e}");
    }

    #[test]
    fn a_wav_info_text_or_an_id3_frame_that_claims_4_gib_is_refused() {
        // RIFF/WAVE, a LIST/INFO whose INAM claims 4 GiB, then data.
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend_from_slice(b"LIST");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(b"INFOINAM");
        wav.extend_from_slice(&u32::MAX.to_le_bytes());
        wav.extend_from_slice(b"Loa\0");
        wav.extend_from_slice(b"data\0\0\0\0");
        assert_eq!(
            checked(&wav),
            Err(
                "a damaged WAV file: INFO chunk INAM claims 4294967295 bytes where 4 remain".into()
            )
        );
        // ID3v2.3, a TIT2 frame claiming 4 GiB in a 20-byte tag.
        let mut id3 = b"ID3\x03\0\0\0\0\0\x14TIT2".to_vec();
        id3.extend_from_slice(&u32::MAX.to_be_bytes());
        id3.extend_from_slice(&[0; 12]);
        assert_eq!(
            checked(&id3),
            Err("a damaged tag: ID3v2 frame TIT2 claims 4294967295 bytes where 10 remain".into())
        );
    }

    #[test]
    fn comments_that_claim_more_than_they_hold_are_refused() {
        let mut c = Vec::new();
        c.extend_from_slice(&3u32.to_le_bytes());
        c.extend_from_slice(b"Loa");
        c.extend_from_slice(&1u32.to_le_bytes());
        c.extend_from_slice(&5u32.to_le_bytes());
        c.extend_from_slice(b"A=1");
        assert_eq!(
            vorbis_comments(&c),
            Err("a comment's text claims 5 bytes where 3 remain".into())
        );
        c.extend_from_slice(b"23");
        assert_eq!(vorbis_comments(&c), Ok(()));
    }
}
