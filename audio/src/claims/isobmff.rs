//! ISO base media files (MP4, M4A, an fMP4 relay segment): symphonia's MP4
//! reader allocates what the tables claim before it reads them (a sample of
//! the claimed size, a table of the claimed entry count).
//!
//! The walk reads the box headers and the sample tables only (it seeks
//! past `mdat`) and refuses a box that does not fit in its parent, a table
//! whose entry count does not fit in its box, and a sample larger than the
//! file, so that nothing symphonia allocates can exceed the file's size.

use std::io::{Read, Seek, SeekFrom};

/// Boxes whose payload is a sequence of boxes.
const CONTAINERS: [&[u8; 4]; 12] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts", b"dinf",
    b"udta", b"ilst",
];

/// Deeper than any real file nests.
const MAX_DEPTH: usize = 16;

/// True when `head` (a file's first bytes) starts an ISO base media file.
pub(super) fn looks_like(head: &[u8]) -> bool {
    head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"styp" | b"moov" | b"moof" | b"sidx" | b"mdat" | b"free" | b"skip" | b"wide"
        )
}

/// Checks the file's boxes (see the module's doc); `len` is the file's
/// size. The error says which box claims what.
pub(super) fn check<R: Read + Seek>(r: &mut R, len: u64) -> Result<(), String> {
    let mut walk = Walk { r, file: len };
    walk.boxes(0, len, 0)?;
    walk.r.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(())
}

struct Walk<'a, R> {
    r: &'a mut R,
    file: u64,
}

