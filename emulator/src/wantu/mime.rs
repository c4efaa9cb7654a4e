//! MIME types for Wantu uploads (wantu.md §2.1 `detectMime`/`mimeLimit`, §13): a few magic
//! numbers, the file extension, image dimensions for `${width}`/`${height}`, and `mimeLimit`.

/// How many leading bytes of a file are read for sniffing and image dimensions. JPEG headers can
/// carry a large EXIF block before the frame header.
pub const HEAD_BYTES: u64 = 256 * 1024;

const OCTET_STREAM: &str = "application/octet-stream";

/// The MIME type of content that starts with `head`, from its magic number.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        Some(if &head[8..12] == b"qt  " { "video/quicktime" } else { "video/mp4" })
    } else if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

const BY_EXTENSION: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("flv", "video/x-flv"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("wav", "audio/wav"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("json", "application/json"),
    ("txt", "text/plain"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("js", "application/javascript"),
];

/// The MIME type of a file name's extension.
pub fn by_extension(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    BY_EXTENSION.iter().find(|(e, _)| *e == ext).map(|(_, m)| *m)
}

/// The extension for `${ext}`: from the MIME type, else from the file name, else "".
pub fn extension(mime: &str, file_name: &str) -> String {
    let preferred = match mime {
        "image/jpeg" => Some("jpg"),
        "text/html" => Some("html"),
        _ => BY_EXTENSION.iter().find(|(_, m)| *m == mime).map(|(e, _)| *e),
    };
    match preferred {
        Some(e) => e.to_owned(),
        None => file_name
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or("")
            .to_ascii_lowercase(),
    }
}

/// The MIME type to store: sniffed when `detect` (the policy's `detectMime`), else the part's
/// declared type unless it is the generic `application/octet-stream`, else the extension.
pub fn decide(detect: bool, head: &[u8], declared: Option<&str>, file_name: &str) -> String {
    if detect && let Some(m) = sniff(head) {
        return m.to_owned();
    }
    let declared = declared.map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if let Some(d) = declared.filter(|d| !d.is_empty() && d != OCTET_STREAM && d.contains('/')) {
        return d;
    }
    by_extension(file_name).unwrap_or(OCTET_STREAM).to_owned()
}

/// `mimeLimit`: types separated by `;` (or `,`), each exact or `type/*`; `*/*` or `*` allows all.
/// An empty limit allows everything.
pub fn allowed(limit: &str, mime: &str) -> bool {
    let mime = mime.to_ascii_lowercase();
    let mut any = false;
    for item in limit.split([';', ',']).map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()) {
        any = true;
        if item == "*" || item == "*/*" || item == mime {
            return true;
        }
        if let Some(prefix) = item.strip_suffix("/*")
            && mime.split('/').next() == Some(prefix)
        {
            return true;
        }
    }
    !any
}

/// Width and height of a PNG, GIF, JPEG or WebP image from its first bytes.
pub fn dimensions(head: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| head.get(i..i + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])));
    let le16 = |i: usize| head.get(i..i + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
    let be32 = |i: usize| head.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let le24 = |i: usize| head.get(i..i + 3).map(|b| u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16);
    match sniff(head)? {
        "image/png" => Some((be32(16)?, be32(20)?)),
        "image/gif" => Some((le16(6)?, le16(8)?)),
        "image/jpeg" => {
            let mut i = 2;
            while i + 4 <= head.len() {
                if head[i] != 0xff {
                    return None;
                }
                let marker = head[i + 1];
                if marker == 0xff {
                    i += 1;
                    continue;
                }
                if marker == 0xd8 || marker == 0x01 || (0xd0..=0xd7).contains(&marker) {
                    i += 2;
                    continue;
                }
                let len = be16(i + 2)? as usize;
                let is_frame = (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
                if is_frame {
                    return Some((be16(i + 7)?, be16(i + 5)?));
                }
                if len < 2 {
                    return None;
                }
                i += 2 + len;
            }
            None
        }
        "image/webp" => match head.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let b = head.get(21..25)?;
                let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_and_fallbacks() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"\x00\x00\x00\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(decide(true, b"GIF89a..", Some("text/plain"), "a.txt"), "image/gif");
        assert_eq!(decide(false, b"GIF89a..", Some("text/plain"), "a.gif"), "text/plain");
        assert_eq!(decide(true, b"x", Some("application/octet-stream"), "a.JPG"), "image/jpeg");
        assert_eq!(decide(true, b"x", None, "noext"), "application/octet-stream");
        assert_eq!(extension("image/jpeg", "x.png"), "jpg");
        assert_eq!(extension("application/octet-stream", "x.Bin"), "bin");
        assert_eq!(extension("application/octet-stream", "x"), "");
    }

    #[test]
    fn limits() {
        assert!(allowed("image/*", "image/png"));
        assert!(!allowed("image/*", "video/mp4"));
        assert!(allowed("image/png;video/*", "video/mp4"));
        assert!(allowed("", "anything/at-all"));
        assert!(allowed("*/*", "video/mp4"));
        assert!(!allowed("image/png", "image/jpeg"));
    }

    #[test]
    fn image_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png), Some((640, 480)));
        assert_eq!(dimensions(b"GIF89a\x0a\x00\x14\x00"), Some((10, 20)));
        // SOI, an APP0 segment, then SOF0 with height 3, width 5.
        let jpeg = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08\x00\x03\x00\x05\x03";
        assert_eq!(dimensions(jpeg), Some((5, 3)));
        assert_eq!(dimensions(b"\xff\xd8\xff"), None);
        assert_eq!(dimensions(b"plain"), None);
    }
}
