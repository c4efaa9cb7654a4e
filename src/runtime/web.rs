//! Web runtime: the global `fetch`, `Blob`/`File` and `ReadableStream` sources, `localStorage`
//! checkpoints, `setTimeout`. Only globals that pages, Web Workers, Node ≥ 18 and edge runtimes
//! (workerd, Deno) all have are used, looked up at call time, so one build serves them all.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Blob, Headers, ReadableStream, ReadableStreamDefaultReader, Request, RequestInit, Response,
};

use crate::engine::{
    CHECKPOINT_PREFIX, Checkpoint, CheckpointLock, CheckpointStore, HeldLocks, MAX_CHECKPOINT_AGE_MS, Runtime, Source,
    Transport,
};
use crate::service::{HttpRequest, HttpResponse};
use crate::{Error, ErrorKind, Result};

// Files by path or `FileHandle` in Node: not in the browser build (`--no-default-features`),
// where there are no such files and every byte of the bundle counts.
#[cfg(feature = "node-files")]
mod node_file;
#[cfg(feature = "node-files")]
pub use node_file::NodeFileSource;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (window, worker, Node, workerd alike).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;

    /// `fetch(url, init)`, without a `Request` built first: see [`FetchTransport::send`].
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch_url(url: &str, init: &RequestInit) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
}

// A macrotask turn without `setTimeout`'s clamp (browsers wait 4 ms for nested timers, Node
// 1 ms): Node's `setImmediate`, else a `MessageChannel` message, else `setTimeout`.
#[wasm_bindgen(inline_js = "export function yieldTask() {
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'function') {
    const c = new MessageChannel();
    return new Promise((r) => { c.port1.onmessage = () => { c.port1.close(); r(); }; c.port2.postMessage(0); });
  }
  return new Promise((r) => setTimeout(r, 0));
}
// One request's watchdog (see `Watch`): aborts `target` (an XHR or an AbortController) once
// nothing moved for `idleMs`, the first wait being `firstMs`. One timer at a time: it re-arms
// itself when progress pushed the deadline back, and stop() clears it (a pending timer would
// hold Node's event loop open after the request). setTimeout takes at most 2^31-1 ms.
export class Watchdog {
  constructor(target, idleMs, firstMs) {
    this.target = target;
    this.idleMs = idleMs;
    this.deadline = Date.now() + firstMs;
    this.stalled = false;
    this.arm(firstMs);
  }
  arm(ms) {
    this.timer = setTimeout(() => {
      const left = this.deadline - Date.now();
      if (left > 0) return this.arm(left);
      this.stalled = true;
      this.target.abort();
    }, Math.min(ms, 2147483647));
  }
  touch() { this.deadline = Math.max(this.deadline, Date.now() + this.idleMs); }
  stop() { clearTimeout(this.timer); }
  // Bytes of the body sent and bytes of the reply received both count.
  watchXhr(xhr) {
    const touch = () => this.touch();
    xhr.upload.addEventListener('progress', touch);
    xhr.addEventListener('progress', touch);
  }
}
// A request body for Node's fetch: `bytes` as 1 MiB views (no copies). undici takes the next
// once the socket has drained the last, so each one taken is progress for `dog`.
export function bodyStream(bytes, dog) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      dog.touch();
      if (at >= bytes.length) return c.close();
      const end = Math.min(at + 1048576, bytes.length);
      c.enqueue(bytes.subarray(at, end));
      at = end;
    },
  }, { highWaterMark: 0 });
}
// A reply's bytes, each chunk read being progress for `dog`.
export async function replyBytes(response, dog) {
  dog.touch();
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    dog.touch();
    chunks.push(value);
    size += value.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  size = 0;
  for (const c of chunks) { out.set(c, size); size += c.length; }
  return out;
}
// Two Web Workers that SHA-1 buffers with WebCrypto (see `blob_block_digests`). The worker's
// script is this module's string, started from a `blob:` URL, so the package needs no file of
// its own for it and no bundler setup. Each request transfers its buffer to a worker, and the
// answer transfers it back with the digest, so no block is copied between threads.
const SHA1_WORKER = `
postMessage(typeof crypto === 'object' && crypto.subtle ? 'ready' : 'no WebCrypto in a worker');
onmessage = (e) => {
  const { id, buffer, length } = e.data;
  Promise.resolve()
    .then(() => crypto.subtle.digest('SHA-1', new Uint8Array(buffer, 0, length)))
    .then((digest) => postMessage({ id, digest, buffer }, [digest, buffer]),
          (error) => postMessage({ id, error: String(error) }));
};`;

class Sha1Workers {
  constructor(workers, url) {
    this.workers = workers;
    this.url = url;
    this.next = 0;
    this.waiting = new Map();
    this.broken = null;
    for (const w of workers) {
      w.onmessage = (e) => this.answer(e.data);
      w.onerror = (e) => { e.preventDefault(); this.fail(e.message || 'a hashing worker failed'); };
      w.onmessageerror = () => this.fail('a hashing worker answered with a message that could not be read');
    }
  }
  digest(buffer, length) {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[id % this.workers.length].postMessage({ id, buffer, length }, [buffer]);
    });
  }
  answer({ id, digest, buffer, error }) {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    this.waiting.delete(id);
    if (error) waiting.reject(new Error(error));
    else waiting.resolve([digest, buffer]);
  }
  fail(message) {
    this.broken = new Error(message);
    for (const waiting of this.waiting.values()) waiting.reject(this.broken);
    this.waiting.clear();
  }
  close() {
    this.fail('the hashing workers were closed');
    for (const w of this.workers) w.terminate();
    URL.revokeObjectURL(this.url);
  }
}

