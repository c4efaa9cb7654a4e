//! What lets an upload resume after a crash, a reload or a pause: the service session and the
//! parts already confirmed, with a hash of each so that resuming re-verifies them.

use serde::{Deserialize, Serialize};

use super::Target;
use crate::service::ServiceKind;
use crate::service::wantu::WantuSession;
use crate::{Error, Result};

/// How every checkpoint id starts: stores may hold other things beside them.
pub const CHECKPOINT_PREFIX: &str = "yunup-checkpoint-";

/// Checkpoints older than this are not trusted: WCS purges uncommitted blocks "about monthly",
/// and a week-old partial upload is more likely abandoned than resumed.
pub const MAX_CHECKPOINT_AGE_MS: u64 = 7 * 24 * 3600 * 1000;

const VERSION: u32 = 1;

/// The service-side state of a multipart upload.
///
/// In JSON, the service's name under `kind` next to its fields: `{"kind":"wcs","batch":…}`,
/// `{"kind":"ufile","uploadId":…}`, `{"kind":"wantu","id":…,"uploadId":…}`. Read and written
/// through [`SessionRecord`] rather than as a serde-tagged enum, which buffers every field
/// before it can pick the variant: that reader alone was 10 KB of the browser's wasm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SessionRecord", into = "SessionRecord")]
pub enum Session {
    /// WCS has no session id; blocks are tied together by `UploadBatch` and their ctxs.
    Wcs {
        batch: String,
    },
    Ufile {
        upload_id: String,
    },
    Wantu(WantuSession),
}

/// [`Session`] as it is stored: every service's fields, those of `kind` present.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionRecord {
    kind: ServiceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
}

impl From<Session> for SessionRecord {
    fn from(session: Session) -> Self {
        let record = |kind| SessionRecord { kind, batch: None, id: None, upload_id: None };
        match session {
            Session::Wcs { batch } => SessionRecord { batch: Some(batch), ..record(ServiceKind::Wcs) },
            Session::Ufile { upload_id } => SessionRecord { upload_id: Some(upload_id), ..record(ServiceKind::Ufile) },
            Session::Wantu(WantuSession { id, upload_id }) => {
                SessionRecord { id: Some(id), upload_id: Some(upload_id), ..record(ServiceKind::Wantu) }
            }
        }
    }
}

impl TryFrom<SessionRecord> for Session {
    type Error = String;

    fn try_from(record: SessionRecord) -> std::result::Result<Self, String> {
        let kind = record.kind.as_str();
        let field =
            |value: Option<String>, name: &str| value.ok_or_else(|| format!("the {kind} session has no `{name}`"));
        Ok(match record.kind {
            ServiceKind::Wcs => Session::Wcs { batch: field(record.batch, "batch")? },
            ServiceKind::Ufile => Session::Ufile { upload_id: field(record.upload_id, "uploadId")? },
            ServiceKind::Wantu => Session::Wantu(WantuSession {
                id: field(record.id, "id")?,
                upload_id: field(record.upload_id, "uploadId")?,
            }),
        })
    }
}

/// One confirmed part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DonePart {
    pub index: u64,
    pub size: u64,
    /// The part's lower-case hex MD5 (WCS: its chunks' CRC-32s in hex, comma-joined), to
    /// detect a changed file on resume.
    pub md5: String,
    /// What `complete` needs from this part: the WCS block's last ctx, or the part's ETag.
    pub result: String,
}

/// A serializable snapshot of a multipart upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub version: u32,
    pub service: ServiceKind,
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    /// Identifies the source's content (name, size, modification time).
    pub fingerprint: String,
    pub size: u64,
    pub part_size: u64,
    pub session: Session,
    pub parts: Vec<DonePart>,
    pub created_ms: u64,
}

impl Checkpoint {
    /// The store key of the checkpoint for an upload.
    pub fn id(target: &Target, fingerprint: &str) -> String {
        let Target { service, endpoint, bucket, key, .. } = target;
        let digest = <crate::hash::Sha1 as crate::hash::Hasher>::digest(
            format!("{}\n{endpoint}\n{bucket}\n{key}\n{fingerprint}", service.as_str()).as_bytes(),
        );
        format!("{CHECKPOINT_PREFIX}{}", &digest.to_hex()[..32])
    }

    pub fn to_json(&self) -> Result<String> {
        crate::json::to_string(self)
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let checkpoint: Checkpoint = crate::json::from_str(text, "the upload checkpoint")?;
        if checkpoint.version != VERSION {
            return Err(Error::invalid_input(format!("checkpoint version {} is not supported", checkpoint.version)));
        }
        Ok(checkpoint)
    }

    pub(crate) fn new(
        target: &Target,
        fingerprint: &str,
        size: u64,
        part_size: u64,
        session: Session,
        now_ms: u64,
    ) -> Self {
        Checkpoint {
            version: VERSION,
            service: target.service,
            endpoint: target.endpoint.clone(),
            bucket: target.bucket.clone(),
            key: target.key.clone(),
            fingerprint: fingerprint.to_owned(),
            size,
            part_size,
            session,
            parts: Vec::new(),
            created_ms: now_ms,
        }
    }

