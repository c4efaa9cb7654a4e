//! A ZIP archive writer for `fmgr/compress` (wcs.md §8.1): entries are *stored* (method 0, no
//! deflate), which every unzip tool reads; the real service's compression level is not
//! documented (UNVERIFIED) and the bytes inside are what a test checks. No ZIP64: the archive is
//! capped below 4 GiB and 65 535 entries, so the classic 32-bit headers always suffice.

use yunup::calendar::DateTime;

/// Local file header, central directory header, end of central directory.
const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// Version 2.0: the lowest that readers expect for stored entries with directories.
const VERSION: u16 = 20;
/// General purpose flag bit 11: names are UTF-8 (keys are).
const UTF8_NAMES: u16 = 1 << 11;

/// The largest archive [`ZipWriter`] makes: the classic format's 32-bit offsets.
pub const MAX_BYTES: u64 = u32::MAX as u64;

#[derive(Default)]
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    /// Append `data` as `name`, modified at `modified_ms` (Unix ms, written as UTC: ZIP's DOS
    /// times carry no zone). Fails once the archive would outgrow the classic format.
    pub fn add(&mut self, name: &str, data: &[u8], modified_ms: u64) -> Result<(), String> {
        let (size, name_len) = (u32::try_from(data.len()), u16::try_from(name.len()));
        let offset = u32::try_from(self.out.len());
        let (Ok(size), Ok(name_len), Ok(offset), Some(entries)) = (size, name_len, offset, self.entries.checked_add(1))
        else {
            return Err(
                "the archive would need ZIP64 (4 GiB or 65 535 entries), which the emulator does not write".into()
            );
        };
        let crc = crc32fast::hash(data);
        let (time, date) = dos_time(modified_ms);
        let common = |out: &mut Vec<u8>| {
            put16(out, VERSION);
            put16(out, UTF8_NAMES);
            put16(out, 0); // stored
            put16(out, time);
            put16(out, date);
            put32(out, crc);
            put32(out, size);
            put32(out, size);
            put16(out, name_len);
            put16(out, 0); // no extra field
        };
        put32(&mut self.out, LOCAL);
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        put32(&mut self.central, CENTRAL);
        put16(&mut self.central, VERSION);
        common(&mut self.central);
        put16(&mut self.central, 0); // no comment
        put16(&mut self.central, 0); // disk 0
        put16(&mut self.central, 0); // internal attributes
        put32(&mut self.central, 0); // external attributes
        put32(&mut self.central, offset);
        self.central.extend_from_slice(name.as_bytes());
        self.entries = entries;
        if self.len() > MAX_BYTES {
            return Err("the archive would need ZIP64 (4 GiB or more), which the emulator does not write".into());
        }
        Ok(())
    }

    /// The size of the archive [`ZipWriter::finish`] would return.
    pub fn len(&self) -> u64 {
        (self.out.len() + self.central.len() + 22) as u64
    }

    pub fn finish(mut self) -> Vec<u8> {
        // `add` kept both parts within u32.
        let (offset, size) = (self.out.len() as u32, self.central.len() as u32);
        self.out.append(&mut self.central);
        put32(&mut self.out, END);
        put16(&mut self.out, 0); // this disk
        put16(&mut self.out, 0); // the disk where the central directory starts
        put16(&mut self.out, self.entries);
        put16(&mut self.out, self.entries);
        put32(&mut self.out, size);
        put32(&mut self.out, offset);
        put16(&mut self.out, 0); // no comment
        self.out
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// MS-DOS time and date (2-second resolution, years 1980–2107, clamped into that range).
fn dos_time(ms: u64) -> (u16, u16) {
    let t = DateTime::from_unix_ms(ms);
    if t.year < 1980 {
        return (0, 1 << 5 | 1); // 1980-01-01 00:00
    }
    let year = t.year.min(2107) as u16 - 1980;
    let time = (t.hour as u16) << 11 | (t.minute as u16) << 5 | (t.second as u16 / 2);
    let date = year << 9 | (t.month as u16) << 5 | t.day as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout byte by byte for one entry, as APPNOTE 4.3.7, 4.3.12 and 4.3.16 give it.
    #[test]
    fn one_stored_entry() {
        let mut zip = ZipWriter::default();
        // 2023-11-14 22:13:20 UTC.
        zip.add("a/b.txt", b"hello", 1_700_000_000_000).unwrap();
        let bytes = zip.finish();
        let crc = 0x3610_a686u32.to_le_bytes(); // CRC-32 of "hello"
        let (time, date) = ((22u16 << 11 | 13 << 5 | 10).to_le_bytes(), (43u16 << 9 | 11 << 5 | 14).to_le_bytes());
        let mut local = vec![0x50, 0x4b, 3, 4, 20, 0, 0, 8, 0, 0];
        local.extend_from_slice(&[time, date].concat());
        local.extend_from_slice(&crc);
        local.extend_from_slice(&[5, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0]);
        local.extend_from_slice(b"a/b.txthello");
        assert_eq!(&bytes[..local.len()], &local[..]);
        let central = &bytes[local.len()..bytes.len() - 22];
        assert_eq!(&central[..4], &[0x50, 0x4b, 1, 2]);
        assert_eq!(central.len(), 46 + 7);
        assert_eq!(&central[42..46], &[0, 0, 0, 0], "the entry's local header is at 0");
        let end = &bytes[bytes.len() - 22..];
        assert_eq!(&end[..4], &[0x50, 0x4b, 5, 6]);
        assert_eq!(&end[8..12], &[1, 0, 1, 0], "one entry");
        assert_eq!(&end[12..16], &53u32.to_le_bytes(), "central directory size");
        assert_eq!(&end[16..20], &(local.len() as u32).to_le_bytes(), "central directory offset");
    }

    #[test]
    fn an_empty_archive_is_its_end_record() {
        let bytes = ZipWriter::default().finish();
        assert_eq!(bytes.len(), 22);
        assert_eq!(&bytes[..4], &[0x50, 0x4b, 5, 6]);
    }

    #[test]
    fn dates_before_1980_are_clamped() {
        assert_eq!(dos_time(0), (0, 33));
    }
}