export async function startSha1Workers(count, waitMs) {
  if (typeof Worker !== 'function' || typeof URL !== 'function' || typeof URL.createObjectURL !== 'function') return undefined;
  const workers = [];
  let url;
  let timer;
  try {
    url = URL.createObjectURL(new Blob([SHA1_WORKER], { type: 'text/javascript' }));
    for (let i = 0; i < count; i++) workers.push(new Worker(url));
    const ready = workers.map((w) => new Promise((resolve, reject) => {
      w.onmessage = (e) => (e.data === 'ready' ? resolve() : reject(new Error(String(e.data))));
      w.onerror = (e) => { e.preventDefault(); reject(new Error(e.message)); };
    }));
    const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('late')), waitMs); });
    await Promise.race([Promise.all(ready), late]);
    return new Sha1Workers(workers, url);
  } catch {
    for (const w of workers) w.terminate();
    if (url) URL.revokeObjectURL(url);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
// navigator.locks.request(name, { ifAvailable: true }): resolves to the lock's release function,
// to null when someone else holds the lock, or to undefined where there is no Web Locks API or it
// refuses this context (a refused request never calls back). The lock is held until the promise
// the callback returns settles, which release does. Written here rather than through js-sys: the
// same steps in Rust took 4 kB of wasm.
export function lockIfAvailable(name) {
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (!locks || typeof locks.request !== 'function') return Promise.resolve(undefined);
  return new Promise((answer) => {
    let release;
    const held = new Promise((r) => { release = r; });
    try {
      locks.request(name, { ifAvailable: true }, (lock) => {
        answer(lock ? release : null);
        return lock ? held : undefined;
      }).catch(() => answer(undefined));
    } catch {
      answer(undefined);
    }
  });
}
// Whether someone holds the Web Lock `name` (navigator.locks.query(), which takes nothing):
// true or false, undefined where there is no Web Locks API.
export function lockHeld(name) {
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (!locks || typeof locks.query !== 'function') return Promise.resolve(undefined);
  return locks.query().then((state) => state.held.some((lock) => lock.name === name), () => undefined);
}
")]
extern "C" {
    #[wasm_bindgen(js_name = yieldTask)]
    fn yield_task() -> Promise;

    #[wasm_bindgen(js_name = lockIfAvailable)]
    fn lock_if_available(name: &str) -> Promise;

    #[wasm_bindgen(js_name = lockHeld)]
    fn lock_held(name: &str) -> Promise;

    /// See [`Watch`].
    type Watchdog;

    #[wasm_bindgen(constructor)]
    fn new(target: &JsValue, idle_ms: f64, first_ms: f64) -> Watchdog;

    #[wasm_bindgen(method)]
    fn touch(this: &Watchdog);

    #[wasm_bindgen(method)]
    fn stop(this: &Watchdog);

    #[wasm_bindgen(method, getter)]
    fn stalled(this: &Watchdog) -> bool;

    #[wasm_bindgen(method, js_name = watchXhr)]
    fn watch_xhr(this: &Watchdog, xhr: &web_sys::XmlHttpRequest);

    /// A `ReadableStream` of `bytes` in 1 MiB views, each taken touching `dog` (a request body
    /// for Node, see [`set_fetch_body`]).
    #[wasm_bindgen(js_name = bodyStream)]
    fn body_stream(bytes: &Uint8Array, dog: &Watchdog) -> JsValue;

    /// A promise of a reply's bytes (`Uint8Array`), each chunk read touching `dog`.
    #[wasm_bindgen(js_name = replyBytes)]
    fn reply_bytes(response: &Response, dog: &Watchdog) -> Promise;
    /// The workers behind [`Sha1Workers`].
    type Sha1WorkersJs;

    #[wasm_bindgen(js_name = startSha1Workers)]
    fn start_sha1_workers(count: u32, wait_ms: u32) -> Promise;

    #[wasm_bindgen(method)]
    fn digest(this: &Sha1WorkersJs, buffer: &js_sys::ArrayBuffer, length: u32) -> Promise;

    #[wasm_bindgen(method)]
    fn close(this: &Sha1WorkersJs);
}

/// The message of a thrown JS value: an `Error`'s `message`, or a thrown string. An `Error`'s
/// `cause` follows in parentheses: Node's fetch says only "fetch failed", and why (a refused
/// connection, a name that did not resolve, a certificate) is in the cause's message, or in its
/// `code` when that message is empty (an `AggregateError` of one refusal per address).
pub(crate) fn js_message(value: &JsValue) -> String {
    let Some(error) = value.dyn_ref::<js_sys::Error>() else {
        return value.as_string().unwrap_or_else(|| "unknown error".to_owned());
    };
    let mut message = String::from(error.message());
    if let Some(cause) = error.cause().dyn_ref::<js_sys::Error>() {
        let why = Some(String::from(cause.message()))
            .filter(|m| !m.is_empty())
            .or_else(|| Reflect::get(cause, &"code".into()).ok().and_then(|c| c.as_string()));
        if let Some(why) = why {
            message = format!("{message} ({why})");
        }
    }
    message
}

fn is_abort(value: &JsValue) -> bool {
    value.dyn_ref::<js_sys::Error>().is_some_and(|e| e.name() == "AbortError")
        || Reflect::get(value, &"name".into()).ok().and_then(|n| n.as_string()).is_some_and(|n| n == "AbortError")
}

/// A request body as a `Blob`. Where the body holds a range of the upload's source `Blob` (a
/// part of a `File`), that range of it: the browser reads it from the file, and no byte is copied
/// out of wasm memory (in Chromium, building a 4 MiB `Blob` from bytes costs more than hashing
/// them). Else one copy out of wasm memory into a new `Blob`: Chromium sends a `Blob` body
/// several times faster than the same bytes as a typed array (a 4 MiB part in 30-40 ms instead
/// of 200-300 ms, measured in `make bench`).
fn body_blob(request: &HttpRequest, source: Option<&Blob>) -> Result<Blob> {
    let fail = |e: JsValue| Error::invalid_input(format!("cannot make a request body: {}", js_message(&e)));
    let body = &request.body[..];
    if let (Some(source), Some(range)) = (source, request.source_range) {
        let len = (range.end - range.start) as usize;
        if range.end as f64 <= source.size() && range.at + len <= body.len() {
            let slice = source.slice_with_f64_and_f64(range.start as f64, range.end as f64).map_err(fail)?;
            if len == body.len() {
                return Ok(slice);
            }
            // A form around the file's bytes: its head and tail are copied, the bytes are not.
            let parts = js_sys::Array::new();
            parts.push(&Uint8Array::from(&body[..range.at]));
            parts.push(&slice);
            parts.push(&Uint8Array::from(&body[range.at + len..]));
            return Blob::new_with_blob_sequence(&parts).map_err(fail);
        }
    }
    let parts = js_sys::Array::of1(&Uint8Array::from(body));
    Blob::new_with_u8_array_sequence(&parts).map_err(fail)
}

/// Put `request`'s body into `init`: a `Blob` ([`body_blob`]) where that is the fast way; in Node
/// the bytes (one copy out of wasm memory) as a stream of 1 MiB views whose reads are progress for
/// `watch`, with `duplex: "half"` and its Content-Length in `headers` (else Node would send it
/// chunked).
///
/// Node's fetch (undici) streams a `Blob` body through web streams in 64 KiB reads, a file-backed
/// one from the file again: a 512 MiB UFile upload spent 0.7 s more of the main thread that way
/// (`node --cpu-prof`, blob/readablestream frames). Bytes it copies once more (`extractBody`) and
/// then clones again into its byte stream; a stream's chunks it writes as they are. 128 PUTs of
/// 4 MiB to the emulator, 3 alternating rounds: 0.8-1.0 s of CPU against 1.5-1.9 s as bytes.
/// (No redirect can replay a stream body; the services answer uploads without redirects.)
fn set_fetch_body(
    init: &RequestInit,
    headers: &Headers,
    request: &HttpRequest,
    source: Option<&Blob>,
    watch: &Watch,
) -> Result<()> {
    if in_node() {
        init.set_body(&body_stream(&Uint8Array::from(&request.body[..]), &watch.dog));
        let _ = Reflect::set(init, &"duplex".into(), &"half".into());
        let _ = headers.set("content-length", &request.body.len().to_string());
    } else {
        init.set_body(&body_blob(request, source)?.into());
    }
    Ok(())
}

/// Node's `zlib.crc32(data, crc)` (Node ≥ 20.15, reached through `process.getBuiltinModule`,
/// Node ≥ 20.16), looked up once: native CRC-32, about 3× the wasm one (2.9 against 0.9 GB/s on
/// these machines), which WCS uploads take of every byte on the JS thread.
fn node_crc32() -> Option<Function> {
    thread_local! {
        static CRC32: Option<Function> = in_node().then(|| {
            let zlib = node_builtin("zlib")?;
            Reflect::get(&zlib, &"crc32".into()).ok()?.dyn_into::<Function>().ok()
        }).flatten();
    }
    CRC32.with(|f| f.clone())
}

/// Node's built-in module `name` through `process.getBuiltinModule` (Node ≥ 20.16), which works
/// from CommonJS and ES modules alike; `None` elsewhere or in older Node.
fn node_builtin(name: &str) -> Option<JsValue> {
    let process = Reflect::get(&js_sys::global(), &"process".into()).ok().filter(|p| p.is_object())?;
    let get = Reflect::get(&process, &"getBuiltinModule".into()).ok()?.dyn_into::<Function>().ok()?;
    get.call1(&process, &name.into()).ok().filter(|m| m.is_object())
}

/// Whether this is Node (`process.versions.node`), asked once.
/// Whether requests sent from here keep a `Date` header. Browsers (pages and their workers) drop
/// it from every request as a forbidden header name, without a word; Node, Deno and edge
/// runtimes send it. Wantu's manage API signs it, so its requests cannot go from a browser.
#[cfg(feature = "server")]
pub(crate) fn sends_date_header() -> bool {
    let Ok(headers) = Headers::new() else { return false };
    if headers.set("date", "0").is_err() {
        return false;
    }
    let init = RequestInit::new();
    init.set_headers(&headers);
    Request::new_with_str_and_init("http://localhost/", &init)
        .is_ok_and(|request| request.headers().has("date").unwrap_or(false))
}

fn in_node() -> bool {
    thread_local! {
        static IN_NODE: bool = {
            let versions = Reflect::get(&js_sys::global(), &"process".into())
                .and_then(|p| Reflect::get(&p, &"versions".into()))
                .and_then(|v| Reflect::get(&v, &"node".into()));
            versions.is_ok_and(|v| v.is_string())
        };
    }
    IN_NODE.with(|n| *n)
}

/// The idle timeout of the web transports unless they are given another, in ms.
pub(crate) const IDLE_MS: u32 = crate::runtime::IDLE_TIMEOUT.as_millis() as u32;

/// A request's stall watchdog: the request is aborted once it has made no progress for the
/// transport's idle timeout, and fails as a network error, which uploads and management reads
/// try again. Without it a connection or server that stops answering holds the request, and
/// the upload, forever: fetch and XHR have no such limit. Progress is what the platform shows:
/// XHR each chunk of the body sent and of the reply; Node's fetch each 1 MiB of the body taken
/// and each chunk of the reply. Fetch elsewhere (service workers, edge runtimes) shows nothing of
/// a body on its way, so there the first wait also allows for the body at 16 kB/s. Stopped when
/// dropped, with its timer.
struct Watch {
    dog: Watchdog,
    idle_ms: u32,
}

impl Watch {
    fn new(target: &JsValue, idle_ms: u32, first_ms: f64) -> Self {
        Watch { dog: Watchdog::new(target, idle_ms.into(), first_ms), idle_ms }
    }

    /// The error for a request this watchdog aborted, if it did.
    fn stalled(&self, request: &HttpRequest) -> Option<Error> {
        self.dog.stalled().then(|| {
            // As the native transport says it (without its float formatting, which is 15 KB of
            // wasm), with the same code.
            let (n, unit) = match self.idle_ms {
                ms if ms % 1000 == 0 => (ms / 1000, "s"),
                ms => (ms, "ms"),
            };
            let host = request.host();
            Error::new(ErrorKind::Network, format!("request to {host} timed out: no progress for {n} {unit}"))
                .with_code("timeout")
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.dog.stop();
    }
}

/// HTTP through the global `fetch`. An `AbortSignal`, when given, aborts every request in flight.
/// A request that makes no progress for the idle timeout fails (see [`Watch`]).
#[derive(Clone, Debug)]
pub struct FetchTransport {
    signal: Option<AbortSignal>,
    /// The upload's source, when a `Blob`: bodies that are ranges of it are sent as its slices.
    source: Option<Blob>,
    idle_ms: u32,
}

impl Default for FetchTransport {
    fn default() -> Self {
        FetchTransport::new(None)
    }
}

impl FetchTransport {
    pub fn new(signal: Option<AbortSignal>) -> Self {
        FetchTransport { signal, source: None, idle_ms: IDLE_MS }
    }

    /// Requests fail after `ms` without progress instead of [`crate::runtime::IDLE_TIMEOUT`].
    pub fn with_idle_timeout_ms(mut self, ms: u32) -> Self {
        self.idle_ms = ms.max(1);
        self
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        let headers = Headers::new().map_err(|e| Error::invalid_input(js_message(&e)))?;
        for (name, value) in &request.headers {
            headers
                .append(name, value)
                .map_err(|e| Error::invalid_input(format!("header {name}: {}", js_message(&e))))?;
        }
        // A controller of this request's own: the upload's signal aborts it through `_link`,
        // `watch` when it stalls, and `guard` when this future is dropped first (another part
        // failed, or the upload was paused), so that no part goes on sending after the upload
        // gave up on it.
        let controller = web_sys::AbortController::new()
            .map_err(|e| Error::invalid_input(format!("cannot make a request: {}", js_message(&e))))?;
        let unseen_body = if in_node() { 0.0 } else { request.body.len() as f64 / 16.0 };
        let watch = Watch::new(&controller, self.idle_ms, f64::from(self.idle_ms) + unseen_body);
        if !request.body.is_empty() {
            set_fetch_body(&init, &headers, &request, self.source.as_ref(), &watch)?;
        }
        init.set_headers(&headers);
        let signal = self.signal.as_ref().filter(|_| !request.after_cancel);
        let _link = SignalLink::new(signal, {
            let controller = controller.clone();
            move || controller.abort()
        });
        init.set_signal(Some(&controller.signal()));
        let mut guard = FetchGuard { controller: &controller, settled: false };
        let network = |e: JsValue| {
            if let Some(stalled) = watch.stalled(&request) {
                stalled
            } else if is_abort(&e) {
                Error::new(ErrorKind::Aborted, "the request was aborted").with_code("aborted")
            } else {
                // fetch says as little as browsers allow ("Failed to fetch"); name the host.
                let host = request.host();
                Error::new(ErrorKind::Network, format!("request to {host} failed: {}", js_message(&e)))
            }
        };
        // Node's fetch (undici) turns a `Request` it is given into a new one, piping the body
        // through a TransformStream; given the URL and init it takes the body as it is.
        let pending = if in_node() {
            global_fetch_url(&request.url, &init)
        } else {
            let js_request = Request::new_with_str_and_init(&request.url, &init)
                .map_err(|e| Error::invalid_input(format!("cannot make a request: {}", js_message(&e))))?;
            global_fetch(&js_request)
        };
        let response: Response = JsFuture::from(pending).await.map_err(network)?.unchecked_into();
        let status = response.status();
        let mut out_headers = Vec::new();
        if let Ok(Some(iter)) = js_sys::try_iter(&response.headers()) {
            for entry in iter.flatten() {
                let pair: js_sys::Array = entry.unchecked_into();
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    out_headers.push((k.to_ascii_lowercase(), v));
                }
            }
        }
        let bytes: Uint8Array =
            JsFuture::from(reply_bytes(&response, &watch.dog)).await.map_err(network)?.unchecked_into();
        guard.settled = true;
        Ok(HttpResponse { status, headers: out_headers, body: Bytes::from(bytes.to_vec()) })
    }
}

/// Forwards the upload's `AbortSignal` to one request while the request lives. The listener is
/// removed with it, so that a signal shared by many uploads does not keep them all alive. A signal
/// already aborted aborts the request at once.
struct SignalLink<'a> {
    signal: Option<&'a AbortSignal>,
    aborter: Closure<dyn FnMut()>,
}

impl<'a> SignalLink<'a> {
    fn new(signal: Option<&'a AbortSignal>, mut abort: impl FnMut() + 'static) -> Self {
        if signal.is_some_and(|s| s.aborted()) {
            abort();
        }
        let aborter = Closure::<dyn FnMut()>::new(abort);
        if let Some(signal) = signal {
            let _ = signal.add_event_listener_with_callback("abort", aborter.as_ref().unchecked_ref());
        }
        SignalLink { signal, aborter }
    }
}

impl Drop for SignalLink<'_> {
    fn drop(&mut self) {
        if let Some(signal) = self.signal {
            let _ = signal.remove_event_listener_with_callback("abort", self.aborter.as_ref().unchecked_ref());
        }
    }
}

