//! Files in Node ([`NodeFileSource`]): a path or a `FileHandle`, read with `handle.read()`.

use bytes::Bytes;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{js_message, node_builtin};
use crate::engine::Source;
use crate::{Error, ErrorKind, Result};

/// A file in Node: a `FileHandle` of `fs/promises`, or a path opened here (and closed when the
/// source is dropped). Parts are read with `handle.read()` into one buffer kept from part to
/// part. A file-backed `Blob` (`fs.openAsBlob`) works too, but Node streams it through web
/// streams in 64 KiB reads: reading 512 MiB that way took 600 ms of CPU against 100 ms with
/// `handle.read()` (4 MiB reads, page cache, measured on these machines).
#[derive(Debug)]
pub struct NodeFileSource {
    handle: JsValue,
    read: Function,
    size: u64,
    /// `mtimeMs` when opened, for [`Source::changed`].
    modified: Option<f64>,
    fingerprint: Option<String>,
    buffer: Option<Uint8Array>,
    /// Opened here from a path, so closed here.
    owned: bool,
}

impl NodeFileSource {
    /// Whether `value` looks like a Node `FileHandle` (an `fd` and `read`/`stat` methods).
    pub fn is_handle(value: &JsValue) -> bool {
        let has_fn = |name: &str| Reflect::get(value, &name.into()).is_ok_and(|f| f.is_function());
        value.is_object()
            && Reflect::get(value, &"fd".into()).is_ok_and(|fd| fd.as_f64().is_some())
            && has_fn("read")
            && has_fn("stat")
    }

    /// Open `file`: a `FileHandle` (left open afterwards) or a path (Node only). The file's
    /// fingerprint, unless one is given, is its device, inode, size and modification time.
    pub async fn open(file: &JsValue, fingerprint: Option<String>) -> Result<Self> {
        let (handle, owned) = match file.as_string() {
            Some(path) => (open_path(&path).await?, true),
            None => (file.clone(), false),
        };
        let mut source = NodeFileSource {
            read: Reflect::get(&handle, &"read".into())
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
                .ok_or_else(|| Error::invalid_input("the file handle has no read method"))?,
            handle,
            size: 0,
            modified: None,
            fingerprint,
            buffer: None,
            owned,
        };
        // On failure `source` is dropped, which closes a file opened here.
        let stat = source.stat().await?;
        let number = |name: &str| stat_number(&stat, name);
        if call_method_now(&stat, "isFile").is_some_and(|is_file| !is_file.is_truthy()) {
            return Err(Error::invalid_input("upload() takes a regular file; this path is not one (a directory?)"));
        }
        source.size = number("size").ok_or_else(|| Error::new(ErrorKind::Io, "the file's stat has no size"))? as u64;
        source.modified = number("mtimeMs");
        if source.fingerprint.is_none() {
            let [dev, ino, modified] = ["dev", "ino", "mtimeMs"].map(|n| number(n).unwrap_or(0.0) as u64);
            source.fingerprint = Some(format!("node-file:{dev}:{ino}:{}:{modified}", source.size));
        }
        Ok(source)
    }

    /// The open handle's `stat()`: a file replaced by a rename is another inode, and this one,
    /// which is being read, is intact.
    async fn stat(&self) -> Result<JsValue> {
        call_method(&self.handle, "stat", &[]).await.map_err(|e| node_file_error("stat", &e))
    }
}

impl Drop for NodeFileSource {
    fn drop(&mut self) {
        if self.owned
            && let Some(closed) = call_method_now(&self.handle, "close")
            && let Ok(catch) = Reflect::get(&closed, &"catch".into()).and_then(|c| c.dyn_into::<Function>())
        {
            // Nothing to do if closing fails, but an unhandled rejection would end the process.
            let _ = catch.call1(&closed, &Closure::<dyn FnMut(JsValue)>::once_into_js(|_: JsValue| {}));
        }
    }
}

impl Source for NodeFileSource {
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }
    fn fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes> {
        let want = u32::try_from(len.min(self.size.saturating_sub(offset)))
            .map_err(|_| Error::invalid_input("parts must be smaller than 4 GiB"))?;
        let buffer = match self.buffer.take() {
            Some(b) if b.length() >= want => b,
            _ => Uint8Array::new_with_length(want.max(1)),
        };
        let mut filled = 0u32;
        while filled < want {
            let options = js_sys::Object::new();
            for (name, value) in [
                ("buffer", JsValue::from(&buffer)),
                ("offset", filled.into()),
                ("length", (want - filled).into()),
                ("position", ((offset + u64::from(filled)) as f64).into()),
            ] {
                let _ = Reflect::set(&options, &name.into(), &value);
            }
            let promise = self.read.call1(&self.handle, &options).map_err(|e| node_file_error("read", &e))?;
            let answer =
                JsFuture::from(promise.unchecked_into::<Promise>()).await.map_err(|e| node_file_error("read", &e))?;
            let got = Reflect::get(&answer, &"bytesRead".into()).ok().and_then(|n| n.as_f64()).unwrap_or(0.0) as u32;
            if got == 0 {
                break; // the file is shorter than it was: the engine sees a short read
            }
            filled += got.min(want - filled);
        }
        let bytes = Bytes::from(buffer.subarray(0, filled).to_vec());
        self.buffer = Some(buffer);
        Ok(bytes)
    }

    async fn changed(&mut self) -> Result<bool> {
        let stat = self.stat().await?;
        Ok(stat_number(&stat, "size") != Some(self.size as f64) || stat_number(&stat, "mtimeMs") != self.modified)
    }
}

/// A number field of a `Stats` object.
fn stat_number(stat: &JsValue, name: &str) -> Option<f64> {
    Reflect::get(stat, &name.into()).ok().and_then(|v| v.as_f64())
}

/// `fs/promises.open(path, "r")` (Node ≥ 20.16, see [`node_builtin`]).
async fn open_path(path: &str) -> Result<JsValue> {
    let fs = node_builtin("fs/promises").ok_or_else(|| {
        Error::invalid_input(
            "a path can be uploaded in Node ≥ 20.16 only; elsewhere pass a Blob, or in older Node a FileHandle \
             (await fs.promises.open(path))",
        )
    })?;
    call_method(&fs, "open", &[path.into(), "r".into()])
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot open {path}: {}", js_message(&e))))
}

/// `target[name](...args)`, awaited.
async fn call_method(target: &JsValue, name: &str, args: &[JsValue]) -> std::result::Result<JsValue, JsValue> {
    let method = Reflect::get(target, &name.into())?.dyn_into::<Function>()?;
    let args: js_sys::Array = args.iter().collect();
    let promise = method.apply(target, &args)?;
    JsFuture::from(Promise::resolve(&promise)).await
}

/// `target[name]()` without awaiting it; `None` if there is no such method or it threw.
fn call_method_now(target: &JsValue, name: &str) -> Option<JsValue> {
    let method = Reflect::get(target, &name.into()).ok()?.dyn_into::<Function>().ok()?;
    method.call0(target).ok()
}

fn node_file_error(what: &str, e: &JsValue) -> Error {
    Error::new(ErrorKind::Io, format!("cannot {what} the file: {}", js_message(e)))
}
