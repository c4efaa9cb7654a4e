//! Durable storage for the three emulated services: object bytes in files, metadata in SQLite.
//!
//! The rule that keeps it crash-safe (`kill -9` at any instant): bytes are written to a temporary
//! file and renamed into `blobs/` **before** the metadata row that points at them is committed;
//! an old blob is deleted only **after** the commit that stops pointing at it. A crash therefore
//! leaves at worst an unreferenced blob, which [`Store::open`] collects. Nothing half-written is
//! ever reachable as an object, and nothing acknowledged is lost (written bytes are in the kernel
//! once `write` returns, and SQLite in WAL mode survives a process crash with every committed
//! transaction).
//!
//! That is the guarantee asked of the emulator. Surviving a power loss or a kernel crash as well
//! takes an `fsync` of every blob before its row commits ([`Durability::PowerLoss`], the
//! emulator's `--fsync`): off by default, because it makes the emulator as slow as the disk (a
//! 4 MiB part + fdatasync took 25–60 ms on the CI machines), so that benchmarks against it would
//! measure the disk instead of the client.
//!
//! Services are kept apart by a `service` column: the same bucket name may exist in WCS, UFile
//! and Wantu at once, with different contents, as on the real clouds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::io::AsyncWriteExt;
use yunup::hash::{Crc32, ETAG_BLOCK_SIZE, Hasher, Md5, Sha1};

mod ordered_md5;

/// Which emulated service a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Wcs,
    Ufile,
    Wantu,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Wcs => "wcs",
            Service::Ufile => "ufile",
            Service::Wantu => "wantu",
        }
    }
}

/// A storage failure. Handlers turn it into their service's own error body.
#[derive(Debug)]
pub enum StoreError {
    /// The object exists and the caller asked not to overwrite it.
    Exists,
    /// The bucket, object, upload or part is not there.
    NotFound(&'static str),
    /// The request body could not be read (client went away, connection reset).
    Body(String),
    /// Disk or database trouble: a 500.
    Internal(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Exists => f.write_str("the object already exists"),
            StoreError::NotFound(what) => write!(f, "{what} does not exist"),
            StoreError::Body(e) => write!(f, "could not read the request body: {e}"),
            StoreError::Internal(e) => write!(f, "storage error: {e}"),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Internal(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Internal(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Hashes of a blob, computed while it was written (one pass over the bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digests {
    /// WCS `hash` of the whole blob.
    pub wcs_etag: String,
    /// UFile object `ETag` of the whole blob.
    pub ufile_etag: String,
    /// URL-safe base64 of SHA-1 (the UFile *part* etag). `None` for an object assembled from
    /// parts without a second pass over its bytes (see [`Store::concatenate`]).
    pub sha1_b64: Option<String>,
    /// Lower-case hex MD5 (UFile Content-MD5, Wantu part eTag, WCS bput checksum). `None` as for
    /// `sha1_b64`: WCS and UFile never show the MD5 of a multipart object.
    pub md5_hex: Option<String>,
    /// CRC-32 (IEEE) of the blob; 0 where it was not computed ([`DigestSet::Md5Only`]).
    pub crc32: u32,
}

impl Digests {
    /// The MD5 as lower-case hex, "" when it was not computed (matches no client's MD5).
    pub fn md5(&self) -> &str {
        self.md5_hex.as_deref().unwrap_or("")
    }

    /// The SHA-1 as URL-safe base64, "" when it was not computed.
    pub fn sha1(&self) -> &str {
        self.sha1_b64.as_deref().unwrap_or("")
    }
}

/// An optional digest in a `NOT NULL` column: "" stands for "not computed".
fn optional_text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(Some(r.get::<_, String>(i)?).filter(|t| !t.is_empty()))
}

/// Which digests of a blob are needed: each costs a pass of the CPU over every byte (MD5 the
/// most), and many blobs never show some of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestSet {
    /// The SHA-1 based etags and the CRC-32 are enough (a UFile part sent without Content-MD5; a
    /// WCS or UFile multipart object: they never show its MD5).
    Etags,
    /// The MD5 too (WCS shows it as a chunk's checksum, UFile checks Content-MD5).
    WithMd5,
    /// Only the MD5: Wantu's parts and objects, whose eTag is their MD5 and which no other
    /// service sees (objects belong to one service). Their etags are "", `sha1_b64` is `None`
    /// and `crc32` is 0. Skipping the SHA-1s and the CRC-32 took a quarter of the emulator's
    /// CPU time off a Wantu multipart upload (`perf`).
    Md5Only,
    /// None: the caller takes the MD5 afterwards and sets it. A Wantu part's MD5 is taken in the
    /// same pass as its upload's whole MD5 ([`Store::md5_of_new_part`]), not while it arrives.
    Unhashed,
}

/// A blob that is on disk, synced, under `blobs/`.
#[derive(Clone, Debug)]
pub struct Blob {
    pub id: String,
    pub size: u64,
    pub digests: Digests,
}

/// What a service stores with an object besides its bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObjectAttrs<'a> {
    /// MIME type ("" when unknown: served as `application/octet-stream`).
    pub mime: &'a str,
    /// Service-specific metadata as JSON text ("{}" for none).
    pub meta: &'a str,
}

/// An object as the services see it.
#[derive(Clone, Debug)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub blob: String,
    pub mime: String,
    pub created_ms: u64,
    pub digests: Digests,
    /// Service-specific metadata (user meta headers, expiry days, ...), as JSON text.
    pub meta: String,
}

/// An in-progress multipart upload (UFile uploadId, Wantu uploadId, WCS block).
#[derive(Clone, Debug)]
pub struct Upload {
    pub id: String,
    pub service: Service,
    pub bucket: String,
    pub key: String,
    pub created_ms: u64,
    /// Service-specific state as JSON text.
    pub info: String,
}

/// One stored part of an upload.
#[derive(Clone, Debug)]
pub struct Part {
    pub number: u64,
    pub blob: String,
    pub size: u64,
    pub digests: Digests,
    pub info: String,
}

/// A background job (WCS `fmgr` and `fops`): the service's own state as JSON text, updated as
/// it runs, so that a restarted emulator picks unfinished jobs up again.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub state: String,
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Unique ids that are URL-, path- and comma-safe (hex): blobs, upload ids, WCS block ids.
pub fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let seed = format!("{nanos}:{n}:{}", std::process::id());
    Sha1::digest(seed.as_bytes()).to_hex()[..32].to_owned()
}

/// The store. Cheap to clone; all clones share one database connection.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    db: Mutex<Connection>,
    durability: Durability,
    ordered_md5: ordered_md5::OrderedMd5s,
}

/// What an acknowledged write survives (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// A crash of the emulator (`kill -9`): bytes and rows are in the kernel before a reply.
    #[default]
    ProcessCrash,
    /// A power loss too: every blob is synced to disk, and SQLite syncs every commit.
    PowerLoss,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    service TEXT NOT NULL, name TEXT NOT NULL, private INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    info TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (service, name));
CREATE TABLE IF NOT EXISTS objects (
    service TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
    size INTEGER NOT NULL, blob TEXT NOT NULL, mime TEXT NOT NULL, created_ms INTEGER NOT NULL,
    wcs_etag TEXT NOT NULL, ufile_etag TEXT NOT NULL, sha1_b64 TEXT NOT NULL, md5_hex TEXT NOT NULL,
    crc32 INTEGER NOT NULL, meta TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (service, bucket, key));
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, service TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
    created_ms INTEGER NOT NULL, info TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    wcs_etag TEXT NOT NULL, ufile_etag TEXT NOT NULL, sha1_b64 TEXT NOT NULL, md5_hex TEXT NOT NULL,
    crc32 INTEGER NOT NULL, info TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (upload_id, number));
CREATE TABLE IF NOT EXISTS folders (
    service TEXT NOT NULL, bucket TEXT NOT NULL, path TEXT NOT NULL, created_ms INTEGER NOT NULL,
    PRIMARY KEY (service, bucket, path));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, service TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
";

impl Store {
    /// [`Store::open_with`] the default durability.
    #[cfg(test)]
    pub fn open(dir: &Path) -> StoreResult<Store> {
        Store::open_with(dir, Durability::default())
    }