/// Aborts a `fetch` whose future is dropped before its reply was read (see [`XhrGuard`]). Node's
/// fetch would otherwise send the whole body of a part the upload no longer waits for.
struct FetchGuard<'a> {
    controller: &'a web_sys::AbortController,
    /// The reply was read: nothing to abort.
    settled: bool,
}

impl Drop for FetchGuard<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.controller.abort();
        }
    }
}

/// HTTP through `XMLHttpRequest`, which (unlike `fetch`) reports upload progress byte by byte.
/// Pages and dedicated workers have it; Node and edge runtimes do not.
#[derive(Clone, Debug)]
pub struct XhrTransport {
    signal: Option<AbortSignal>,
    /// As [`FetchTransport`]'s.
    source: Option<Blob>,
    idle_ms: u32,
}

impl XhrTransport {
    pub fn new(signal: Option<AbortSignal>) -> Self {
        XhrTransport { signal, source: None, idle_ms: IDLE_MS }
    }

    /// Whether this global has `XMLHttpRequest`.
    pub fn available() -> bool {
        Reflect::has(&js_sys::global(), &"XMLHttpRequest".into()).unwrap_or(false)
    }
}

/// Detaches an XHR from its callbacks and the upload's abort signal when its request ends, and
/// aborts it when the future sending it is dropped first (another part failed, so the upload
/// gave up on this one): the request stops using the network, and no event reaches a callback
/// freed with the future (wasm-bindgen throws "closure invoked after being dropped").
struct XhrGuard<'a> {
    xhr: &'a web_sys::XmlHttpRequest,
    upload: &'a web_sys::XmlHttpRequestUpload,
    /// The request ended (loadend) or was never sent: nothing to abort.
    settled: bool,
}

