//! The MD5 of a multipart upload's parts in order, taken in the background as they arrive.
//!
//! Wantu's object eTag is the MD5 of the whole object, which no part MD5 gives. Taken at
//! completion, it meant reading and hashing the whole object while the client waited, on one core
//! with the other idle (~1 s per 512 MiB here). Taken as the parts arrive, it overlaps the upload;
//! completion only waits for the last parts. Completion checks that the hashed parts are exactly
//! the ones it assembles (numbers and blobs) and hashes the object itself otherwise (a part
//! replaced after it was hashed, a gap, an emulator restarted mid-upload).
//!
//! A part's own MD5 (its eTag) is taken in the same pass, when the part continues the prefix:
//! [`Store::md5_of_new_part`] feeds its bytes to both MD5s at once ([`Md5::update_both`]), which
//! costs what one MD5 costs. Hashed apart, a part was read by two MD5 passes, 64 % of the
//! emulator's CPU time in a Wantu upload (`perf`), on a machine the client shares.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use yunup::hash::{Hasher, Md5};

use super::{Blob, Part, Store, StoreResult};

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

    /// The MD5 (lower-case hex) of part `number` of `upload_id`, written as `blob` and not yet
    /// stored ([`Store::put_part`] comes next, with this MD5). When the part continues the
    /// prefix (parts `first..number` hashed), it is hashed once for both MD5s and joins the
    /// prefix; else alone, and [`Store::hash_parts_in_order`] takes it later. Parts arriving
    /// together are hashed one after another here, in order, on one thread: ~2.5× the pace of
    /// an upload on loopback.
    pub async fn md5_of_new_part(&self, upload_id: &str, first: u64, number: u64, blob: &Blob) -> StoreResult<String> {
        let (path, size) = (self.blob_path(&blob.id), blob.size);
        let entry = self.inner.ordered_md5.entry(upload_id);
        let mut prefix = entry.lock().await;
        self.advance(upload_id, first, &mut prefix).await;
        // Keep the prefix locked only while the part is hashed into it.
        let mut joining = (!prefix.broken && prefix.next(first) == number).then_some(prefix);
        let mut whole = joining.as_mut().map(|prefix| std::mem::take(&mut prefix.md5));
        let hashed = tokio::task::spawn_blocking(move || {
            let mut part = Md5::default();
            read_file(path, size, |data| match &mut whole {
                Some(whole) => Md5::update_both(&mut part, whole, data),
                None => part.update(data),
            })
            .map(|()| (part, whole))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|hashed| hashed);
        match hashed {
            Ok((part, whole)) => {
                if let (Some(mut prefix), Some(whole)) = (joining, whole) {
                    prefix.md5 = whole;
                    prefix.parts.push((number, blob.id.clone()));
                }
                Ok(part.finalize().to_hex())
            }
            Err(e) => {
                if let Some(mut prefix) = joining {
                    prefix.broken = true;
                }
                Err(e.into())
            }
        }
    }

    /// Forget an upload's prefix (it was cancelled).
    pub fn forget_parts_in_order(&self, upload_id: &str) {
        self.inner.ordered_md5.take(upload_id);
    }

    /// Hash the stored parts that continue `prefix`, until one is missing.
    async fn advance(&self, upload_id: &str, first: u64, prefix: &mut Prefix) {
        while !prefix.broken {
            let number = prefix.next(first);
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
            let hashed = tokio::task::spawn_blocking(move || {
                read_file(path, size as u64, |data| md5.update(data)).map(|()| md5)
            })
            .await;
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

impl Prefix {
    /// The number of the part that would continue the prefix.
    fn next(&self, first: u64) -> u64 {
        self.parts.last().map_or(first, |(n, _)| n + 1)
    }
}

/// Feed the `size` bytes of a blob file to `consume`, 1 MiB at a time; an error if it has fewer.
fn read_file(path: PathBuf, size: u64, mut consume: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?.take(size);
    let mut buffer = vec![0u8; 1 << 20];
    let mut read = 0u64;
    loop {
        match file.read(&mut buffer)? {
            0 if read == size => return Ok(()),
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                consume(&buffer[..n]);
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

    /// Whether the background hashing keeps a prefix for `upload_id`.
    pub(super) fn has_prefix_in_order(&self, upload_id: &str) -> bool {
        self.inner.ordered_md5.uploads.lock().unwrap().contains_key(upload_id)
    }
}