impl<R: Read + Seek> Walk<'_, R> {
    fn boxes(&mut self, start: u64, end: u64, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("boxes nested deeper than any real file".into());
        }
        let mut pos = start;
        while end.saturating_sub(pos) >= 8 {
            self.r
                .seek(SeekFrom::Start(pos))
                .map_err(|e| e.to_string())?;
            let size32 = self.u32()?;
            let kind = self.kind()?;
            let (header, size) = match size32 {
                0 => (8, end - pos),
                1 => (16, self.u64()?),
                n => (8, u64::from(n)),
            };
            let name = String::from_utf8_lossy(&kind).into_owned();
            // Media data is read sample by sample (each checked against the
            // file), never whole: a truncated file keeps what it holds.
            let size = if matches!(&kind, b"mdat" | b"free" | b"skip" | b"wide") {
                size.min(end - pos).max(header)
            } else {
                size
            };
            if size < header || size > end - pos {
                return Err(format!(
                    "box `{name}` claims {size} bytes where {} remain",
                    end - pos
                ));
            }
            let body = (pos + header, pos + size);
            self.payload(&kind, &name, body, depth)?;
            pos += size;
        }
        Ok(())
    }

    /// One box's payload, `body` = [from, to).
    fn payload(
        &mut self,
        kind: &[u8; 4],
        name: &str,
        (from, to): (u64, u64),
        depth: usize,
    ) -> Result<(), String> {
        let room = to - from;
        if CONTAINERS.contains(&kind) {
            return self.boxes(from, to, depth + 1);
        }
        self.r
            .seek(SeekFrom::Start(from))
            .map_err(|e| e.to_string())?;
        // (size of an entry, bytes before the entries: version, flags, count)
        let (entry, fixed) = match kind {
            // ISO's `meta` has version and flags before its boxes,
            // QuickTime's has not.
            b"meta" => {
                return self
                    .boxes(from + 4, to, depth + 1)
                    .or_else(|_| self.boxes(from, to, depth + 1))
            }
            b"stsd" => return self.sample_entries(from, to, depth),
            b"stco" | b"stss" => (4, 8),
            b"co64" | b"stts" | b"ctts" => (8, 8),
            b"stsc" => (12, 8),
            b"stsz" => return self.stsz(name, room),
            b"stz2" => return self.stz2(name, room),
            b"trun" => return self.trun(name, room),
            b"tfhd" => return self.tfhd(name, room),
            b"trex" => {
                if room < 24 {
                    return Err(format!("box `{name}` is too short"));
                }
                self.skip(16)?;
                let size = self.u32()?;
                return self.sample_size(name, size);
            }
            _ => return Ok(()),
        };
        if room < fixed {
            return Err(format!("box `{name}` is too short"));
        }
        self.skip(4)?;
        let count = u64::from(self.u32()?);
        self.fits(name, count, entry, room - fixed)
    }

    fn fits(&self, name: &str, count: u64, entry: u64, room: u64) -> Result<(), String> {
        if count.saturating_mul(entry) > room {
            return Err(format!(
                "box `{name}` claims {count} entries where {room} bytes hold {}",
                room / entry.max(1)
            ));
        }
        Ok(())
    }

    fn sample_size(&self, name: &str, size: u32) -> Result<(), String> {
        if u64::from(size) > self.file {
            return Err(format!(
                "box `{name}` claims a sample of {size} bytes in a file of {}",
                self.file
            ));
        }
        Ok(())
    }

    fn stsz(&mut self, name: &str, room: u64) -> Result<(), String> {
        if room < 12 {
            return Err(format!("box `{name}` is too short"));
        }
        self.skip(4)?;
        let uniform = self.u32()?;
        let count = u64::from(self.u32()?);
        if uniform != 0 {
            return self.sample_size(name, uniform);
        }
        self.fits(name, count, 4, room - 12)?;
        for _ in 0..count {
            let s = self.u32()?;
            self.sample_size(name, s)?;
        }
        Ok(())
    }

    fn stz2(&mut self, name: &str, room: u64) -> Result<(), String> {
        if room < 12 {
            return Err(format!("box `{name}` is too short"));
        }
        self.skip(7)?;
        let bits = u64::from(self.u8()?);
        let count = u64::from(self.u32()?);
        if count.saturating_mul(bits) / 8 > room - 12 {
            return Err(format!(
                "box `{name}` claims {count} entries its size cannot hold"
            ));
        }
        Ok(())
    }

    fn trun(&mut self, name: &str, room: u64) -> Result<(), String> {
        if room < 8 {
            return Err(format!("box `{name}` is too short"));
        }
        let flags = self.u32()? & 0x00ff_ffff;
        let count = u64::from(self.u32()?);
        let extra = 4 * u64::from(flags & 0x1 != 0) + 4 * u64::from(flags & 0x4 != 0);
        let per = 4 * u64::from((flags & 0xf00).count_ones());
        if room < 8 + extra {
            return Err(format!("box `{name}` is too short"));
        }
        self.fits(name, count, per.max(1), room - 8 - extra)?;
        if flags & 0x200 == 0 {
            return Ok(());
        }
        self.skip(extra as i64)?;
        for _ in 0..count {
            if flags & 0x100 != 0 {
                self.skip(4)?;
            }
            let s = self.u32()?;
            self.sample_size(name, s)?;
            self.skip(4 * i64::from((flags & 0xc00).count_ones()))?;
        }
        Ok(())
    }

    fn tfhd(&mut self, name: &str, room: u64) -> Result<(), String> {
        let flags = if room >= 8 {
            self.u32()? & 0x00ff_ffff
        } else {
            0
        };
        if flags & 0x10 == 0 {
            return Ok(());
        }
        let before =
            8 + 8 * u64::from(flags & 0x1 != 0) + 4 * u64::from((flags & 0xa).count_ones());
        if room < before + 4 {
            return Err(format!("box `{name}` is too short"));
        }
        self.skip(before as i64 - 4)?;
        let s = self.u32()?;
        self.sample_size(name, s)
    }

    /// `stsd`: version and flags, an entry count, then sample entries; an
    /// audio entry's own boxes (esds, dOps, dfLa...) follow its fields.
    fn sample_entries(&mut self, from: u64, to: u64, depth: usize) -> Result<(), String> {
        if to - from < 8 {
            return Err("box `stsd` is too short".into());
        }
        let mut pos = from + 8;
        while to.saturating_sub(pos) >= 8 {
            self.r
                .seek(SeekFrom::Start(pos))
                .map_err(|e| e.to_string())?;
            let size = u64::from(self.u32()?);
            let kind = self.kind()?;
            let name = String::from_utf8_lossy(&kind).into_owned();
            if size < 8 || size > to - pos {
                return Err(format!(
                    "sample entry `{name}` claims {size} bytes where {} remain",
                    to - pos
                ));
            }
            // A sound sample entry: 28 bytes of fields (version 0), 16 or
            // 36 more in QuickTime's versions 1 and 2.
            if size >= 36 {
                self.skip(8)?;
                let fields = match self.u16()? {
                    0 => 28,
                    1 => 44,
                    2 => 64,
                    _ => size - 8,
                };
                if 8 + fields <= size {
                    self.boxes(pos + 8 + fields, pos + size, depth + 1)?;
                }
            }
            pos += size;
        }
        Ok(())
    }

    fn skip(&mut self, n: i64) -> Result<(), String> {
        self.r
            .seek(SeekFrom::Current(n))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|_| "the file ends inside a box".to_string())?;
        Ok(b)
    }

    fn kind(&mut self) -> Result<[u8; 4], String> {
        self.bytes::<4>()
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.bytes()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.bytes()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn checked(data: &[u8]) -> Result<(), String> {
        check(&mut Cursor::new(data), data.len() as u64)
    }

    /// A box: size, type, payload.
    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn tables_that_claim_more_than_their_box_holds_are_refused() {
        let ftyp = boxed(b"ftyp", b"isom\0\0\0\0isom");
        // stco: 1 billion chunk offsets in 8 bytes.
        let stco = boxed(b"stco", &[0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 1]);
        let moov = boxed(
            b"moov",
            &boxed(
                b"trak",
                &boxed(b"mdia", &boxed(b"minf", &boxed(b"stbl", &stco))),
            ),
        );
        let file = [ftyp.clone(), moov].concat();
        let e = checked(&file).unwrap_err();
        assert!(
            e.contains("stco") && e.contains("1073741824 entries"),
            "{e}"
        );
        // A box larger than what holds it.
        let mut big = boxed(b"moov", &[0; 8]);
        big[3] = 200;
        let e = checked(&[ftyp.clone(), big].concat()).unwrap_err();
        assert!(e.contains("`moov` claims 200 bytes"), "{e}");
        // A fragment's sample larger than the file.
        let trun = boxed(b"trun", &[0, 0, 0x02, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
        let moof = boxed(b"moof", &boxed(b"traf", &trun));
        let e = checked(&[ftyp, moof].concat()).unwrap_err();
        assert!(
            e.contains("`trun` claims a sample of 4278190080 bytes"),
            "{e}"
        );
    }
}