impl Drop for XhrGuard<'_> {
    fn drop(&mut self) {
        self.upload.set_onprogress(None);
        if !self.settled {
            let _ = self.xhr.abort();
        }
    }
}

impl Transport for XhrTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.send_reporting(request, &|_| {}).await
    }

    async fn send_reporting(&self, request: HttpRequest, on_sent: &dyn Fn(u64)) -> Result<HttpResponse> {
        use futures_util::StreamExt;
        use web_sys::{ProgressEvent, XmlHttpRequest, XmlHttpRequestResponseType};
        let fail = |e: JsValue| Error::invalid_input(format!("cannot make a request: {}", js_message(&e)));
        let xhr = XmlHttpRequest::new().map_err(fail)?;
        xhr.open_with_async(request.method.as_str(), &request.url, true).map_err(fail)?;
        xhr.set_response_type(XmlHttpRequestResponseType::Arraybuffer);
        for (name, value) in &request.headers {
            xhr.set_request_header(name, value)
                .map_err(|e| Error::invalid_input(format!("header {name}: {}", js_message(&e))))?;
        }
        // Progress events arrive on JS callbacks; hand them to this future through a channel.
        let (tx, mut rx) = futures_channel::mpsc::unbounded::<u64>();
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
            let _ = tx.unbounded_send(event.loaded() as u64);
        });
        let upload = xhr.upload().map_err(fail)?;
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        let watch = Watch::new(&xhr, self.idle_ms, self.idle_ms.into());
        watch.dog.watch_xhr(&xhr);
        let mut guard = XhrGuard { xhr: &xhr, upload: &upload, settled: false };
        let xhr_for_promise = xhr.clone();
        let finished = Promise::new(&mut |resolve, _reject| xhr_for_promise.set_onloadend(Some(&resolve)));
        let sent = if request.body.is_empty() {
            xhr.send()
        } else {
            xhr.send_with_opt_blob(Some(&body_blob(&request, self.source.as_ref())?))
        };
        // After `send`: an XHR aborted before it is sent cannot be sent (no event can fire in
        // between, so nothing is missed).
        let signal = self.signal.as_ref().filter(|_| !request.after_cancel);
        let _link = SignalLink::new(signal, {
            let xhr = xhr.clone();
            move || {
                let _ = xhr.abort();
            }
        });
        let mut outcome = sent.map_err(|e| Error::new(ErrorKind::Network, js_message(&e)));
        if outcome.is_ok() {
            let mut done = std::pin::pin!(JsFuture::from(finished));
            loop {
                match futures_util::future::select(done.as_mut(), rx.next()).await {
                    futures_util::future::Either::Left(_) => break,
                    futures_util::future::Either::Right((Some(bytes), _)) => on_sent(bytes),
                    futures_util::future::Either::Right((None, _)) => {
                        let _ = done.as_mut().await;
                        break;
                    }
                }
            }
            outcome = Ok(());
        }
        guard.settled = true;
        drop(guard);
        outcome?;
        let status = xhr.status().unwrap_or(0);
        if status == 0 {
            // No reply: aborted, stalled, or the network (or CORS) failed; XHR does not say which.
            if let Some(stalled) = watch.stalled(&request) {
                return Err(stalled);
            }
            return Err(if signal.is_some_and(|s| s.aborted()) {
                Error::new(ErrorKind::Aborted, "the request was aborted").with_code("aborted")
            } else {
                let host = request.host();
                Error::new(ErrorKind::Network, format!("request to {host} failed (no reply)"))
            });
        }
        let mut headers = Vec::new();
        for line in xhr.get_all_response_headers().unwrap_or_default().split("\r\n") {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let body = xhr
            .response()
            .ok()
            .filter(|b| !b.is_null() && !b.is_undefined())
            .map(|b| Uint8Array::new(&b).to_vec())
            .unwrap_or_default();
        Ok(HttpResponse { status, headers, body: Bytes::from(body) })
    }
}

/// `XMLHttpRequest` where the global has it (byte-level upload progress), else `fetch`.
#[derive(Clone, Debug)]
pub enum WebTransport {
    Xhr(XhrTransport),
    Fetch(FetchTransport),
}

impl WebTransport {
    pub fn auto(signal: Option<AbortSignal>) -> Self {
        if XhrTransport::available() {
            WebTransport::Xhr(XhrTransport::new(signal))
        } else {
            WebTransport::Fetch(FetchTransport::new(signal))
        }
    }

    /// Send bodies that are ranges of `source` (the upload's `Blob`) as slices of it.
    pub fn with_source(mut self, source: Option<Blob>) -> Self {
        match &mut self {
            WebTransport::Xhr(t) => t.source = source,
            WebTransport::Fetch(t) => t.source = source,
        }
        self
    }

    /// Requests fail after `ms` without progress instead of [`crate::runtime::IDLE_TIMEOUT`].
    pub fn with_idle_timeout_ms(mut self, ms: u32) -> Self {
        match &mut self {
            WebTransport::Xhr(t) => t.idle_ms = ms.max(1),
            WebTransport::Fetch(t) => t.idle_ms = ms.max(1),
        }
        self
    }
}

impl Transport for WebTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        match self {
            WebTransport::Xhr(t) => t.send(request).await,
            WebTransport::Fetch(t) => t.send(request).await,
        }
    }
    async fn send_reporting(&self, request: HttpRequest, on_sent: &dyn Fn(u64)) -> Result<HttpResponse> {
        match self {
            WebTransport::Xhr(t) => t.send_reporting(request, on_sent).await,
            WebTransport::Fetch(t) => t.send_reporting(request, on_sent).await,
        }
    }
}

/// A `Blob` or `File`, read in slices. A `File`'s fingerprint is its name, size and modification
/// time: enough to find its checkpoint again after a page reload.
#[derive(Debug)]
pub struct BlobSource {
    blob: Blob,
    fingerprint: Option<String>,
    /// The buffer parts are read into where the blob's stream takes a BYOB reader, kept from
    /// part to part (see [`BlobSource::read`]).
    buffer: Option<js_sys::ArrayBuffer>,
    /// The BYOB read the last part came from, open to the end of the blob, for the next part
    /// when it starts where that one ended.
    open: Option<OpenRead>,
}

/// A BYOB reader of a blob from some offset to its end, and the offset it has reached.
#[derive(Debug)]
struct OpenRead {
    reader: JsValue,
    read: Function,
    at: u64,
}

impl OpenRead {
    /// Let the browser free the read (an open one holds a file and a pipe).
    fn cancel(self) {
        if let Ok(cancel) = Reflect::get(&self.reader, &"cancel".into()).and_then(|c| c.dyn_into::<Function>()) {
            let _ = cancel.call0(&self.reader);
        }
    }
}

impl Drop for BlobSource {
    fn drop(&mut self) {
        if let Some(open) = self.open.take() {
            open.cancel();
        }
    }
}

/// How the fingerprint of a `File` starts; its name, size and `lastModified` follow.
const FILE_FINGERPRINT: &str = "file:";

/// The name and `lastModified` of the `File` a [`BlobSource`] fingerprint names, if it names one:
/// what a page shows to ask for the same file again.
pub fn file_of_fingerprint(fingerprint: &str) -> Option<(&str, i64)> {
    let (rest, modified) = fingerprint.strip_prefix(FILE_FINGERPRINT)?.rsplit_once(':')?;
    let (name, size) = rest.rsplit_once(':')?;
    size.parse::<u64>().ok()?;
    Some((name, modified.parse().ok()?))
}