    /// Open (or create) the store under `dir`, and delete blobs that no row references (left by
    /// a crash between writing bytes and committing their row).
    pub fn open_with(dir: &Path, durability: Durability) -> StoreResult<Store> {
        std::fs::create_dir_all(dir.join("blobs"))?;
        std::fs::create_dir_all(dir.join("tmp"))?;
        let db = Connection::open(dir.join("meta.sqlite3"))?;
        let synchronous = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        db.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA busy_timeout=5000;"
        ))?;
        db.execute_batch(SCHEMA)?;
        let inner = Inner { dir: dir.to_owned(), db: Mutex::new(db), durability, ordered_md5: Default::default() };
        let store = Store { inner: Arc::new(inner) };
        store.collect_garbage()?;
        Ok(store)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.inner.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Path of a committed blob.
    pub fn blob_path(&self, blob: &str) -> PathBuf {
        self.inner.dir.join("blobs").join(blob)
    }

    fn collect_garbage(&self) -> StoreResult<()> {
        for entry in std::fs::read_dir(self.inner.dir.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        let referenced: std::collections::HashSet<String> = {
            let db = self.db();
            let mut stmt = db.prepare("SELECT blob FROM objects UNION SELECT blob FROM parts")?;
            stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?
        };
        for entry in std::fs::read_dir(self.inner.dir.join("blobs"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    // ---- buckets -------------------------------------------------------------------------------

    /// Create the bucket if missing; an existing bucket keeps its contents and gets `private`.
    pub fn ensure_bucket(&self, service: Service, name: &str, private: bool) -> StoreResult<()> {
        self.db().execute(
            "INSERT INTO buckets (service, name, private, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (service, name) DO UPDATE SET private = excluded.private",
            params![service.as_str(), name, private, now_ms() as i64],
        )?;
        Ok(())
    }

    /// `Some(private)` when the bucket exists.
    pub fn bucket(&self, service: Service, name: &str) -> StoreResult<Option<bool>> {
        Ok(self
            .db()
            .query_row(
                "SELECT private FROM buckets WHERE service = ?1 AND name = ?2",
                params![service.as_str(), name],
                |r| r.get::<_, bool>(0),
            )
            .optional()?)
    }

    /// `(name, private, created_ms)` of every bucket of a service.
    pub fn buckets(&self, service: Service) -> StoreResult<Vec<(String, bool, u64)>> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT name, private, created_ms FROM buckets WHERE service = ?1 ORDER BY name")?;
        let rows = stmt.query_map(params![service.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- blobs ---------------------------------------------------------------------------------

    /// Start writing a new blob, with every digest.
    pub async fn blob_writer(&self) -> StoreResult<BlobWriter> {
        self.blob_writer_with(DigestSet::WithMd5).await
    }

    /// Start writing a new blob computing only the digests of `set`.
    pub async fn blob_writer_with(&self, set: DigestSet) -> StoreResult<BlobWriter> {
        self.new_blob_writer(BlobHashes::of(set)).await
    }

    /// Start writing a new blob through `hashes` (none for bytes whose digests are known).
    async fn new_blob_writer(&self, hashes: BlobHashes) -> StoreResult<BlobWriter> {
        let id = new_id();
        let tmp = self.inner.dir.join("tmp").join(&id);
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(BlobWriter { store: self.clone(), id, tmp, file, size: 0, hashes })
    }

    /// Write a whole request body stream into a new blob. Memory stays at one chunk.
    pub async fn write_blob<S, E>(&self, body: S, limit: Option<u64>) -> StoreResult<Blob>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        self.write_blob_with(body, limit, DigestSet::WithMd5).await
    }

    /// [`Store::write_blob`] computing only the digests of `set`.
    pub async fn write_blob_with<S, E>(&self, body: S, limit: Option<u64>, set: DigestSet) -> StoreResult<Blob>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut writer = self.blob_writer_with(set).await?;
        writer.write_stream(body, limit).await?;
        writer.commit().await
    }

    /// Copy byte range `[start, start+len)` of a committed blob into a writer.
    pub async fn copy_blob_range(&self, blob: &str, start: u64, len: u64, into: &mut BlobWriter) -> StoreResult<()> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = tokio::fs::File::open(self.blob_path(blob)).await?;
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let mut reader = file.take(len);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            into.write(&buf[..n]).await?;
        }
        Ok(())
    }

    fn remove_blob_later(&self, blob: Option<String>) {
        if let Some(blob) = blob {
            let _ = std::fs::remove_file(self.blob_path(&blob));
        }
    }

    /// Delete a committed blob that no row points at: an upload refused after its bytes were
    /// stored (bad digest, size or type limit). Never call it on a blob a row references.
    pub fn discard_blob(&self, blob: &Blob) {
        self.remove_blob_later(Some(blob.id.clone()));
    }

    // ---- objects -------------------------------------------------------------------------------

    /// Store `blob` as `bucket/key`. With `overwrite == false` an existing object is an
    /// [`StoreError::Exists`] and the new blob is discarded.
    pub fn put_object(
        &self,
        service: Service,
        bucket: &str,
        key: &str,
        blob: &Blob,
        attrs: &ObjectAttrs<'_>,
        overwrite: bool,
    ) -> StoreResult<Object> {
        let ObjectAttrs { mime, meta } = *attrs;
        let created_ms = now_ms();
        let old = {
            let mut db = self.db();
            let tx = db.transaction()?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3",
                    params![service.as_str(), bucket, key],
                    |r| r.get(0),
                )
                .optional()?;
            if old.is_some() && !overwrite {
                drop(tx);
                self.remove_blob_later(Some(blob.id.clone()));
                return Err(StoreError::Exists);
            }
            let d = &blob.digests;
            tx.execute(
                "INSERT OR REPLACE INTO objects
                 (service, bucket, key, size, blob, mime, created_ms, wcs_etag, ufile_etag, sha1_b64, md5_hex, crc32, meta)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    service.as_str(),
                    bucket,
                    key,
                    blob.size as i64,
                    blob.id,
                    mime,
                    created_ms as i64,
                    d.wcs_etag,
                    d.ufile_etag,
                    d.sha1(),
                    d.md5(),
                    d.crc32,
                    meta
                ],
            )?;
            tx.commit()?;
            old
        };
        self.remove_blob_later(old);
        Ok(Object {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: blob.size,
            blob: blob.id.clone(),
            mime: mime.to_owned(),
            created_ms,
            digests: blob.digests.clone(),
            meta: meta.to_owned(),
        })
    }

    pub fn object(&self, service: Service, bucket: &str, key: &str) -> StoreResult<Option<Object>> {
        Ok(self
            .db()
            .query_row(
                &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3"),
                params![service.as_str(), bucket, key],
                object_row,
            )
            .optional()?)
    }

    /// Objects of a bucket whose key starts with `prefix` and sorts after `marker`, in key order.
    pub fn list_objects(
        &self,
        service: Service,
        bucket: &str,
        prefix: &str,
        marker: &str,
        limit: usize,
    ) -> StoreResult<Vec<Object>> {
        let db = self.db();
        let mut stmt = db.prepare(&format!(
            "SELECT {OBJECT_COLUMNS} FROM objects WHERE service = ?1 AND bucket = ?2
             AND substr(key, 1, length(?3)) = ?3 AND key > ?4 ORDER BY key LIMIT ?5"
        ))?;
        let rows = stmt.query_map(params![service.as_str(), bucket, prefix, marker, limit as i64], object_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An object with the same content (UFile upload-hit, by etag and size).
    pub fn object_by_content(&self, service: Service, ufile_etag: &str, size: u64) -> StoreResult<Option<Object>> {
        Ok(self
            .db()
            .query_row(
                &format!(
                    "SELECT {OBJECT_COLUMNS} FROM objects WHERE service = ?1 AND ufile_etag = ?2 AND size = ?3 LIMIT 1"
                ),
                params![service.as_str(), ufile_etag, size as i64],
                object_row,
            )
            .optional()?)
    }

    pub fn delete_object(&self, service: Service, bucket: &str, key: &str) -> StoreResult<Object> {
        let object = self.object(service, bucket, key)?.ok_or(StoreError::NotFound("the object"))?;
        self.db().execute(
            "DELETE FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3",
            params![service.as_str(), bucket, key],
        )?;
        self.remove_blob_later(Some(object.blob.clone()));
        Ok(object)
    }

    /// Give `bucket/key` a new bucket and key, keeping its bytes and metadata, in one transaction.
    /// An object at the destination is replaced (its blob removed after the commit) when
    /// `overwrite`, else [`StoreError::Exists`]. Moving an object onto itself changes nothing.
    pub fn rename_object(
        &self,
        service: Service,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
    ) -> StoreResult<Object> {
        let old = {
            let mut db = self.db();
            let tx = db.transaction()?;
            let object = tx
                .query_row(
                    &format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3"),
                    params![service.as_str(), from.0, from.1],
                    object_row,
                )
                .optional()?
                .ok_or(StoreError::NotFound("the object"))?;
            if from == to {
                return Ok(object);
            }
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3",
                    params![service.as_str(), to.0, to.1],
                    |r| r.get(0),
                )
                .optional()?;
            if old.is_some() && !overwrite {
                return Err(StoreError::Exists);
            }
            tx.execute(
                "DELETE FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3",
                params![service.as_str(), to.0, to.1],
            )?;
            tx.execute(
                "UPDATE objects SET bucket = ?4, key = ?5 WHERE service = ?1 AND bucket = ?2 AND key = ?3",
                params![service.as_str(), from.0, from.1, to.0, to.1],
            )?;
            tx.commit()?;
            old
        };
        self.remove_blob_later(old);
        self.object(service, to.0, to.1)?.ok_or(StoreError::NotFound("the object"))
    }

    /// Replace an object's service-specific metadata (JSON text).
    pub fn set_object_meta(&self, service: Service, bucket: &str, key: &str, meta: &str) -> StoreResult<()> {
        let n = self.db().execute(
            "UPDATE objects SET meta = ?4 WHERE service = ?1 AND bucket = ?2 AND key = ?3",
            params![service.as_str(), bucket, key, meta],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("the object"));
        }
        Ok(())
    }

    // ---- background jobs -----------------------------------------------------------------------

    /// Record a new job (not done) with a fresh id.
    pub fn create_job(&self, service: Service, kind: &str, state: &str) -> StoreResult<Job> {
        let now = now_ms();
        let job = Job { id: new_id(), kind: kind.to_owned(), state: state.to_owned() };
        self.db().execute(
            "INSERT INTO jobs (id, service, kind, state, done, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
            params![job.id, service.as_str(), kind, state, now as i64],
        )?;
        Ok(job)
    }

    pub fn job(&self, service: Service, id: &str) -> StoreResult<Option<Job>> {
        Ok(self
            .db()
            .query_row(
                "SELECT id, kind, state FROM jobs WHERE service = ?1 AND id = ?2",
                params![service.as_str(), id],
                job_row,
            )
            .optional()?)
    }

    /// Save a job's state; `done` jobs are not resumed after a restart.
    pub fn update_job(&self, id: &str, state: &str, done: bool) -> StoreResult<()> {
        self.db().execute(
            "UPDATE jobs SET state = ?2, done = ?3, updated_ms = ?4 WHERE id = ?1",
            params![id, state, done, now_ms() as i64],
        )?;
        Ok(())
    }

    /// Jobs of a service that are not done, oldest first.
    pub fn unfinished_jobs(&self, service: Service) -> StoreResult<Vec<Job>> {
        let db = self.db();
        let mut stmt =
            db.prepare("SELECT id, kind, state FROM jobs WHERE service = ?1 AND done = 0 ORDER BY created_ms, id")?;
        let rows = stmt.query_map(params![service.as_str()], job_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- multipart uploads ---------------------------------------------------------------------

    pub fn create_upload(&self, service: Service, bucket: &str, key: &str, info: &str) -> StoreResult<Upload> {
        let upload = Upload {
            id: new_id(),
            service,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            created_ms: now_ms(),
            info: info.to_owned(),
        };
        self.db().execute(
            "INSERT INTO uploads (id, service, bucket, key, created_ms, info) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![upload.id, service.as_str(), bucket, key, upload.created_ms as i64, info],
        )?;
        Ok(upload)
    }

    pub fn upload(&self, service: Service, id: &str) -> StoreResult<Option<Upload>> {
        Ok(self
            .db()
            .query_row(
                "SELECT id, bucket, key, created_ms, info FROM uploads WHERE id = ?1 AND service = ?2",
                params![id, service.as_str()],
                |r| {
                    Ok(Upload {
                        id: r.get(0)?,
                        service,
                        bucket: r.get(1)?,
                        key: r.get(2)?,
                        created_ms: r.get::<_, i64>(3)? as u64,
                        info: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// In-progress uploads of a bucket (UFile list uploads).
    pub fn uploads(&self, service: Service, bucket: &str, prefix: &str) -> StoreResult<Vec<Upload>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT id, bucket, key, created_ms, info FROM uploads WHERE service = ?1 AND bucket = ?2
             AND substr(key, 1, length(?3)) = ?3 ORDER BY key, created_ms",
        )?;
        let rows = stmt.query_map(params![service.as_str(), bucket, prefix], |r| {
            Ok(Upload {
                id: r.get(0)?,
                service,
                bucket: r.get(1)?,
                key: r.get(2)?,
                created_ms: r.get::<_, i64>(3)? as u64,
                info: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_upload_info(&self, id: &str, info: &str) -> StoreResult<()> {
        self.db().execute("UPDATE uploads SET info = ?2 WHERE id = ?1", params![id, info])?;
        Ok(())
    }

    /// Store part `number` of an upload, replacing an earlier one with the same number.
    pub fn put_part(&self, upload_id: &str, number: u64, blob: &Blob, info: &str) -> StoreResult<Part> {
        let old = {
            let mut db = self.db();
            let tx = db.transaction()?;
            let exists: Option<i64> =
                tx.query_row("SELECT 1 FROM uploads WHERE id = ?1", params![upload_id], |r| r.get(0)).optional()?;
            if exists.is_none() {
                drop(tx);
                self.remove_blob_later(Some(blob.id.clone()));
                // Its MD5 may have been taken into a prefix (Store::md5_of_new_part) meanwhile.
                self.forget_parts_in_order(upload_id);
                return Err(StoreError::NotFound("the upload"));
            }
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM parts WHERE upload_id = ?1 AND number = ?2",
                    params![upload_id, number as i64],
                    |r| r.get(0),
                )
                .optional()?;
            let d = &blob.digests;
            tx.execute(
                "INSERT OR REPLACE INTO parts
                 (upload_id, number, blob, size, wcs_etag, ufile_etag, sha1_b64, md5_hex, crc32, info)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    upload_id,
                    number as i64,
                    blob.id,
                    blob.size as i64,
                    d.wcs_etag,
                    d.ufile_etag,
                    d.sha1(),
                    d.md5(),
                    d.crc32,
                    info
                ],
            )?;
            tx.commit()?;
            old
        };
        self.remove_blob_later(old);
        Ok(Part {
            number,
            blob: blob.id.clone(),
            size: blob.size,
            digests: blob.digests.clone(),
            info: info.to_owned(),
        })
    }

    /// Parts of an upload in part-number order.
    pub fn parts(&self, upload_id: &str) -> StoreResult<Vec<Part>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT number, blob, size, wcs_etag, ufile_etag, sha1_b64, md5_hex, crc32, info
             FROM parts WHERE upload_id = ?1 ORDER BY number",
        )?;
        let rows = stmt.query_map(params![upload_id], |r| {
            Ok(Part {
                number: r.get::<_, i64>(0)? as u64,
                blob: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                digests: Digests {
                    wcs_etag: r.get(3)?,
                    ufile_etag: r.get(4)?,
                    sha1_b64: optional_text(r, 5)?,
                    md5_hex: optional_text(r, 6)?,
                    crc32: r.get(7)?,
                },
                info: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Concatenate `parts` (in the given order) into one new blob. The upload is untouched: call
    /// [`Store::finish_upload`] once the result is accepted.
    ///
    /// When the object's etags are all that is needed and every part is one etag block (4 MiB,
    /// the last one at most that: WCS blocks, UFile parts), the etags follow from the parts'
    /// SHA-1s and the CRC-32 from theirs, so the bytes are only copied, in the kernel
    /// (`copy_file_range`), not read and hashed a second time while the client waits.
    pub async fn concatenate(&self, parts: &[Part], need: DigestSet) -> StoreResult<Blob> {
        match (need, etag_blocks(parts)) {
            (DigestSet::Etags, Some(blocks)) => self.concatenate_copying(parts, &blocks).await,
            _ => self.concatenate_hashing(parts, need).await,
        }
    }

    async fn concatenate_copying(&self, parts: &[Part], blocks: &[[u8; 20]]) -> StoreResult<Blob> {
        let mut crc = crc32fast::Hasher::new();
        for p in parts {
            crc.combine(&crc32fast::Hasher::new_with_initial_len(p.digests.crc32, p.size));
        }
        let (wcs_etag, ufile_etag) = etags_of_blocks(blocks);
        // One part is the whole object: its MD5 and SHA-1 are the object's.
        let single = |d: &Option<String>| if parts.len() == 1 { d.clone() } else { None };
        let digests = Digests {
            wcs_etag,
            ufile_etag,
            sha1_b64: single(&parts[0].digests.sha1_b64),
            md5_hex: single(&parts[0].digests.md5_hex),
            crc32: crc.finalize(),
        };
        self.copy_parts(parts, digests).await
    }

    /// Concatenate `parts` into one new blob whose MD5 (lower-case hex) is known already (see
    /// [`Store::md5_of_parts_in_order`]): the bytes are only copied, in the kernel.
    pub async fn concatenate_with_md5(&self, parts: &[Part], md5_hex: String) -> StoreResult<Blob> {
        let digests = Digests {
            wcs_etag: String::new(),
            ufile_etag: String::new(),
            sha1_b64: None,
            md5_hex: Some(md5_hex),
            crc32: 0,
        };
        self.copy_parts(parts, digests).await
    }

    /// A new blob of the bytes of `parts` in order, copied in the kernel, with `digests`.
    async fn copy_parts(&self, parts: &[Part], digests: Digests) -> StoreResult<Blob> {
        let mut writer = self.new_blob_writer(BlobHashes::default()).await?;
        writer.file.flush().await?;
        let mut out = writer.file.try_clone().await?.into_std().await;
        let sources: Vec<(PathBuf, u64)> = parts.iter().map(|p| (self.blob_path(&p.blob), p.size)).collect();
        let size = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut size = 0;
            for (path, len) in sources {
                size += std::io::copy(&mut std::io::Read::take(std::fs::File::open(path)?, len), &mut out)?;
            }
            Ok(size)
        })
        .await
        .map_err(|e| std::io::Error::other(format!("the concatenation task failed: {e}")))??;
        writer.size = size;
        writer.commit_as(digests).await
    }

    /// Read, hash and write the whole object again, on a blocking thread with plain file I/O in
    /// 4 MiB reads, computing the digests of `need`: with the SHA-1s too, the MD5 of each chunk
    /// (the slowest hash) runs on a second thread next to them, the CRC-32 and the write.
    async fn concatenate_hashing(&self, parts: &[Part], need: DigestSet) -> StoreResult<Blob> {
        use std::io::{Read as _, Write as _};
        let mut writer = self.blob_writer_with(need).await?;
        writer.file.flush().await?;
        let mut out = writer.file.try_clone().await?.into_std().await;
        let sources: Vec<(PathBuf, u64)> = parts.iter().map(|p| (self.blob_path(&p.blob), p.size)).collect();
        let mut hashes = std::mem::take(&mut writer.hashes);
        let (hashes, size) = tokio::task::spawn_blocking(move || -> std::io::Result<(BlobHashes, u64)> {
            let mut buf = vec![0u8; ETAG_BLOCK_SIZE as usize];
            let mut size = 0u64;
            for (path, len) in sources {
                let mut part = std::fs::File::open(path)?.take(len);
                loop {
                    let mut n = 0;
                    while n < buf.len() {
                        match part.read(&mut buf[n..])? {
                            0 => break,
                            read => n += read,
                        }
                    }
                    if n == 0 {
                        break;
                    }
                    let chunk = &buf[..n];
                    match &mut hashes {
                        BlobHashes { sha1: Some(sha1), md5: Some(md5), crc32 } => std::thread::scope(|scope| {
                            scope.spawn(|| md5.update(chunk));
                            sha1.update(chunk);
                            if let Some(crc32) = crc32 {
                                crc32.update(chunk);
                            }
                            out.write_all(chunk)
                        })?,
                        one => {
                            one.update(chunk);
                            out.write_all(chunk)?
                        }
                    }
                    size += n as u64;
                }
            }
            Ok((hashes, size))
        })
        .await
        .map_err(|e| std::io::Error::other(format!("the concatenation task failed: {e}")))??;
        writer.hashes = hashes;
        writer.size = size;
        writer.commit().await
    }

    /// Store the assembled `blob` as the upload's object and forget the upload and its parts, in
    /// one transaction: either the object appears and the upload is gone, or nothing changed.
    pub fn finish_upload(
        &self,
        upload: &Upload,
        key: &str,
        blob: &Blob,
        attrs: &ObjectAttrs<'_>,
        overwrite: bool,
    ) -> StoreResult<Object> {
        let ObjectAttrs { mime, meta } = *attrs;
        let service = upload.service;
        let created_ms = now_ms();
        self.forget_parts_in_order(&upload.id);
        let mut garbage = Vec::new();
        {
            let mut db = self.db();
            let tx = db.transaction()?;
            let still_there: Option<i64> =
                tx.query_row("SELECT 1 FROM uploads WHERE id = ?1", params![upload.id], |r| r.get(0)).optional()?;
            if still_there.is_none() {
                drop(tx);
                self.remove_blob_later(Some(blob.id.clone()));
                return Err(StoreError::NotFound("the upload"));
            }
            let old: Option<String> = tx
                .query_row(
                    "SELECT blob FROM objects WHERE service = ?1 AND bucket = ?2 AND key = ?3",
                    params![service.as_str(), upload.bucket, key],
                    |r| r.get(0),
                )
                .optional()?;
            if old.is_some() && !overwrite {
                drop(tx);
                self.remove_blob_later(Some(blob.id.clone()));
                return Err(StoreError::Exists);
            }
            garbage.extend(old);
            {
                let mut stmt = tx.prepare("SELECT blob FROM parts WHERE upload_id = ?1")?;
                let blobs = stmt.query_map(params![upload.id], |r| r.get::<_, String>(0))?;
                for b in blobs {
                    garbage.push(b?);
                }
            }
            let d = &blob.digests;
            tx.execute(
                "INSERT OR REPLACE INTO objects
                 (service, bucket, key, size, blob, mime, created_ms, wcs_etag, ufile_etag, sha1_b64, md5_hex, crc32, meta)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    service.as_str(),
                    upload.bucket,
                    key,
                    blob.size as i64,
                    blob.id,
                    mime,
                    created_ms as i64,
                    d.wcs_etag,
                    d.ufile_etag,
                    d.sha1(),
                    d.md5(),
                    d.crc32,
                    meta
                ],
            )?;
            tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![upload.id])?;
            tx.execute("DELETE FROM uploads WHERE id = ?1", params![upload.id])?;
            tx.commit()?;
        }
        for b in garbage {
            self.remove_blob_later(Some(b));
        }
        Ok(Object {
            bucket: upload.bucket.clone(),
            key: key.to_owned(),
            size: blob.size,
            blob: blob.id.clone(),
            mime: mime.to_owned(),
            created_ms,
            digests: blob.digests.clone(),
            meta: meta.to_owned(),
        })
    }

    /// Forget an upload and its parts.
    pub fn abort_upload(&self, upload_id: &str) -> StoreResult<()> {
        self.forget_parts_in_order(upload_id);
        let mut garbage = Vec::new();
        {
            let mut db = self.db();
            let tx = db.transaction()?;
            {
                let mut stmt = tx.prepare("SELECT blob FROM parts WHERE upload_id = ?1")?;
                for b in stmt.query_map(params![upload_id], |r| r.get::<_, String>(0))? {
                    garbage.push(b?);
                }
            }
            tx.execute("DELETE FROM parts WHERE upload_id = ?1", params![upload_id])?;
            let n = tx.execute("DELETE FROM uploads WHERE id = ?1", params![upload_id])?;
            tx.commit()?;
            if n == 0 {
                return Err(StoreError::NotFound("the upload"));
            }
        }
        for b in garbage {
            self.remove_blob_later(Some(b));
        }
        Ok(())
    }
}

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job { id: r.get(0)?, kind: r.get(1)?, state: r.get(2)? })
}

/// A bucket row with its service-specific `info` JSON (UFile: what the bucket API set).
#[derive(Clone, Debug)]
pub struct BucketRow {
    pub name: String,
    pub private: bool,
    pub created_ms: u64,
    pub info: String,
}

/// What a delete of something that must be empty did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Done,
    Missing,
    NotEmpty,
}

/// `path` (`a/b`, "" for the root) as a key prefix: `a/b/`, or "".
fn folder_prefix(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!("{path}/") }
}

// Bucket management (the UFile bucket API), object pages, explicit folders (Wantu). Crash safety
// as above: rows change in one transaction; blobs go only after the commit.
impl Store {
    /// Create a bucket; [`StoreError::Exists`] when the service already has one of that name.
    pub fn create_bucket(&self, service: Service, name: &str, private: bool, info: &str) -> StoreResult<BucketRow> {
        let created_ms = now_ms();
        let n = self.db().execute(
            "INSERT INTO buckets (service, name, private, created_ms, info) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (service, name) DO NOTHING",
            params![service.as_str(), name, private, created_ms as i64, info],
        )?;
        if n == 0 {
            return Err(StoreError::Exists);
        }
        Ok(BucketRow { name: name.to_owned(), private, created_ms, info: info.to_owned() })
    }

    pub fn bucket_row(&self, service: Service, name: &str) -> StoreResult<Option<BucketRow>> {
        Ok(self
            .db()
            .query_row(
                "SELECT name, private, created_ms, info FROM buckets WHERE service = ?1 AND name = ?2",
                params![service.as_str(), name],
                bucket_row,
            )
            .optional()?)
    }

    /// Every bucket of a service, by name.
    pub fn bucket_rows(&self, service: Service) -> StoreResult<Vec<BucketRow>> {
        let db = self.db();
        let mut stmt =
            db.prepare("SELECT name, private, created_ms, info FROM buckets WHERE service = ?1 ORDER BY name")?;
        let rows = stmt.query_map(params![service.as_str()], bucket_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Set a bucket's privacy and info; [`StoreError::NotFound`] when it does not exist.
    pub fn update_bucket(&self, service: Service, name: &str, private: bool, info: &str) -> StoreResult<()> {
        let n = self.db().execute(
            "UPDATE buckets SET private = ?3, info = ?4 WHERE service = ?1 AND name = ?2",
            params![service.as_str(), name, private, info],
        )?;
        if n == 0 { Err(StoreError::NotFound("the bucket")) } else { Ok(()) }
    }

    /// Delete a bucket that holds no objects, with its unfinished uploads and folders.
    pub fn delete_bucket(&self, service: Service, name: &str) -> StoreResult<Removal> {
        let s = service.as_str();
        let mut garbage = Vec::new();
        {
            let mut db = self.db();
            let tx = db.transaction()?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM buckets WHERE service = ?1 AND name = ?2", params![s, name], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(Removal::Missing);
            }
            let object: Option<i64> = tx
                .query_row("SELECT 1 FROM objects WHERE service = ?1 AND bucket = ?2 LIMIT 1", params![s, name], |r| {
                    r.get(0)
                })
                .optional()?;
            if object.is_some() {
                return Ok(Removal::NotEmpty);
            }
            let in_bucket = "SELECT id FROM uploads WHERE service = ?1 AND bucket = ?2";
            {
                let mut stmt = tx.prepare(&format!("SELECT blob FROM parts WHERE upload_id IN ({in_bucket})"))?;
                for b in stmt.query_map(params![s, name], |r| r.get::<_, String>(0))? {
                    garbage.push(b?);
                }
            }
            tx.execute(&format!("DELETE FROM parts WHERE upload_id IN ({in_bucket})"), params![s, name])?;
            tx.execute("DELETE FROM uploads WHERE service = ?1 AND bucket = ?2", params![s, name])?;
            tx.execute("DELETE FROM folders WHERE service = ?1 AND bucket = ?2", params![s, name])?;
            tx.execute("DELETE FROM buckets WHERE service = ?1 AND name = ?2", params![s, name])?;
            tx.commit()?;
        }
        for b in garbage {
            self.remove_blob_later(Some(b));
        }
        Ok(Removal::Done)
    }

    /// Objects whose key starts with `prefix` (with `direct_only`, only those with no `/` after
    /// it), in key order: how many match, and `limit` of them from `offset`.
    pub fn object_page(
        &self,
        service: Service,
        bucket: &str,
        prefix: &str,
        direct_only: bool,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(u64, Vec<Object>)> {
        let filter = format!(
            "service = ?1 AND bucket = ?2 AND substr(key, 1, length(?3)) = ?3{}",
            if direct_only { " AND instr(substr(key, length(?3) + 1), '/') = 0" } else { "" }
        );
        let db = self.db();
        let total: i64 = db.query_row(
            &format!("SELECT count(*) FROM objects WHERE {filter}"),
            params![service.as_str(), bucket, prefix],
            |r| r.get(0),
        )?;
        let mut stmt = db
            .prepare(&format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE {filter} ORDER BY key LIMIT ?4 OFFSET ?5"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![service.as_str(), bucket, prefix, limit, offset], object_row)?;
        Ok((total as u64, rows.collect::<Result<_, _>>()?))
    }

    /// Create folder `path` (`a/b`) and its parents; existing ones stay as they are.
    pub fn create_folder(&self, service: Service, bucket: &str, path: &str) -> StoreResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut current = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            if !current.is_empty() {
                current.push('/');
            }
            current.push_str(segment);
            tx.execute(
                "INSERT OR IGNORE INTO folders (service, bucket, path, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![service.as_str(), bucket, current, now_ms() as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A folder exists when it was created, or when objects or folders are below it. The root
    /// ("") always exists.
    pub fn folder_exists(&self, service: Service, bucket: &str, path: &str) -> StoreResult<bool> {
        if path.is_empty() {
            return Ok(true);
        }
        let found: Option<i64> = self
            .db()
            .query_row(
                "SELECT 1 FROM folders WHERE service = ?1 AND bucket = ?2 AND path = ?3
                 UNION ALL SELECT 1 FROM folders WHERE service = ?1 AND bucket = ?2 AND substr(path, 1, length(?4)) = ?4
                 UNION ALL SELECT 1 FROM objects WHERE service = ?1 AND bucket = ?2 AND substr(key, 1, length(?4)) = ?4
                 LIMIT 1",
                params![service.as_str(), bucket, path, folder_prefix(path)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    /// Names of the folders directly in `parent` ("" for the root), created or implied by object
    /// keys, sorted.
    pub fn child_folders(&self, service: Service, bucket: &str, parent: &str) -> StoreResult<Vec<String>> {
        let prefix = folder_prefix(parent);
        let db = self.db();
        let mut names = std::collections::BTreeSet::new();
        let mut stmt = db.prepare(
            "SELECT substr(path, length(?3) + 1) FROM folders WHERE service = ?1 AND bucket = ?2
             AND substr(path, 1, length(?3)) = ?3 AND length(path) > length(?3)
             AND instr(substr(path, length(?3) + 1), '/') = 0",
        )?;
        for name in stmt.query_map(params![service.as_str(), bucket, prefix], |r| r.get::<_, String>(0))? {
            names.insert(name?);
        }
        let mut stmt = db.prepare(
            "SELECT DISTINCT substr(rest, 1, instr(rest, '/') - 1) FROM
             (SELECT substr(key, length(?3) + 1) AS rest FROM objects
              WHERE service = ?1 AND bucket = ?2 AND substr(key, 1, length(?3)) = ?3)
             WHERE instr(rest, '/') > 1",
        )?;
        for name in stmt.query_map(params![service.as_str(), bucket, prefix], |r| r.get::<_, String>(0))? {
            names.insert(name?);
        }
        Ok(names.into_iter().collect())
    }

    /// Delete an empty folder (`a/b`; the root is never empty).
    pub fn delete_folder(&self, service: Service, bucket: &str, path: &str) -> StoreResult<Removal> {
        if path.is_empty() {
            return Ok(Removal::NotEmpty);
        }
        let s = service.as_str();
        let mut db = self.db();
        let tx = db.transaction()?;
        let below: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM folders WHERE service = ?1 AND bucket = ?2 AND substr(path, 1, length(?3)) = ?3
                 UNION ALL SELECT 1 FROM objects WHERE service = ?1 AND bucket = ?2 AND substr(key, 1, length(?3)) = ?3
                 LIMIT 1",
                params![s, bucket, folder_prefix(path)],
                |r| r.get(0),
            )
            .optional()?;
        if below.is_some() {
            return Ok(Removal::NotEmpty);
        }
        let n = tx.execute(
            "DELETE FROM folders WHERE service = ?1 AND bucket = ?2 AND path = ?3",
            params![s, bucket, path],
        )?;
        tx.commit()?;
        Ok(if n == 0 { Removal::Missing } else { Removal::Done })
    }
}

fn bucket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow { name: r.get(0)?, private: r.get(1)?, created_ms: r.get::<_, i64>(2)? as u64, info: r.get(3)? })
}

const OBJECT_COLUMNS: &str =
    "bucket, key, size, blob, mime, created_ms, wcs_etag, ufile_etag, sha1_b64, md5_hex, crc32, meta";

fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Object> {
    Ok(Object {
        bucket: r.get(0)?,
        key: r.get(1)?,
        size: r.get::<_, i64>(2)? as u64,
        blob: r.get(3)?,
        mime: r.get(4)?,
        created_ms: r.get::<_, i64>(5)? as u64,
        digests: Digests {
            wcs_etag: r.get(6)?,
            ufile_etag: r.get(7)?,
            sha1_b64: optional_text(r, 8)?,
            md5_hex: optional_text(r, 9)?,
            crc32: r.get(10)?,
        },
        meta: r.get(11)?,
    })
}

/// The hashers a blob is written through: `None` for a digest its [`DigestSet`] leaves out.
#[derive(Default)]
struct BlobHashes {
    sha1: Option<BlobSha1>,
    md5: Option<Md5>,
    crc32: Option<Crc32>,
}

impl BlobHashes {
    fn of(set: DigestSet) -> Self {
        let etags = matches!(set, DigestSet::Etags | DigestSet::WithMd5);
        BlobHashes {
            sha1: etags.then(BlobSha1::default),
            md5: matches!(set, DigestSet::WithMd5 | DigestSet::Md5Only).then(Md5::default),
            crc32: etags.then(Crc32::default),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(sha1) = &mut self.sha1 {
            sha1.update(data);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        if let Some(crc32) = &mut self.crc32 {
            crc32.update(data);
        }
    }
}

/// SHA-1 of a blob, whole and per 4 MiB block (what both etags are made of), in one pass while
/// the blob is a single block: then the two are the same hash, so the whole-blob hasher only
/// starts, as a copy of the first block's state, when a second block begins. A part (at most one
/// block) is hashed once instead of twice.
#[derive(Default)]
struct BlobSha1 {
    /// The block being filled.
    block: Sha1,
    block_len: u64,
    /// Digests of the completed blocks.
    blocks: Vec<[u8; 20]>,
    /// The whole blob, once it is longer than one block.
    whole: Option<Sha1>,
}

impl BlobSha1 {
    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.block_len == ETAG_BLOCK_SIZE {
                // A second block begins: from here on the whole blob needs a hasher of its own.
                if self.whole.is_none() {
                    self.whole = Some(self.block.clone());
                }
                self.blocks.push(std::mem::take(&mut self.block).finalize().0);
                self.block_len = 0;
            }
            let take = ((ETAG_BLOCK_SIZE - self.block_len) as usize).min(data.len());
            let (now, rest) = data.split_at(take);
            self.block.update(now);
            if let Some(whole) = &mut self.whole {
                whole.update(now);
            }
            self.block_len += take as u64;
            data = rest;
        }
    }

    /// `(wcs_etag, ufile_etag, sha1_b64)`.
    fn finalize(mut self) -> (String, String, String) {
        let last = std::mem::take(&mut self.block).finalize().0;
        // The empty blob counts no block (and its digest is SHA-1 of nothing), as the etags say.
        if self.block_len > 0 || !self.blocks.is_empty() {
            self.blocks.push(last);
        }
        let whole = self.whole.map_or(last, |w| w.finalize().0);
        let (wcs, ufile) = etags_of_blocks(&self.blocks);
        (wcs, ufile, yunup::encoding::urlsafe_b64(whole))
    }
}

/// `(wcs_etag, ufile_etag)` from the SHA-1s of the 4 MiB blocks; none for the empty blob.
fn etags_of_blocks(blocks: &[[u8; 20]]) -> (String, String) {
    let mut etags = yunup::hash::ObjectEtags::default();
    for block in blocks {
        etags.push_block_digest(*block);
    }
    let yunup::hash::ObjectEtagValues { wcs, ufile } = etags.finalize();
    (wcs, ufile)
}

/// The SHA-1 of each etag block of the object `parts` make, when every part is exactly one block
/// (the last one at most one block, not empty) and its SHA-1 is known; else `None`.
fn etag_blocks(parts: &[Part]) -> Option<Vec<[u8; 20]>> {
    let (last, rest) = parts.split_last()?;
    if last.size == 0 || last.size > ETAG_BLOCK_SIZE || rest.iter().any(|p| p.size != ETAG_BLOCK_SIZE) {
        return None;
    }
    parts
        .iter()
        .map(|p| yunup::encoding::decode_base64_lenient(p.digests.sha1_b64.as_deref()?).ok()?.try_into().ok())
        .collect()
}

/// A blob being written: bytes go to `tmp/`, hashes are updated as they pass.
pub struct BlobWriter {
    store: Store,
    id: String,
    tmp: PathBuf,
    file: tokio::fs::File,
    size: u64,
    hashes: BlobHashes,
}

impl BlobWriter {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, data: &[u8]) -> StoreResult<()> {
        self.hashes.update(data);
        self.file.write_all(data).await?;
        self.size += data.len() as u64;
        Ok(())
    }

    /// Drain a body stream into the blob. Over `limit` bytes, stop with [`StoreError::Body`].
    pub async fn write_stream<S, E>(&mut self, body: S, limit: Option<u64>) -> StoreResult<()>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
            if limit.is_some_and(|l| self.size + chunk.len() as u64 > l) {
                return Err(StoreError::Body("the body is larger than allowed".into()));
            }
            self.write(&chunk).await?;
        }
        Ok(())
    }

    /// Move the bytes under `blobs/` (synced first for [`Durability::PowerLoss`]). Only now may a
    /// row point at the blob.
    pub async fn commit(mut self) -> StoreResult<Blob> {
        let BlobHashes { sha1, md5, crc32 } = std::mem::take(&mut self.hashes);
        let (wcs_etag, ufile_etag, sha1_b64) = match sha1 {
            Some(sha1) => {
                let (wcs, ufile, sha1) = sha1.finalize();
                (wcs, ufile, Some(sha1))
            }
            None => (String::new(), String::new(), None),
        };
        let digests = Digests {
            wcs_etag,
            ufile_etag,
            sha1_b64,
            md5_hex: md5.map(|m| m.finalize().to_hex()),
            crc32: crc32.map_or(0, |c| c.finalize()),
        };
        self.commit_as(digests).await
    }

    /// [`BlobWriter::commit`] with digests the caller knows from elsewhere.
    async fn commit_as(mut self, digests: Digests) -> StoreResult<Blob> {
        self.file.flush().await?;
        let power_loss = self.store.inner.durability == Durability::PowerLoss;
        if power_loss {
            self.file.sync_data().await?;
        }
        let to = self.store.blob_path(&self.id);
        tokio::fs::rename(&self.tmp, &to).await?;
        if power_loss {
            // The rename itself reaches the disk with its directory.
            tokio::fs::File::open(self.store.inner.dir.join("blobs")).await?.sync_all().await?;
        }
        Ok(Blob { id: std::mem::take(&mut self.id), size: self.size, digests })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Not committed (error, client gone): the temporary file must not linger. After a
        // commit the rename already moved it, and this is a no-op.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One pass of [`BlobSha1`] gives what the library's etag hashers and a plain SHA-1 give.
    #[test]
    fn blob_sha1_matches_the_library_hashers() {
        use yunup::hash::ObjectEtags;
        let block = ETAG_BLOCK_SIZE as usize;
        let data: Vec<u8> = (0..2 * block + 7).map(|i| (i * 31 % 251) as u8).collect();
        for len in [0, 1, block - 1, block, block + 1, 2 * block, 2 * block + 7] {
            for chunk in [1 << 16, 1_000_003] {
                let bytes = &data[..len];
                let mut ours = BlobSha1::default();
                bytes.chunks(chunk).for_each(|c| ours.update(c));
                let mut etags = ObjectEtags::default();
                etags.update(bytes);
                let etags = etags.finalize();
                let mut sha1 = Sha1::default();
                sha1.update(bytes);
                let want = (etags.wcs, etags.ufile, yunup::encoding::urlsafe_b64(sha1.finalize().0));
                assert_eq!(ours.finalize(), want, "{len} bytes in chunks of {chunk}");
            }
        }
    }

    fn body(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
        futures_util::stream::iter(chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect::<Vec<_>>())
    }

    /// Removed when dropped, so keep it alive as long as the store.
    fn temp_dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("yunup-store-{name}-")).tempdir().unwrap()
    }

    /// Both durabilities: the synced path (`--fsync`) writes the same things, plus syncs.
    #[tokio::test]
    async fn objects_survive_reopen_and_garbage_is_collected() {
        for durability in [Durability::ProcessCrash, Durability::PowerLoss] {
            let dir = temp_dir("reopen");
            let store = Store::open_with(dir.path(), durability).unwrap();
            store.ensure_bucket(Service::Ufile, "b", false).unwrap();
            let blob = store.write_blob(body(&[b"hello ", b"world"]), None).await.unwrap();
            assert_eq!(blob.digests.wcs_etag, "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
            assert_eq!(blob.digests.md5(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
            assert_eq!(blob.digests.crc32, 222957957);
            store
                .put_object(Service::Ufile, "b", "k", &blob, &ObjectAttrs { mime: "text/plain", meta: "{}" }, true)
                .unwrap();
            // An orphan, as a crash between rename and commit would leave it.
            let orphan = store.write_blob(body(&[b"orphan"]), None).await.unwrap();
            drop(store);

            let store = Store::open_with(dir.path(), durability).unwrap();
            assert!(!store.blob_path(&orphan.id).exists(), "orphans are collected on open");
            let obj = store.object(Service::Ufile, "b", "k").unwrap().unwrap();
            assert_eq!(std::fs::read(store.blob_path(&obj.blob)).unwrap(), b"hello world", "{durability:?}");
            assert!(store.object(Service::Wcs, "b", "k").unwrap().is_none(), "services are separate");
            assert_eq!(store.bucket(Service::Ufile, "b").unwrap(), Some(false));
        }
    }

    #[tokio::test]
    async fn overwrite_rules_and_old_blobs_go_away() {
        let dir = temp_dir("overwrite");
        let store = Store::open(dir.path()).unwrap();
        let a = store.write_blob(body(&[b"a"]), None).await.unwrap();
        store.put_object(Service::Wcs, "b", "k", &a, &ObjectAttrs::default(), false).unwrap();
        let b = store.write_blob(body(&[b"b"]), None).await.unwrap();
        assert!(matches!(
            store.put_object(Service::Wcs, "b", "k", &b, &ObjectAttrs::default(), false),
            Err(StoreError::Exists)
        ));
        assert!(!store.blob_path(&b.id).exists(), "a refused blob is removed");
        let c = store.write_blob(body(&[b"c"]), None).await.unwrap();
        store.put_object(Service::Wcs, "b", "k", &c, &ObjectAttrs::default(), true).unwrap();
        assert!(!store.blob_path(&a.id).exists(), "the replaced blob is removed");
        assert!(store.write_blob(body(&[b"12345"]), Some(4)).await.is_err());
    }

    #[tokio::test]
    async fn multipart_assembles_in_order_and_cleans_up() {
        let dir = temp_dir("multipart");
        let store = Store::open(dir.path()).unwrap();
        let upload = store.create_upload(Service::Ufile, "b", "big", "{}").unwrap();
        let p1 = store.write_blob(body(&[b"world"]), None).await.unwrap();
        let p0 = store.write_blob(body(&[b"hello "]), None).await.unwrap();
        store.put_part(&upload.id, 1, &p1, "{}").unwrap();
        store.put_part(&upload.id, 0, &p0, "{}").unwrap();
        let parts = store.parts(&upload.id).unwrap();
        assert_eq!(parts.iter().map(|p| p.number).collect::<Vec<_>>(), [0, 1]);
        // Parts of less than a block: every kind of assembly hashes the bytes again, for the
        // digests asked for only.
        let blob = store.concatenate(&parts, DigestSet::Etags).await.unwrap();
        assert_eq!(blob.digests.md5_hex, None);
        let md5_only = store.concatenate(&parts, DigestSet::Md5Only).await.unwrap();
        assert_eq!(md5_only.digests.md5(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!((md5_only.digests.wcs_etag.as_str(), md5_only.digests.sha1_b64.as_deref()), ("", None));
        assert_eq!(std::fs::read(store.blob_path(&md5_only.id)).unwrap(), b"hello world");
        let obj = store.finish_upload(&upload, "big", &blob, &ObjectAttrs::default(), true).unwrap();
        assert_eq!(obj.digests.wcs_etag, "FiqubDXJT8-0FdvpX0CLnOke6Ebt");
        assert!(store.upload(Service::Ufile, &upload.id).unwrap().is_none());
        assert!(!store.blob_path(&p0.id).exists() && !store.blob_path(&p1.id).exists());
        assert!(matches!(store.put_part(&upload.id, 2, &p0, "{}"), Err(StoreError::NotFound(_))));
    }

    /// Parts hashed in order as they arrive (Wantu) give the MD5 of exactly the parts a
    /// completion assembles, in the background; a gap, a part replaced after it was hashed or a
    /// different choice of parts gives none (completion then hashes the object itself).
    #[tokio::test]
    async fn parts_are_md5d_in_order_as_they_arrive() {
        let dir = temp_dir("ordered-md5");
        let store = Store::open(dir.path()).unwrap();
        let texts: [&'static [u8]; 4] = [b"one ", b"two ", b"three ", b"four"];
        let upload = store.create_upload(Service::Wantu, "b", "k", "{}").unwrap();
        let mut blobs = Vec::new();
        // Out of order: 2 waits for 1, 4 for 3.
        for number in [2u64, 1, 4, 3] {
            let blob = store.write_blob_with(body(&[texts[number as usize - 1]]), None, DigestSet::Md5Only).await;
            let blob = blob.unwrap();
            store.put_part(&upload.id, number, &blob, "{}").unwrap();
            store.hash_parts_in_order(&upload.id, 1);
            blobs.push(blob);
        }
        // The background tasks cover all four parts without being asked.
        let mut waited = 0;
        while store.parts_hashed_in_order(&upload.id) != Some(4) {
            assert!(waited < 500, "the parts were not hashed in the background");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            waited += 1;
        }
        let parts = store.parts(&upload.id).unwrap();
        let whole = Md5::digest(b"one two three four").to_hex();
        // Not the parts hashed: none, and the prefix is gone.
        assert_eq!(store.md5_of_parts_in_order(&upload.id, 1, &parts[..3]).await, None);
        assert_eq!(store.md5_of_parts_in_order(&upload.id, 1, &parts).await, None);
        store.hash_parts_in_order(&upload.id, 1);
        let md5 = store.md5_of_parts_in_order(&upload.id, 1, &parts).await;
        assert_eq!(md5.as_deref(), Some(whole.as_str()));
        let object = store.concatenate_with_md5(&parts, md5.unwrap()).await.unwrap();
        assert_eq!(std::fs::read(store.blob_path(&object.id)).unwrap(), b"one two three four");
        assert_eq!(object.digests.md5(), whole);

        // Part 2 replaced after it was hashed: the prefix no longer matches the parts.
        store.hash_parts_in_order(&upload.id, 1);
        while store.parts_hashed_in_order(&upload.id) != Some(4) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let again = store.write_blob_with(body(&[b"TWO "]), None, DigestSet::Md5Only).await.unwrap();
        store.put_part(&upload.id, 2, &again, "{}").unwrap();
        let parts = store.parts(&upload.id).unwrap();
        assert_eq!(store.md5_of_parts_in_order(&upload.id, 1, &parts).await, None);

        // A gap (part 2 missing): nothing past part 1 is covered.
        let gap = store.create_upload(Service::Wantu, "b", "g", "{}").unwrap();
        for number in [1u64, 3] {
            store.put_part(&gap.id, number, &blobs[0], "{}").unwrap();
        }
        store.hash_parts_in_order(&gap.id, 1);
        let parts = store.parts(&gap.id).unwrap();
        assert_eq!(store.md5_of_parts_in_order(&gap.id, 1, &parts).await, None);
    }

    /// A new part's MD5 is its own whether it continues the prefix (hashed once for both MD5s)
    /// or not (hashed alone, taken into the prefix later); the whole MD5 comes out right either
    /// way, at 64-byte block offsets that match and that do not.
    #[tokio::test]
    async fn new_parts_are_md5d_with_the_prefix() {
        let dir = temp_dir("new-part-md5");
        let store = Store::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        // Whole blocks, then a part that leaves the prefix mid-block, then more.
        let bounds = [0usize, 65_536, 131_072, 131_072 + 1000, 200_000, 300_000];
        let upload = store.create_upload(Service::Wantu, "b", "k", "{}").unwrap();
        // 3 arrives before 2: it is hashed alone, 2 then continues the prefix and 3 joins later.
        for (number, joined) in [(1u64, 1), (3, 1), (2, 2), (4, 4), (5, 5)] {
            let bytes = &data[bounds[number as usize - 1]..bounds[number as usize]];
            let chunk = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::copy_from_slice(bytes))]);
            let mut blob = store.write_blob_with(chunk, None, DigestSet::Unhashed).await.unwrap();
            assert_eq!(blob.digests.md5(), "");
            let md5 = store.md5_of_new_part(&upload.id, 1, number, &blob).await.unwrap();
            assert_eq!(md5, Md5::digest(bytes).to_hex(), "part {number}");
            blob.digests.md5_hex = Some(md5);
            store.put_part(&upload.id, number, &blob, "{}").unwrap();
            // Covered without the background task: it is not started.
            assert_eq!(store.parts_hashed_in_order(&upload.id), Some(joined), "after part {number}");
        }
        let parts = store.parts(&upload.id).unwrap();
        let md5 = store.md5_of_parts_in_order(&upload.id, 1, &parts).await;
        assert_eq!(md5, Some(Md5::digest(&data).to_hex()));

        // The upload aborted while its part arrived: the part is refused, and the prefix its MD5
        // started is dropped, not kept for an upload that is gone.
        let gone = store.create_upload(Service::Wantu, "b", "g", "{}").unwrap();
        let blob = store.write_blob_with(body(&[b"late"]), None, DigestSet::Unhashed).await.unwrap();
        store.abort_upload(&gone.id).unwrap();
        store.md5_of_new_part(&gone.id, 1, 1, &blob).await.unwrap();
        assert!(matches!(store.put_part(&gone.id, 1, &blob, "{}"), Err(StoreError::NotFound(_))));
        assert!(!store.has_prefix_in_order(&gone.id));
    }

    /// Block-sized parts: the etags and CRC-32 derived from the parts equal those of the bytes
    /// hashed again, and the copied bytes are the parts' bytes in order.
    #[tokio::test]
    async fn block_sized_parts_are_assembled_without_hashing_again() {
        let dir = temp_dir("blocks");
        let store = Store::open(dir.path()).unwrap();
        let block = ETAG_BLOCK_SIZE as usize;
        let data: Vec<u8> = (0..2 * block + 12_345).map(|i| (i * 31 % 251) as u8).collect();
        for cut in [vec![block, 2 * block], vec![data.len()], vec![block]] {
            let data = &data[..*cut.last().unwrap()];
            let upload = store.create_upload(Service::Wcs, "b", "k", "{}").unwrap();
            let mut start = 0;
            for (number, &end) in cut.iter().chain(std::iter::once(&data.len())).enumerate() {
                if end <= start {
                    continue;
                }
                let chunk: &'static [u8] = Vec::leak(data[start..end].to_vec());
                let part = store.write_blob(body(&[chunk]), None).await.unwrap();
                store.put_part(&upload.id, number as u64, &part, "{}").unwrap();
                start = end;
            }
            let parts = store.parts(&upload.id).unwrap();
            let copied = store.concatenate(&parts, DigestSet::Etags).await.unwrap();
            let hashed = store.concatenate(&parts, DigestSet::WithMd5).await.unwrap();
            let one_shot = yunup::hash::ObjectEtags::digest(data);
            assert_eq!(copied.digests.wcs_etag, one_shot.wcs);
            assert_eq!(copied.digests.ufile_etag, one_shot.ufile);
            assert_eq!(copied.digests.crc32, crc32fast::hash(data));
            assert_eq!(
                (&copied.digests.wcs_etag, &copied.digests.ufile_etag),
                (&hashed.digests.wcs_etag, &hashed.digests.ufile_etag)
            );
            assert_eq!(copied.digests.crc32, hashed.digests.crc32);
            assert_eq!(std::fs::read(store.blob_path(&copied.id)).unwrap(), data);
            // Not asked for, the whole MD5 is known only when one (block-sized) part is the object.
            let one_block_part = parts.len() == 1 && data.len() <= block;
            assert_eq!(copied.digests.md5_hex.is_some(), one_block_part, "{cut:?}");
            assert_eq!(hashed.digests.md5(), Md5::digest(data).to_hex());
            // Wantu's assembly: the MD5 alone, the same bytes.
            let md5_only = store.concatenate(&parts, DigestSet::Md5Only).await.unwrap();
            assert_eq!(md5_only.digests.md5(), hashed.digests.md5());
            assert_eq!((md5_only.digests.wcs_etag.as_str(), md5_only.digests.crc32), ("", 0));
            assert_eq!(std::fs::read(store.blob_path(&md5_only.id)).unwrap(), data);
        }
    }

    #[tokio::test]
    async fn buckets_are_created_refused_when_taken_and_deleted_only_when_empty() {
        let dir = temp_dir("buckets");
        let store = Store::open(dir.path()).unwrap();
        store.create_bucket(Service::Ufile, "nb", false, r#"{"region":"cn-gd"}"#).unwrap();
        assert!(matches!(store.create_bucket(Service::Ufile, "nb", true, "{}"), Err(StoreError::Exists)));
        assert_eq!(store.bucket(Service::Ufile, "nb").unwrap(), Some(false));
        store.update_bucket(Service::Ufile, "nb", true, "{}").unwrap();
        assert!(store.bucket_row(Service::Ufile, "nb").unwrap().unwrap().private);
        assert!(matches!(store.update_bucket(Service::Ufile, "zz", true, "{}"), Err(StoreError::NotFound(_))));

        let blob = store.write_blob(body(&[b"x"]), None).await.unwrap();
        store.put_object(Service::Ufile, "nb", "k", &blob, &ObjectAttrs::default(), true).unwrap();
        assert_eq!(store.delete_bucket(Service::Ufile, "nb").unwrap(), Removal::NotEmpty);
        store.delete_object(Service::Ufile, "nb", "k").unwrap();
        let upload = store.create_upload(Service::Ufile, "nb", "big", "{}").unwrap();
        let part = store.write_blob(body(&[b"part"]), None).await.unwrap();
        store.put_part(&upload.id, 0, &part, "{}").unwrap();
        assert_eq!(store.delete_bucket(Service::Ufile, "nb").unwrap(), Removal::Done);
        assert!(!store.blob_path(&part.id).exists(), "unfinished uploads go with the bucket");
        assert!(store.upload(Service::Ufile, &upload.id).unwrap().is_none());
        assert_eq!(store.delete_bucket(Service::Ufile, "nb").unwrap(), Removal::Missing);
        assert!(store.bucket_rows(Service::Ufile).unwrap().is_empty());
    }

    #[tokio::test]
    async fn folders_and_direct_pages() {
        let dir = temp_dir("folders");
        let store = Store::open(dir.path()).unwrap();
        for key in ["a/1", "a/2", "a/b/3", "c/d/4", "top"] {
            let blob = store.write_blob(body(&[b"x"]), None).await.unwrap();
            store.put_object(Service::Wantu, "ns", key, &blob, &ObjectAttrs::default(), true).unwrap();
        }
        let (total, page) = store.object_page(Service::Wantu, "ns", "a/", true, 1, 10).unwrap();
        assert_eq!((total, page.iter().map(|o| o.key.as_str()).collect::<Vec<_>>()), (2, vec!["a/2"]));
        assert_eq!(store.object_page(Service::Wantu, "ns", "", false, 0, 2).unwrap().0, 5);
        store.create_folder(Service::Wantu, "ns", "e/f").unwrap();
        assert_eq!(store.child_folders(Service::Wantu, "ns", "").unwrap(), ["a", "c", "e"]);
        assert_eq!(store.child_folders(Service::Wantu, "ns", "a").unwrap(), ["b"]);
        assert!(store.folder_exists(Service::Wantu, "ns", "c").unwrap(), "implied by c/d/4");
        assert!(store.folder_exists(Service::Wantu, "ns", "e").unwrap());
        assert!(!store.folder_exists(Service::Wantu, "ns", "a/b/3").unwrap(), "a file is not a folder");
        assert_eq!(store.delete_folder(Service::Wantu, "ns", "e").unwrap(), Removal::NotEmpty);
        assert_eq!(store.delete_folder(Service::Wantu, "ns", "e/f").unwrap(), Removal::Done);
        assert_eq!(store.delete_folder(Service::Wantu, "ns", "e").unwrap(), Removal::Done);
        assert_eq!(store.delete_folder(Service::Wantu, "ns", "e").unwrap(), Removal::Missing);
        assert_eq!(store.delete_folder(Service::Wantu, "ns", "a").unwrap(), Removal::NotEmpty);
    }
}