    /// Whether this checkpoint describes the same upload of the same content, recently enough,
    /// with a part size the engine can plan by (storage can be edited or corrupted).
    pub fn matches(&self, target: &Target, fingerprint: &str, size: u64, now_ms: u64) -> bool {
        (1..=super::LARGEST_PART).contains(&self.part_size)
            && self.service == target.service
            && self.endpoint == target.endpoint
            && self.bucket == target.bucket
            && self.key == target.key
            && self.fingerprint == fingerprint
            && self.size == size
            && now_ms.saturating_sub(self.created_ms) < MAX_CHECKPOINT_AGE_MS
    }

    /// Bytes of the parts the service confirmed.
    pub fn confirmed(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    pub fn done(&self, index: u64) -> Option<&DonePart> {
        self.parts.iter().find(|p| p.index == index)
    }

    pub(crate) fn record(&mut self, part: DonePart) {
        self.parts.retain(|p| p.index != part.index);
        self.parts.push(part);
    }
}

/// The ids of the checkpoints locked in a store (or in the whole process). A list, not a set:
/// it holds one id per upload running at once, and a set's hash table cost 3 kB of wasm.
pub type HeldLocks = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Held while an upload works from its checkpoint, released when dropped. Two uploads of the same
/// source to the same target at once (two tasks, tabs or processes) would otherwise write one
/// checkpoint over the other and send parts to the same service session.
pub struct CheckpointLock(Option<Box<dyn FnOnce()>>);

impl CheckpointLock {
    /// A lock that `release` gives back.
    pub fn new(release: impl FnOnce() + 'static) -> Self {
        CheckpointLock(Some(Box::new(release)))
    }

    /// The lock on `id` among those in `held` (a store's, or one for the whole process), if no
    /// one holds it.
    pub fn among(held: &HeldLocks, id: &str) -> Option<Self> {
        let mut ids = held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.iter().any(|held| held == id) {
            return None;
        }
        ids.push(id.to_owned());
        let (held, id) = (held.clone(), id.to_owned());
        Some(CheckpointLock::new(move || {
            held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|held| *held != id);
        }))
    }

    /// The lock on `id` among this process's (this page's, in wasm): for stores shared beyond
    /// it that have no shared lock to offer (no Web Locks, a file system without locks).
    pub fn in_process(id: &str) -> Option<Self> {
        Self::among(&IN_PROCESS, id)
    }

    /// Whether `id` is among those in `held` (without taking it).
    pub fn is_held(held: &HeldLocks, id: &str) -> bool {
        held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|held| held == id)
    }

    /// Whether [`CheckpointLock::in_process`] holds `id`.
    pub fn is_held_in_process(id: &str) -> bool {
        Self::is_held(&IN_PROCESS, id)
    }
}

/// The locks of [`CheckpointLock::in_process`].
static IN_PROCESS: std::sync::LazyLock<HeldLocks> = std::sync::LazyLock::new(Default::default);

impl Drop for CheckpointLock {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl std::fmt::Debug for CheckpointLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointLock")
    }
}

/// Where checkpoints are kept: `localStorage` in pages, a directory natively, memory in tests.
#[allow(async_fn_in_trait)] // wasm futures are not Send; the engine never needs Send.
pub trait CheckpointStore {
    async fn load(&self, id: &str) -> Option<String>;
    async fn save(&self, id: &str, value: &str) -> Result<()>;
    async fn remove(&self, id: &str);
    /// The ids of every checkpoint stored (those starting with [`CHECKPOINT_PREFIX`]), so that
    /// uploads interrupted by a reload or a crash can be listed and given up without the file.
    async fn ids(&self) -> Vec<String>;
    /// The lock on checkpoint `id` for everyone who shares this store (the pages of an origin,
    /// the processes using a directory); `None` while someone else holds it.
    async fn lock(&self, id: &str) -> Option<CheckpointLock>;
    /// Whether someone holds the lock on `id` now: its upload is running (in this process, in
    /// another tab, in another process). Stores look without taking the lock where they can.
    async fn in_use(&self, id: &str) -> bool;
}

impl<C: CheckpointStore> CheckpointStore for std::rc::Rc<C> {
    async fn load(&self, id: &str) -> Option<String> {
        (**self).load(id).await
    }
    async fn save(&self, id: &str, value: &str) -> Result<()> {
        (**self).save(id, value).await
    }
    async fn remove(&self, id: &str) {
        (**self).remove(id).await
    }
    async fn ids(&self) -> Vec<String> {
        (**self).ids().await
    }
    async fn lock(&self, id: &str) -> Option<CheckpointLock> {
        (**self).lock(id).await
    }
    async fn in_use(&self, id: &str) -> bool {
        (**self).in_use(id).await
    }
}

/// No resume: nothing is stored.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCheckpoints;