impl BlobSource {
    /// The `Blob` (or `File`) read.
    pub fn blob(&self) -> &Blob {
        &self.blob
    }

    pub fn new(blob: Blob, fingerprint: Option<String>) -> Self {
        let fingerprint = fingerprint.or_else(|| {
            let name = Reflect::get(&blob, &"name".into()).ok()?.as_string()?;
            let modified = Reflect::get(&blob, &"lastModified".into()).ok()?.as_f64()?;
            // As integers: the same text as `{}` of the (integral) f64s, without linking Rust's
            // float printing (~15 KB) into the wasm bundle.
            Some(format!("{FILE_FINGERPRINT}{name}:{}:{}", blob.size() as u64, modified as i64))
        });
        BlobSource { blob, fingerprint, buffer: None, open: None }
    }

    /// `len` bytes from `offset` read with a BYOB reader into `self.buffer`; `None` where the
    /// blob's stream is not a byte stream.
    ///
    /// Parts are read in order, so the read is opened from `offset` to the end of the blob and
    /// kept for the next part: one file read for the whole upload instead of a slice, a stream
    /// and a cancel per part (each a round trip to the browser process). A part read out of
    /// order (a retry, a resume) opens a new one from there.
    async fn read_byob(&mut self, offset: u64, len: u32) -> Result<Option<Bytes>> {
        let open = match self.open.take() {
            Some(open) if open.at == offset => open,
            other => {
                if let Some(stale) = other {
                    stale.cancel();
                }
                let start = (offset as f64).min(self.blob.size());
                let rest = self.blob.slice_with_f64(start).map_err(read_error)?;
                let Some((reader, read)) = byob_reader(&rest.stream()) else { return Ok(None) };
                OpenRead { reader, read, at: offset }
            }
        };
        let mut buffer = match self.buffer.take() {
            Some(b) if b.byte_length() >= len => b,
            _ => js_sys::ArrayBuffer::new(len.max(1)),
        };
        let (filled, done) = match byob_fill(&open.reader, &open.read, &mut buffer, len).await {
            Ok(read) => read,
            Err(e) => {
                open.cancel();
                return Err(e);
            }
        };
        if !done {
            self.open = Some(OpenRead { at: offset + u64::from(filled), ..open });
        }
        let bytes = Bytes::from(Uint8Array::new_with_byte_offset_and_length(&buffer, 0, filled).to_vec());
        self.buffer = Some(buffer);
        Ok(Some(bytes))
    }
}

impl Source for BlobSource {
    fn size(&self) -> Option<u64> {
        Some(self.blob.size() as u64)
    }
    fn fingerprint(&self) -> Option<String> {
        self.fingerprint.clone()
    }
    async fn read(&mut self, offset: u64, len: u64) -> Result<Bytes> {
        let size = self.blob.size();
        let start = (offset as f64).min(size);
        let end = (offset.saturating_add(len) as f64).min(size);
        let io = |e: JsValue| {
            Error::new(ErrorKind::Io, format!("cannot read the file at byte {offset}: {}", js_message(&e)))
        };
        // Into one buffer kept from part to part where the stream allows it: an `ArrayBuffer`
        // per part is garbage that Chromium collects late (see `blob_block_digests`). Not in
        // Node, whose file-backed `Blob` streams in 64 KiB reads: there one `arrayBuffer()` per
        // part measured 3-5 % faster (512 MiB UFile uploads, alternating runs).
        if !in_node()
            && let Ok(len) = u32::try_from((end - start) as u64)
            && let Some(bytes) = self.read_byob(offset, len).await?
        {
            return Ok(bytes);
        }
        let slice = self.blob.slice_with_f64_and_f64(start, end).map_err(io)?;
        let buffer = JsFuture::from(slice.array_buffer()).await.map_err(io)?;
        Ok(Bytes::from(Uint8Array::new(&buffer).to_vec()))
    }
}

/// A `ReadableStream` of bytes of unknown length (an edge worker forwarding a request body).
/// Read once, in order; no resume.
#[derive(Debug)]
pub struct StreamSource {
    reader: ReadableStreamDefaultReader,
    buffered: BytesMut,
    done: bool,
}

impl StreamSource {
    pub fn new(stream: ReadableStream) -> Result<Self> {
        let reader = stream
            .get_reader()
            .dyn_into::<ReadableStreamDefaultReader>()
            .map_err(|_| Error::invalid_input("the stream cannot be read (is it locked?)"))?;
        Ok(StreamSource { reader, buffered: BytesMut::new(), done: false })
    }
}

impl Source for StreamSource {
    fn size(&self) -> Option<u64> {
        None
    }
    fn fingerprint(&self) -> Option<String> {
        None
    }
    async fn read(&mut self, _offset: u64, len: u64) -> Result<Bytes> {
        let len = usize::try_from(len)
            .map_err(|_| Error::invalid_input(format!("cannot hold {len} bytes of a stream in memory")))?;
        while self.buffered.len() < len && !self.done {
            let io = |e: JsValue| Error::new(ErrorKind::Io, format!("cannot read the stream: {}", js_message(&e)));
            let chunk = JsFuture::from(self.reader.read()).await.map_err(io)?;
            if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
                self.done = true;
                break;
            }
            let value = Reflect::get(&chunk, &"value".into()).map_err(io)?;
            let bytes = value
                .dyn_into::<Uint8Array>()
                .map_err(|_| Error::invalid_input("the stream must yield Uint8Array chunks"))?;
            let start = self.buffered.len();
            self.buffered.resize(start + bytes.length() as usize, 0);
            bytes.copy_to(&mut self.buffered[start..]);
        }
        let take = len.min(self.buffered.len());
        Ok(self.buffered.split_to(take).freeze())
    }
}

/// Checkpoints in `localStorage` when the global has one (pages), else in memory (workers,
/// Node, edge), so that a page reload can resume where a worker cannot.
#[derive(Debug, Default)]
pub struct WebCheckpoints {
    memory: RefCell<HashMap<String, String>>,
    /// The locks on checkpoints in `memory` (those in `localStorage` use Web Locks).
    held: HeldLocks,
}

/// The Web Lock `name` for every page and worker of the origin (those that share
/// `localStorage`), which the browser also releases when a page goes away. `None` where there is
/// no Web Locks API (or it refuses this context); `Some(None)` when someone else holds the lock.
async fn web_lock(name: &str) -> Option<Option<CheckpointLock>> {
    let answer = JsFuture::from(lock_if_available(name)).await.ok()?;
    if answer.is_null() {
        return Some(None);
    }
    let release = answer.dyn_into::<Function>().ok()?;
    Some(Some(CheckpointLock::new(move || {
        let _ = release.call0(&JsValue::NULL);
    })))
}

/// The checkpoint ids in `storage`, read before any is removed (removing renumbers the keys).
fn stored_ids(storage: &web_sys::Storage) -> Vec<String> {
    let count = storage.length().unwrap_or(0);
    (0..count).filter_map(|i| storage.key(i).ok().flatten()).filter(|k| k.starts_with(CHECKPOINT_PREFIX)).collect()
}

fn local_storage() -> Option<web_sys::Storage> {
    let global = js_sys::global();
    let storage = Reflect::get(&global, &"localStorage".into()).ok()?;
    storage.dyn_into::<web_sys::Storage>().ok()
}

impl WebCheckpoints {
    /// Remove the checkpoints in `localStorage` that no upload can resume any more (older than
    /// [`MAX_CHECKPOINT_AGE_MS`], or unreadable): uploads never started again would otherwise
    /// pile up there until the origin's quota is gone, which breaks the page's own storage too.
    /// Only this crate's keys are touched.
    pub fn prune(now_ms: u64) {
        let Some(storage) = local_storage() else { return };
        for key in stored_ids(&storage) {
            let expired = match storage.get_item(&key).ok().flatten().map(|t| Checkpoint::from_json(&t)) {
                Some(Ok(c)) => now_ms.saturating_sub(c.created_ms) >= MAX_CHECKPOINT_AGE_MS,
                _ => true,
            };
            if expired {
                let _ = storage.remove_item(&key);
            }
        }
    }
}

