//! The MD5 of a multipart upload's parts in order, taken in the background as they arrive.
//!
//! Wantu's object eTag is the MD5 of the whole object, which no part MD5 gives. Taken at
//! completion, it meant reading and hashing the whole object while the client waited, on one core
//! with the other idle (~1 s per 512 MiB here). Taken as the parts arrive, it overlaps the upload;
//! completion only waits for the last parts. Completion checks that the hashed parts are exactly
//! the ones it assembles (numbers and blobs) and hashes the object itself otherwise (a part
//! replaced after it was hashed, a gap, an emulator restarted mid-upload).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use yunup::hash::{Hasher, Md5};

use super::{Part, Store};

/// The prefixes of the uploads that have one, by upload id.
#[derive(Default)]
pub(super) struct OrderedMd5s {
    uploads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Prefix>>>>,
}

impl OrderedMd5s {
    fn entry(&self, upload_id: &str) -> Arc<tokio::sync::Mutex<Prefix>> {
        let mut uploads = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        uploads.entry(upload_id.to_owned()).or_default().clone()
    }

    fn take(&self, upload_id: &str) -> Option<Arc<tokio::sync::Mutex<Prefix>>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner()).remove(upload_id)
    }
}

/// The MD5 of an upload's parts `first, first + 1, …` that arrived without a gap.
#[derive(Default)]
struct Prefix {
    md5: Md5,
    /// `(number, blob)` of the parts hashed, in order.
    parts: Vec<(u64, String)>,
    /// A part could not be read: completion hashes the object itself.
    broken: bool,
}

impl Store {
    /// Hash in the background the parts of `upload_id` that now continue its prefix (part
    /// numbers from `first`). Call after each part is stored.
    pub fn hash_parts_in_order(&self, upload_id: &str, first: u64) {
        let entry = self.inner.ordered_md5.entry(upload_id);
        let (store, upload_id) = (self.clone(), upload_id.to_owned());
        tokio::spawn(async move {
            let mut prefix = entry.lock().await;
            store.advance(&upload_id, first, &mut prefix).await;
        });
    }

    /// The MD5 (lower-case hex) of `parts`, the ones a completion assembles in this order, when
    /// the background hashing covered exactly them; waits for the hashing under way. The
    /// upload's prefix is forgotten either way.
    pub async fn md5_of_parts_in_order(&self, upload_id: &str, first: u64, parts: &[Part]) -> Option<String> {
        let entry = self.inner.ordered_md5.take(upload_id)?;
        let mut prefix = entry.lock().await;
        self.advance(upload_id, first, &mut prefix).await;
        let same = !prefix.broken
            && prefix.parts.len() == parts.len()
            && prefix.parts.iter().zip(parts).all(|((number, blob), p)| *number == p.number && *blob == p.blob);
        same.then(|| std::mem::take(&mut prefix.md5).finalize().to_hex())
    }

    /// Forget an upload's prefix (it was cancelled).
    pub fn forget_parts_in_order(&self, upload_id: &str) {
        self.inner.ordered_md5.take(upload_id);
    }

    /// Hash the stored parts that continue `prefix`, until one is missing.
    async fn advance(&self, upload_id: &str, first: u64, prefix: &mut Prefix) {
        while !prefix.broken {
            let number = prefix.parts.last().map_or(first, |(n, _)| n + 1);
            let next: Option<(String, i64)> = self
                .db()
                .query_row(
                    "SELECT blob, size FROM parts WHERE upload_id = ?1 AND number = ?2",
                    params![upload_id, number as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .unwrap_or(None);
            let Some((blob, size)) = next else { return };
            let (path, mut md5) = (self.blob_path(&blob), std::mem::take(&mut prefix.md5));
            let hashed =
                tokio::task::spawn_blocking(move || hash_file(path, size as u64, &mut md5).map(|()| md5)).await;
            match hashed {
                Ok(Ok(md5)) => {
                    prefix.md5 = md5;
                    prefix.parts.push((number, blob));
                }
                // Replaced and removed meanwhile, or the task failed.
                _ => prefix.broken = true,
            }
        }
    }
}

/// Feed the `size` bytes of a blob file to `md5`; an error if it has fewer.
fn hash_file(path: PathBuf, size: u64, md5: &mut Md5) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?.take(size);
    let mut buffer = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        match file.read(&mut buffer)? {
            0 if read == size => return Ok(()),
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                md5.update(&buffer[..n]);
                read += n as u64;
            }
        }
    }
}

#[cfg(test)]
impl Store {
    /// How many parts of `upload_id` the background hashing has covered (`None` while it runs).
    pub(super) fn parts_hashed_in_order(&self, upload_id: &str) -> Option<usize> {
        let entry = self.inner.ordered_md5.entry(upload_id);
        let prefix = entry.try_lock().ok()?;
        Some(prefix.parts.len())
    }
}