impl CheckpointStore for NoCheckpoints {
    async fn load(&self, _id: &str) -> Option<String> {
        None
    }
    async fn save(&self, _id: &str, _value: &str) -> Result<()> {
        Ok(())
    }
    async fn remove(&self, _id: &str) {}
    async fn ids(&self) -> Vec<String> {
        Vec::new()
    }
    async fn lock(&self, _id: &str) -> Option<CheckpointLock> {
        Some(CheckpointLock::new(|| {})) // nothing shared
    }
    async fn in_use(&self, _id: &str) -> bool {
        false
    }
}

/// Checkpoints in memory (tests, and runtimes with nothing durable).
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    saved: std::sync::Mutex<std::collections::HashMap<String, String>>,
    held: HeldLocks,
}

impl CheckpointStore for MemoryCheckpoints {
    async fn load(&self, id: &str) -> Option<String> {
        self.saved.lock().ok()?.get(id).cloned()
    }
    async fn save(&self, id: &str, value: &str) -> Result<()> {
        if let Ok(mut map) = self.saved.lock() {
            map.insert(id.to_owned(), value.to_owned());
        }
        Ok(())
    }
    async fn remove(&self, id: &str) {
        if let Ok(mut map) = self.saved.lock() {
            map.remove(id);
        }
    }
    async fn ids(&self) -> Vec<String> {
        let map = self.saved.lock().map(|m| m.keys().filter(|k| k.starts_with(CHECKPOINT_PREFIX)).cloned().collect());
        map.unwrap_or_default()
    }
    async fn lock(&self, id: &str) -> Option<CheckpointLock> {
        CheckpointLock::among(&self.held, id)
    }
    async fn in_use(&self, id: &str) -> bool {
        CheckpointLock::is_held(&self.held, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn round_trip_and_matching() {
        let target = Target {
            service: ServiceKind::Ufile,
            endpoint: "http://e/b".into(),
            bucket: "b".into(),
            key: "k".into(),
            mime: String::new(),
        };
        let mut c = Checkpoint::new(&target, "f1", 10, 4, Session::Ufile { upload_id: "u".into() }, 1_000);
        c.record(DonePart { index: 1, size: 4, md5: "m".into(), result: "e1".into() });
        c.record(DonePart { index: 1, size: 4, md5: "m".into(), result: "e1b".into() });
        let back = Checkpoint::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.done(1).unwrap().result, "e1b");
        assert!(back.matches(&target, "f1", 10, 2_000));
        assert!(!back.matches(&target, "f2", 10, 2_000), "changed file");
        assert!(!back.matches(&target, "f1", 10, MAX_CHECKPOINT_AGE_MS + 1_000));
        let other_key = Target { key: "k2".into(), ..target.clone() };
        assert!(!back.matches(&other_key, "f1", 10, 2_000));
        for part_size in [0, crate::engine::LARGEST_PART + 1, u64::MAX] {
            let odd = Checkpoint { part_size, ..back.clone() };
            assert!(!odd.matches(&target, "f1", 10, 2_000), "part size {part_size}");
        }
        assert!(Checkpoint::from_json("{}").is_err());
        assert_ne!(Checkpoint::id(&target, "f"), Checkpoint::id(&other_key, "f"));
    }

    /// The session's JSON is what earlier versions wrote (checkpoints saved before an update
    /// still resume), and one that names no known service, or lacks its field, is refused.
    #[test]
    fn session_json_is_stable() {
        let cases = [
            (Session::Wcs { batch: "b1".into() }, r#"{"kind":"wcs","batch":"b1"}"#),
            (Session::Ufile { upload_id: "u1".into() }, r#"{"kind":"ufile","uploadId":"u1"}"#),
            (
                Session::Wantu(WantuSession { id: "i1".into(), upload_id: "u1".into() }),
                r#"{"kind":"wantu","id":"i1","uploadId":"u1"}"#,
            ),
        ];
        for (session, json) in cases {
            assert_eq!(crate::json::to_string(&session).unwrap(), json);
            assert_eq!(crate::json::from_str::<Session>(json, "a session").unwrap(), session);
        }
        // Field order and unknown fields do not matter.
        let reordered = r#"{"uploadId":"u1","extra":[1,{"a":null}],"id":"i1","kind":"wantu"}"#;
        assert_eq!(
            crate::json::from_str::<Session>(reordered, "a session").unwrap(),
            Session::Wantu(WantuSession { id: "i1".into(), upload_id: "u1".into() })
        );
        for bad in [
            r#"{"kind":"s3","batch":"b1"}"#,
            r#"{"kind":"wcs","uploadId":"u1"}"#,
            r#"{"kind":"wantu","uploadId":"u1"}"#,
            r#"{"batch":"b1"}"#,
            r#"{"kind":"ufile","uploadId":7}"#,
        ] {
            let err = crate::json::from_str::<Session>(bad, "the upload checkpoint").unwrap_err();
            assert!(err.to_string().contains("the upload checkpoint"), "{bad}: {err}");
        }
    }
}