impl CheckpointStore for WebCheckpoints {
    async fn load(&self, id: &str) -> Option<String> {
        match local_storage() {
            Some(storage) => storage.get_item(id).ok().flatten(),
            None => self.memory.borrow().get(id).cloned(),
        }
    }
    async fn save(&self, id: &str, value: &str) -> Result<()> {
        match local_storage() {
            Some(storage) => storage
                .set_item(id, value)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot save the checkpoint: {}", js_message(&e)))),
            None => {
                self.memory.borrow_mut().insert(id.to_owned(), value.to_owned());
                Ok(())
            }
        }
    }
    async fn remove(&self, id: &str) {
        match local_storage() {
            Some(storage) => {
                let _ = storage.remove_item(id);
            }
            None => {
                self.memory.borrow_mut().remove(id);
            }
        }
    }
    async fn lock(&self, id: &str) -> Option<CheckpointLock> {
        if local_storage().is_none() {
            return CheckpointLock::among(&self.held, id);
        }
        match web_lock(id).await {
            Some(lock) => lock,
            // No Web Locks: at least the uploads of this page stay apart.
            None => CheckpointLock::in_process(id),
        }
    }
    async fn in_use(&self, id: &str) -> bool {
        if local_storage().is_none() {
            return CheckpointLock::is_held(&self.held, id);
        }
        match JsFuture::from(lock_held(id)).await.ok().and_then(|held| held.as_bool()) {
            Some(held) => held,
            None => CheckpointLock::is_held_in_process(id),
        }
    }
    async fn ids(&self) -> Vec<String> {
        match local_storage() {
            Some(storage) => stored_ids(&storage),
            None => self.memory.borrow().keys().filter(|k| k.starts_with(CHECKPOINT_PREFIX)).cloned().collect(),
        }
    }
}

/// Start WebCrypto's SHA-1 of `data` (an `ArrayBuffer` or a view): native code, off the JS
/// thread in Node, on it in Chromium (see [`Runtime::sha1_elsewhere`]). `None` where there is no
/// `crypto.subtle`: it exists in secure contexts (https, localhost), workers, Node ≥ 19 and
/// workerd; elsewhere callers hash in wasm. `data` is made just before the call (after the
/// lookups), so that a view of wasm memory is used at once.
fn webcrypto_sha1(data: impl FnOnce() -> JsValue) -> Option<Promise> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(|c| c.is_object())?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok().filter(|s| s.is_object())?;
    let digest = Reflect::get(&subtle, &"digest".into()).ok()?.dyn_into::<Function>().ok()?;
    let algorithm = JsValue::from_str("SHA-1");
    digest.call2(&subtle, &algorithm, &data()).ok()?.dyn_into::<Promise>().ok()
}

/// The digest a [`webcrypto_sha1`] promise resolves to; `None` if it failed.
async fn sha1_result(promise: Promise) -> Option<[u8; 20]> {
    sha1_bytes(&JsFuture::from(promise).await.ok()?)
}

/// A SHA-1 digest from WebCrypto's answer (an `ArrayBuffer`); `None` if it is not 20 bytes.
fn sha1_bytes(answer: &JsValue) -> Option<[u8; 20]> {
    let out = Uint8Array::new(answer);
    let mut digest = [0u8; 20];
    (out.length() == 20).then(|| out.copy_to(&mut digest)).map(|()| digest)
}

/// The SHA-1 of each 4 MiB etag block of `blob`, in order: what the WCS and UFile etags are
/// made of. With WebCrypto, the blob is read as one stream into 4 MiB buffers that are reused, and
/// each full block is handed to `crypto.subtle.digest`: the bytes never enter wasm memory. Where
/// `Blob.stream()` is a byte stream, a BYOB reader reads the file straight into those buffers, so
/// no chunk is allocated per read either (garbage that Chromium collects late: a 1 GiB file's
/// chunks grew its memory by hundreds of MiB); elsewhere the stream's own chunks are copied into
/// them. Without WebCrypto, each block is read and hashed here in wasm.
///
/// Chromium computes a digest on the thread that asks for it, which is also the one that copies
/// the file's bytes out of the stream, so reading and hashing took turns (1 GiB: reading alone
/// 756 MB/s, with hashing 314 MB/s). A file of [`WORKERS_FROM`] or more is therefore hashed by
/// two Web Workers ([`Sha1Workers`]) while this thread reads on (450–570 MB/s). Where workers
/// cannot start (Node, which hashes off-thread anyway; edge runtimes; a CSP without `blob:`
/// workers), the digests are taken here.
pub async fn blob_block_digests(blob: &Blob, each: impl FnMut([u8; 20])) -> Result<()> {
    if webcrypto_sha1(|| Uint8Array::new_with_length(0).into()).is_none() {
        return blob_block_digests_here(blob, each).await;
    }
    let workers = if blob.size() >= WORKERS_FROM as f64 { Sha1Workers::start().await } else { None };
    stream_block_digests(&blob.stream(), workers, each).await
}

/// The file size from which [`blob_block_digests`] starts hashing workers: starting two takes
/// 40–60 ms in Chromium, which the faster hashing repays from about 40 MB.
const WORKERS_FROM: u64 = 64 << 20;

/// [`blob_block_digests`] with WebCrypto, over the blob's stream (a byte stream or not), hashed
/// by `workers` if there are some, else on this thread.
async fn stream_block_digests(
    stream: &ReadableStream,
    workers: Option<Sha1Workers>,
    each: impl FnMut([u8; 20]),
) -> Result<()> {
    let block = crate::hash::ETAG_BLOCK_SIZE as u32;
    let mut blocks = BlockDigests::new(workers, each);
    if let Some((reader, read)) = byob_reader(stream) {
        loop {
            let mut buffer = blocks.buffer().await?;
            let (filled, done) = byob_fill(&reader, &read, &mut buffer, block).await?;
            if filled > 0 {
                blocks.push(buffer, filled).await?;
            } else {
                blocks.spare.push(buffer);
            }
            if done {
                return blocks.finish().await;
            }
        }
    }
    let reader = stream
        .get_reader()
        .dyn_into::<ReadableStreamDefaultReader>()
        .map_err(|_| Error::new(ErrorKind::Io, "could not read the file as a stream"))?;
    let mut gathering: Option<Uint8Array> = None;
    let mut filled = 0u32;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(read_error)?;
        let done = Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        let bytes = if done {
            Uint8Array::new_with_length(0)
        } else {
            Reflect::get(&chunk, &"value".into()).map_err(read_error)?.unchecked_into::<Uint8Array>()
        };
        let mut at = 0;
        while at < bytes.length() || (done && filled > 0) {
            let buffer = match &gathering {
                Some(buffer) => buffer.clone(),
                None => {
                    let fresh = blocks.buffer().await?;
                    gathering.insert(Uint8Array::new(&fresh)).clone()
                }
            };
            let take = (block - filled).min(bytes.length() - at);
            buffer.set(&bytes.subarray(at, at + take), filled);
            (filled, at) = (filled + take, at + take);
            if filled == block || (done && at == bytes.length()) {
                blocks.push(buffer.buffer(), filled).await?;
                (gathering, filled) = (None, 0);
            }
        }
        if done {
            if let Some(buffer) = gathering {
                blocks.spare.push(buffer.buffer());
            }
            return blocks.finish().await;
        }
    }
}

fn read_error(e: JsValue) -> Error {
    Error::new(ErrorKind::Io, format!("could not read the file: {}", js_message(&e)))
}

/// Fill `buffer[..want]` with BYOB reads: how many bytes came (`want`, unless the stream ended
/// first) and whether it ended. Each read takes the buffer (transferred) and hands it back in its
/// answer, so `buffer` is replaced by that one.
async fn byob_fill(
    reader: &JsValue,
    read: &Function,
    buffer: &mut js_sys::ArrayBuffer,
    want: u32,
) -> Result<(u32, bool)> {
    let mut filled = 0u32;
    while filled < want {
        let view = Uint8Array::new_with_byte_offset_and_length(buffer, filled, want - filled);
        let promise = read.call1(reader, &view).map_err(read_error)?.unchecked_into::<Promise>();
        let chunk = JsFuture::from(promise).await.map_err(read_error)?;
        let done = Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true);
        match Reflect::get(&chunk, &"value".into()).ok().and_then(|v| v.dyn_into::<Uint8Array>().ok()) {
            Some(value) => {
                *buffer = value.buffer();
                filled += value.length();
            }
            // Closed streams answer with an empty view of the buffer; only a cancelled one would
            // not, and the bytes read so far went with it.
            None => return Err(Error::new(ErrorKind::Io, "the file stream ended without giving its buffer back")),
        }
        if done {
            return Ok((filled, true));
        }
    }
    Ok((filled, false))
}

/// `stream.getReader({ mode: "byob" })` and its `read`, where the stream is a byte stream.
fn byob_reader(stream: &ReadableStream) -> Option<(JsValue, Function)> {
    let options = js_sys::Object::new();
    Reflect::set(&options, &"mode".into(), &"byob".into()).ok()?;
    let get_reader = Reflect::get(stream, &"getReader".into()).ok()?.dyn_into::<Function>().ok()?;
    // A stream that is not a byte stream throws a TypeError here (and stays unlocked).
    let reader = get_reader.call1(stream, &options).ok()?;
    let read = Reflect::get(&reader, &"read".into()).ok()?.dyn_into::<Function>().ok()?;
    Some((reader, read))
}

/// WebCrypto SHA-1s of a file's blocks, taken on this thread or by [`Sha1Workers`], handed to
/// `each` in order; and the 4 MiB buffers the blocks are read into.
struct BlockDigests<F> {
    workers: Option<Sha1Workers>,
    pending: futures_util::stream::FuturesOrdered<futures_util::future::LocalBoxFuture<'static, Result<Hashed>>>,
    /// Buffers free to read into.
    spare: Vec<js_sys::ArrayBuffer>,
    /// Buffers made so far: at most [`Self::limit`].
    made: usize,
    each: F,
}

/// A block's digest, and its buffer if a worker had it.
struct Hashed {
    digest: [u8; 20],
    buffer: Option<js_sys::ArrayBuffer>,
}

impl<F: FnMut([u8; 20])> BlockDigests<F> {
    fn new(workers: Option<Sha1Workers>, each: F) -> Self {
        Self { workers, pending: Default::default(), spare: Vec::new(), made: 0, each }
    }

    /// Blocks hashing at once. On this thread `digest` copies a block before it returns, so one
    /// buffer is refilled at once, and 3 copies in flight keep WebCrypto busy. A worker has the
    /// buffer itself until it answers: 6 buffers (24 MiB) measured fastest with two workers
    /// (1 GiB: 4 buffers 392–473 MB/s, 6 427–539, 8 502).
    fn limit(&self) -> usize {
        if self.workers.is_some() { 6 } else { 3 }
    }

    /// A buffer to read the next block into: a spare one, a new one while fewer than
    /// [`Self::limit`] exist, else the one the oldest block in a worker gives back.
    async fn buffer(&mut self) -> Result<js_sys::ArrayBuffer> {
        loop {
            if let Some(buffer) = self.spare.pop() {
                return Ok(buffer);
            }
            if self.made < self.limit() {
                self.made += 1;
                return Ok(js_sys::ArrayBuffer::new(crate::hash::ETAG_BLOCK_SIZE as u32));
            }
            if self.pending.is_empty() {
                return Err(Error::new(ErrorKind::Io, "the buffers for hashing the file were lost"));
            }
            self.deliver_oldest().await?;
        }
    }

    /// Start hashing the first `length` bytes of `buffer`, one block.
    async fn push(&mut self, buffer: js_sys::ArrayBuffer, length: u32) -> Result<()> {
        let hashing: futures_util::future::LocalBoxFuture<'static, Result<Hashed>> = match &self.workers {
            Some(workers) => workers.digest(&buffer, length),
            None => {
                let view = Uint8Array::new_with_byte_offset_and_length(&buffer, 0, length);
                let promise = webcrypto_sha1(|| view.into())
                    .ok_or_else(|| Error::new(ErrorKind::Io, "WebCrypto refused to hash the file"))?;
                self.spare.push(buffer);
                Box::pin(async move {
                    let digest = sha1_result(promise)
                        .await
                        .ok_or_else(|| Error::new(ErrorKind::Io, "WebCrypto could not hash the file"))?;
                    Ok(Hashed { digest, buffer: None })
                })
            }
        };
        self.pending.push_back(hashing);
        // Buffered chunks resolve as microtasks, one after the other: without a macrotask turn
        // per block, reading the whole file would be one long task.
        let _ = JsFuture::from(yield_task()).await;
        while self.pending.len() >= self.limit() {
            self.deliver_oldest().await?;
        }
        Ok(())
    }

    /// Wait for the oldest block's digest and hand it on; its buffer becomes spare.
    async fn deliver_oldest(&mut self) -> Result<()> {
        use futures_util::StreamExt;
        if let Some(hashed) = self.pending.next().await {
            let Hashed { digest, buffer } = hashed?;
            (self.each)(digest);
            self.spare.extend(buffer);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<()> {
        while !self.pending.is_empty() {
            self.deliver_oldest().await?;
        }
        Ok(())
    }
}

/// Web Workers that take WebCrypto SHA-1s off this thread; closed (terminated) when dropped.
struct Sha1Workers(Sha1WorkersJs);

impl Sha1Workers {
    /// Two workers, once both have said they are ready; `None` where workers cannot start or do
    /// not answer within a second (the caller then hashes on its own thread).
    async fn start() -> Option<Self> {
        let pool = JsFuture::from(start_sha1_workers(2, 1000)).await.ok()?;
        (!pool.is_undefined()).then(|| Self(pool.unchecked_into()))
    }

    /// The SHA-1 of `buffer[..length]`. The buffer is transferred (detached here) until the
    /// answer gives it back.
    fn digest(
        &self,
        buffer: &js_sys::ArrayBuffer,
        length: u32,
    ) -> futures_util::future::LocalBoxFuture<'static, Result<Hashed>> {
        let answer = JsFuture::from(self.0.digest(buffer, length));
        Box::pin(async move {
            let failed = |why: String| Error::new(ErrorKind::Io, format!("a hashing worker failed: {why}"));
            let answer = js_sys::Array::from(&answer.await.map_err(|e| failed(js_message(&e)))?);
            let digest = sha1_bytes(&answer.get(0));
            match (digest, answer.get(1).dyn_into::<js_sys::ArrayBuffer>()) {
                (Some(digest), Ok(buffer)) => Ok(Hashed { digest, buffer: Some(buffer) }),
                _ => Err(failed("it answered without a digest and the buffer".into())),
            }
        })
    }
}

impl Drop for Sha1Workers {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// [`blob_block_digests`] without WebCrypto: block by block through [`BlobSource`], hashed in wasm.
async fn blob_block_digests_here(blob: &Blob, mut each: impl FnMut([u8; 20])) -> Result<()> {
    use crate::hash::Hasher;
    let block = crate::hash::ETAG_BLOCK_SIZE;
    let mut source = BlobSource::new(blob.clone(), None);
    let size = blob.size() as u64;
    let mut offset = 0;
    while offset < size {
        each(crate::hash::Sha1::digest(&source.read(offset, block).await?).0);
        offset += block;
    }
    Ok(())
}

/// `setTimeout`, `Date.now()`, `Math.random()`, and a macrotask turn to yield.
#[derive(Clone, Copy, Debug, Default)]
pub struct WebRuntime;

impl Runtime for WebRuntime {
    async fn sleep(&self, ms: u64) {
        let promise = Promise::new(&mut |resolve, _reject| {
            let _ = set_timeout(&resolve, ms as f64);
        });
        let _ = JsFuture::from(promise).await;
    }
    async fn yield_now(&self) {
        let _ = JsFuture::from(yield_task()).await;
    }
    fn sha1_elsewhere(&self, data: &Bytes) -> Option<futures_util::future::LocalBoxFuture<'static, Option<[u8; 20]>>> {
        // SAFETY: the view is made right before the `digest` call, which copies the bytes before
        // it returns (WebCrypto: "get a copy of the bytes held by data"); nothing in between
        // allocates in wasm memory, so the view cannot be detached by its growth.
        let promise = webcrypto_sha1(|| unsafe { Uint8Array::view(data) }.into())?;
        Some(Box::pin(sha1_result(promise)))
    }
    fn crc32_update(&self, crc: u32, data: &[u8]) -> Option<u32> {
        let crc32 = node_crc32()?;
        // SAFETY: `zlib.crc32` reads the view synchronously and allocates nothing in wasm memory,
        // so the view cannot be detached while it is used.
        let view = unsafe { Uint8Array::view(data) };
        let next = crc32.call2(&JsValue::UNDEFINED, &view, &JsValue::from(crc)).ok()?.as_f64()?;
        Some(next as u32)
    }
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

/// [`WebRuntime`] whose sleeps end as soon as `signal` aborts, so that a loop that polls (a WCS
/// job's `wait`) stops at once rather than after its interval; its next request then fails as
/// aborted.
#[derive(Clone, Debug, Default)]
pub struct AbortableRuntime {
    pub signal: Option<AbortSignal>,
}

impl Runtime for AbortableRuntime {
    async fn sleep(&self, ms: u64) {
        let Some(signal) = self.signal.as_ref() else { return WebRuntime.sleep(ms).await };
        if signal.aborted() {
            return;
        }
        let mut wake = None;
        let promise = Promise::new(&mut |resolve, _reject| {
            let _ = set_timeout(&resolve, ms as f64);
            let _ = signal.add_event_listener_with_callback("abort", &resolve);
            wake = Some(resolve);
        });
        let _ = JsFuture::from(promise).await;
        // A signal that outlives this sleep must not keep its listener.
        if let Some(wake) = wake {
            let _ = signal.remove_event_listener_with_callback("abort", &wake);
        }
    }
    fn now_ms(&self) -> u64 {
        WebRuntime.now_ms()
    }
    fn random(&self) -> f64 {
        WebRuntime.random()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Hasher, Sha1, UfileEtag, WcsEtag};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn blob_of(data: &[u8]) -> Blob {
        Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&Uint8Array::from(data))).unwrap()
    }

    /// Block digests read from a Blob (by WebCrypto where there is one) make the same etags as
    /// hashing the bytes in wasm, for an empty, a one-block and a several-block file.
    #[test]
    async fn blob_block_digests_make_the_etags() {
        for len in [0usize, 11, 4 << 20, (9 << 20) + 3] {
            let data: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) >> 7) as u8).collect();
            let (mut wcs, mut ufile, mut blocks) = (WcsEtag::default(), UfileEtag::default(), Vec::new());
            blob_block_digests(&blob_of(&data), |d| {
                wcs.push_block_digest(d);
                ufile.push_block_digest(d);
                blocks.push(d);
            })
            .await
            .unwrap();
            let want: Vec<[u8; 20]> = data.chunks(4 << 20).map(|b| Sha1::digest(b).0).collect();
            assert_eq!(blocks, want, "{len} bytes");
            assert_eq!(wcs.finalize(), WcsEtag::digest(&data), "{len} bytes");
            assert_eq!(ufile.finalize(), UfileEtag::digest(&data), "{len} bytes");

            // A stream that is not a byte stream (no BYOB reader): its chunks are copied instead.
            let make = Function::new_with_args(
                "data",
                "return new ReadableStream({ start(c) { \
                   for (let i = 0; i < data.length; i += 1000003) c.enqueue(data.slice(i, i + 1000003)); \
                   c.close(); } })",
            );
            let stream: ReadableStream =
                make.call1(&JsValue::NULL, &Uint8Array::from(&data[..])).unwrap().unchecked_into();
            assert!(byob_reader(&stream).is_none(), "a default stream has no BYOB reader");
            let mut blocks = Vec::new();
            stream_block_digests(&stream, None, |d| blocks.push(d)).await.unwrap();
            assert_eq!(blocks, want, "{len} bytes from a default stream");

            // The same by hashing workers, wherever they start (not in Node: no `Worker`),
            // from the blob's byte stream and from a default stream.
            let workers = Sha1Workers::start().await;
            assert_eq!(workers.is_some(), !in_node(), "hashing workers start in a browser only");
            if workers.is_some() {
                let mut blocks = Vec::new();
                stream_block_digests(&blob_of(&data).stream(), workers, |d| blocks.push(d)).await.unwrap();
                assert_eq!(blocks, want, "{len} bytes hashed by workers");
                let stream: ReadableStream =
                    make.call1(&JsValue::NULL, &Uint8Array::from(&data[..])).unwrap().unchecked_into();
                let mut blocks = Vec::new();
                stream_block_digests(&stream, Sha1Workers::start().await, |d| blocks.push(d)).await.unwrap();
                assert_eq!(blocks, want, "{len} bytes from a default stream hashed by workers");
            }
        }
    }

    /// Workers that stop while blocks are theirs fail the etag with an error that says so,
    /// rather than wait for ever or leave blocks out.
    #[test]
    async fn stopped_hashing_workers_fail_the_etag() {
        let Some(workers) = Sha1Workers::start().await else {
            assert!(in_node(), "hashing workers start in a browser");
            return;
        };
        workers.0.close();
        let data = vec![7u8; (8 << 20) + 1];
        let mut blocks = 0;
        let err = stream_block_digests(&blob_of(&data).stream(), Some(workers), |_| blocks += 1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("hashing worker"), "{err}");
        assert_eq!(blocks, 0);
    }

    /// In Node (with `process.getBuiltinModule`) CRC-32s come from zlib and continue a CRC
    /// begun anywhere, as the crate's own; elsewhere the runtime has none.
    #[test]
    fn node_computes_crc32s_with_zlib() {
        use crate::hash::Crc32;
        let data: Vec<u8> = (0..70_001usize).map(|i| (i.wrapping_mul(97) >> 3) as u8).collect();
        let got = WebRuntime.crc32_update(Crc32::digest(&data[..1234]), &data[1234..]);
        let process = Reflect::get(&js_sys::global(), &"process".into()).unwrap_or(JsValue::UNDEFINED);
        let has_zlib = in_node() && Reflect::get(&process, &"getBuiltinModule".into()).is_ok_and(|f| f.is_function());
        assert_eq!(got, has_zlib.then(|| Crc32::digest(&data)));
        assert_eq!(WebRuntime.crc32_update(0, &[]), has_zlib.then_some(0));
    }

    /// Parts read in order continue one open read; a part read out of order (a retry, a resume)
    /// opens another from there, and the parts after it continue that one. Every read gives the
    /// bytes of its range, short at the end of the blob.
    #[test]
    async fn blob_parts_read_in_and_out_of_order() {
        let data: Vec<u8> = (0..300_007usize).map(|i| (i.wrapping_mul(131) >> 5) as u8).collect();
        let mut source = BlobSource::new(blob_of(&data), None);
        let reads: [(u64, u64); 9] = [
            (0, 65_536),
            (65_536, 65_536),
            (131_072, 100),
            (10, 20), // out of order, backwards
            (30, 70_000),
            (250_000, 40_000), // out of order, forwards
            (290_000, 40_000), // past the end: short
            (300_007, 10),     // at the end: empty
            (131_172, 1),
        ];
        for (offset, len) in reads {
            let got = source.read(offset, len).await.unwrap();
            let (start, end) = (offset as usize, ((offset + len) as usize).min(data.len()));
            assert_eq!(&got[..], &data[start..end], "read of {len} bytes at {offset}");
            let continues = source.open.as_ref().map(|o| o.at);
            if !in_node() && end < data.len() {
                assert_eq!(continues, Some(end as u64), "the read stays open after byte {end}");
            }
        }
    }
}
