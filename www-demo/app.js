// The yunup demo page: plain ES modules, no build step. The wasm package is the `--target web`
// build that the emulator's demo host serves under /pkg/.
//
// Uploads go straight to the emulated services; tokens and UFile signatures come from the demo
// host's token backend (/api/token/...), as they would from your own backend.
import init, { Uploader, errorClass } from "/pkg/yunup.js";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const SERVICES = { wcs: "WCS", ufile: "UFile", wantu: "Wantu" };
/** Files up to this size go in one request (the Uploader's default): nothing to resume. */
const SINGLE_REQUEST_LIMIT = 4 * 1024 * 1024;
/** Uploads this page started and has not seen finish, for the "Interrupted uploads" list. */
const PENDING_KEY = "yunup-demo:pending";
const SETTINGS_KEY = "yunup-demo:settings";

let config; // GET /api/config
let YunupError; // errorClass()
const items = new Map(); // id -> upload item (see newItem)
let nextId = 1;

// --- formatting --------------------------------------------------------------------------------

function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return "?";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}
const speed = (bps) => `${bytes(Math.round(bps))}/s`;
function duration(seconds) {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
const percent = (part, whole) => (whole > 0 ? `${Math.floor((100 * part) / whole)}%` : "0%");

// --- settings and the backend's configuration ---------------------------------------------------

function bucketsOf(service) {
  return (service === "wantu" ? config.wantu.namespaces : config[service].buckets) ?? [];
}

function endpointFor(service, bucket) {
  if (service === "wcs") return config.wcs.upload;
  if (service === "ufile") return `${config.ufile.endpoint}/${encodeURIComponent(bucket)}`; // path style
  return config.wantu.upload;
}

const encodeKey = (key) => key.split("/").map(encodeURIComponent).join("/");

/** Where the uploaded object can be read back: the emulator's download routes. */
async function downloadUrl(item) {
  const { service, bucket, key } = item;
  const isPrivate = bucketsOf(service).find((b) => b.name === bucket)?.private;
  if (!isPrivate) {
    const base = service === "wcs" ? config.wcs.upload : service === "ufile" ? config.ufile.endpoint : config.wantu.upload;
    return `${base}/${encodeURIComponent(bucket)}/${encodeKey(key)}`;
  }
  if (service === "ufile") {
    // A private UFile object: the backend presigns a GET for ten minutes.
    const reply = await fetch("/api/presign/ufile", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "GET", bucket, key, expires: Math.floor(Date.now() / 1000) + 600 }),
    });
    if (reply.ok) return (await reply.json()).url;
  }
  return null;
}

function currentService() {
  return $("input[name=service]:checked").value;
}

function saveSettings() {
  const settings = { service: currentService(), bucket: $("#bucket").value, prefix: $("#prefix").value };
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}

function fillBuckets(preferred) {
  const service = currentService();
  const select = $("#bucket");
  select.replaceChildren(
    ...bucketsOf(service).map((b) => new Option(b.private ? `${b.name} (private)` : b.name, b.name)),
  );
  const names = bucketsOf(service).map((b) => b.name);
  select.value = names.includes(preferred) ? preferred : (bucketsOf(service).find((b) => !b.private)?.name ?? names[0]);
  $("#bucket-label").textContent = service === "wantu" ? "Namespace" : "Bucket";
  updateTargetHint();
}

function updateTargetHint() {
  $("#target-hint").textContent = `${SERVICES[currentService()]} · ${$("#bucket").value} · ${$("#prefix").value}<file name>`;
}

// --- tokens ------------------------------------------------------------------------------------

/** Upload tokens (WCS, Wantu) from the demo backend, through the Uploader's `getToken` hook so
 *  that the page can ask for what it needs: WCS tokens that may overwrite a key uploaded before,
 *  and, with the "expired tokens" switch, tokens that live one second and arrive two seconds late,
 *  so the service refuses them (and the fresh one the Uploader asks for next). */
async function backendToken(request) {
  const expired = $("#expired").checked;
  let query;
  if (request.service === "wcs") {
    query = new URLSearchParams({ bucket: request.bucket, key: request.key, overwrite: "1" });
  } else {
    const slash = request.key.lastIndexOf("/");
    const dir = slash >= 0 ? `/${request.key.slice(0, slash).replace(/^\/+/, "")}` : "/";
    query = new URLSearchParams({ namespace: request.bucket, dir, name: request.key.slice(slash + 1) });
  }
  if (expired) query.set("expiresIn", "1");
  const reply = await fetch(`/api/token/${request.service}?${query}`);
  if (!reply.ok) throw new Error(`the token backend refused: HTTP ${reply.status} ${await reply.text()}`);
  const { token } = await reply.json();
  if (expired) await sleep(2100);
  return token;
}

function uploaderFor(service, bucket) {
  const settings = {
    service,
    bucket,
    endpoint: endpointFor(service, bucket),
    maxAttempts: Number($("#attempts").value),
  };
  // UFile signs every request: the backend's signing endpoint, GET /api/token/ufile?method=...
  if (service === "ufile") settings.tokenUrl = location.origin;
  else settings.getToken = backendToken;
  return new Uploader(settings);
}

// --- uploads in progress, remembered across reloads -------------------------------------------

function loadPending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) ?? "{}") ?? {};
  } catch {
    return {};
  }
}
const pendingId = (item) => `${item.service}|${item.bucket}|${item.key}`;
function savePending(item) {
  const pending = loadPending();
  pending[pendingId(item)] = {
    service: item.service,
    bucket: item.bucket,
    key: item.key,
    name: item.name,
    size: item.size,
    lastModified: item.lastModified,
    confirmed: item.confirmed,
    updated: Date.now(),
  };
  localStorage.setItem(PENDING_KEY, JSON.stringify(pending));
}
function dropPending(item) {
  const pending = loadPending();
  delete pending[pendingId(item)];
  localStorage.setItem(PENDING_KEY, JSON.stringify(pending));
}

/** Give up the saved upload of `p` (its service, bucket and key, and the file's name, size and
 *  lastModified) without the file: the Uploader finds it among its pending uploads, aborts it on
 *  the service and drops its checkpoint. */
async function discardSaved(p) {
  const [uploader, saved] = await savedUploads(p);
  for (const u of saved) await uploader.discard(u);
}

/** The Uploader for `p`'s service and bucket, and its pending uploads of `p`'s file to `p.key`. */
async function savedUploads(p) {
  const uploader = uploaderFor(p.service, p.bucket);
  const saved = (await uploader.pending()).filter(
    (u) => u.key === p.key && u.name === p.name && u.size === p.size && u.lastModified === p.lastModified,
  );
  return [uploader, saved];
}

/** Whether the saved upload of `p` is running right now in another tab: its Uploader's
 *  `pending()` says so (Web Locks). Such an upload is not interrupted, and cannot be discarded. */
async function runningElsewhere(p) {
  try {
    return (await savedUploads(p))[1].some((u) => u.running);
  } catch {
    return false;
  }
}

/** Interrupted uploads: in localStorage, but not on the page (the page was reloaded, or another
 *  tab uploads them: then they are marked so). */
function renderResumable() {
  const onPage = new Set([...items.values()].map(pendingId));
  const entries = Object.entries(loadPending()).filter(([id]) => !onPage.has(id));
  $("#resumable").hidden = entries.length === 0;
  $("#resumable-list").replaceChildren(
    ...entries.map(([id, p]) => {
      const li = document.createElement("li");
      li.dataset.pending = id;
      const name = Object.assign(document.createElement("span"), { className: "name", textContent: p.name });
      const what = Object.assign(document.createElement("span"), {
        className: "muted numbers",
        textContent: `${percent(p.confirmed, p.size)} of ${bytes(p.size)} to ${SERVICES[p.service]} · ${p.bucket} as ${p.key}`,
      });
      const discard = Object.assign(document.createElement("button"), { type: "button", textContent: "Discard" });
      discard.setAttribute("aria-label", `Discard the interrupted upload of ${p.name}`);
      runningElsewhere(p).then((running) => {
        if (!running || !li.isConnected) return;
        li.dataset.running = "true";
        what.textContent += " · uploading in another tab";
        discard.disabled = true;
        discard.title = "Uploading in another tab: pause or cancel it there";
      });
      discard.addEventListener("click", async () => {
        discard.disabled = true;
        discard.textContent = "Discarding…";
        await discardSaved(p);
        dropPending(p);
        renderResumable();
        $("#picker").focus();
      });
      li.append(name, what, discard);
      return li;
    }),
  );
}

// --- one upload --------------------------------------------------------------------------------

function newItem(file, service, bucket, key) {
  const el = $("#file-item").content.firstElementChild.cloneNode(true);
  const item = {
    id: nextId++,
    file,
    name: file.name,
    size: file.size,
    lastModified: file.lastModified,
    service,
    bucket,
    key,
    state: "queued",
    confirmed: 0,
    total: file.size,
    started: false, // a progress report arrived in this run
    sent: 0, // bytes that left the page in this run (byte by byte where the browser says so)
    inFlight: 0, // bytes of the parts in flight
    resumedFrom: 0, // bytes confirmed from the checkpoint in this run, nothing sent for them
    focusNext: null, // the action button to focus once it shows (keyboard users)
    samples: [], // [time, bytes confirmed by this run] over the last few seconds, for speed
    startedAt: 0,
    finishedAt: 0,
    task: null,
    result: null,
    error: null,
    el,
  };
  Object.assign(el.dataset, { id: item.id, service, bucket, key });
  $(".name", el).textContent = file.name;
  $(".badge", el).textContent = `${SERVICES[service]} · ${bucket}`;
  $(".size", el).textContent = bytes(file.size);
  $("progress", el).setAttribute("aria-label", `${file.name}: progress`);
  for (const button of $$("button", el)) {
    button.setAttribute("aria-label", `${button.textContent} ${file.name}`);
    button.addEventListener("click", () => act(item, button.dataset.action));
  }
  items.set(item.id, item);
  $("#files").append(el);
  return item;
}

function start(item) {
  item.state = "uploading";
  item.error = null;
  item.started = false;
  item.sent = item.confirmed = item.inFlight = 0;
  item.resumedFrom = 0;
  item.samples = [[performance.now(), 0]]; // speed counts from the start, token and hashing included
  item.startedAt = performance.now();
  let task;
  try {
    task = uploaderFor(item.service, item.bucket).upload(item.file, {
      key: item.key,
      onProgress: (p) => progress(item, task, p),
    });
  } catch (err) {
    failed(item, err);
    return;
  }
  item.task = task;
  savePending(item);
  task.done.then(
    (result) => item.task === task && finished(item, result),
    (err) => item.task === task && failed(item, err),
  );
  render(item);
}

let saveTimer = 0;
function progress(item, task, p) {
  if (item.task !== task && item.task !== null) return;
  const now = performance.now();
  item.started = true;
  // Parts a saved checkpoint vouched for were not sent by this run: they do not count for speed.
  item.resumedFrom = p.resumed ?? 0;
  item.confirmed = p.confirmed;
  item.inFlight = p.inFlight;
  item.sent = Math.max(p.sent ?? p.confirmed, p.confirmed);
  if (p.total !== undefined) item.total = p.total;
  item.samples.push([now, item.confirmed - item.resumedFrom]);
  while (item.samples.length > 2 && now - item.samples[0][0] > 4000) item.samples.shift();
  if (!saveTimer) {
    saveTimer = setTimeout(() => {
      saveTimer = 0;
      for (const i of items.values()) if (i.state === "uploading") savePending(i);
    }, 300);
  }
  scheduleRender(item);
}

/** Bytes per second over the last few seconds (falls to 0 when nothing moves). */
function rate(item) {
  if (item.state !== "uploading" || item.samples.length < 2) return 0;
  const [t0, c0] = item.samples[0];
  const [, c1] = item.samples[item.samples.length - 1];
  const elapsed = (performance.now() - t0) / 1000;
  return elapsed > 0.2 ? (c1 - c0) / elapsed : 0;
}

function finished(item, result) {
  item.state = "done";
  item.result = result;
  item.confirmed = item.total = result.size;
  item.finishedAt = performance.now();
  item.task = null;
  dropPending(item);
  render(item);
  showResult(item);
}

function failed(item, err) {
  item.task = null;
  if (err instanceof YunupError && err.kind === "aborted") {
    if (err.code === "cancelled") {
      item.state = "cancelled";
      dropPending(item);
    } else {
      item.state = "paused";
      savePending(item);
    }
  } else {
    item.state = "failed";
    item.error = explain(err, item);
    savePending(item);
  }
  render(item);
  renderTotal();
}

function act(item, action) {
  // Keep the keyboard focus on the item: on the button that replaces the one just pressed.
  const focusAfter = (name) => {
    item.focusNext = name;
    render(item);
  };
  switch (action) {
    case "pause":
      item.task?.pause();
      focusAfter("resume");
      break;
    case "resume":
      start(item);
      focusAfter("pause");
      break;
    case "cancel":
      if (item.task) {
        item.task.cancel();
      } else {
        // Paused or failed: abort the saved upload on the service and drop its checkpoint.
        item.state = "cancelling";
        render(item);
        discardSaved(item).then(() => {
          item.state = "cancelled";
          dropPending(item);
          render(item);
          renderTotal();
        });
      }
      focusAfter("dismiss");
      break;
    case "dismiss":
      items.delete(item.id);
      item.el.remove();
      renderTotal();
      $("#picker").focus();
      break;
  }
}

/** A message a person can act on, from a YunupError's kind, code and status. */
function explain(err, item) {
  const service = SERVICES[item.service];
  if (!(err instanceof YunupError)) return { title: "Unexpected error", detail: String(err?.message ?? err) };
  const ref = err.requestId ? ` (request id ${err.requestId})` : "";
  const tries = Number($("#attempts").value);
  const kept =
    item.size > SINGLE_REQUEST_LIMIT ? " The confirmed parts are kept: Resume continues where it stopped." : "";
  switch (err.kind) {
    case "auth":
      if (/token backend refused|getToken failed/.test(err.message)) {
        return {
          title: "The token backend refused",
          detail: `Your backend said no (HTTP ${err.status ?? "?"}), so nothing was sent to ${service}. ${err.message.replace(/^.*the token backend refused: /, "")}`,
        };
      }
      if (/expired/i.test(err.message) || err.code === "token-expired" || err.code === "TokenExpired") {
        return {
          title: "Upload token expired",
          detail: `${service} refused the token because it had expired, and the fresh one from the backend had expired too. A backend must hand out tokens that outlive the upload (and keep its clock right).${ref}`,
        };
      }
      return { title: `${service} refused the credentials`, detail: `HTTP ${err.status ?? "?"}: ${err.message}${ref}` };
    case "server":
      return {
        title: `${service} refused the upload`,
        detail: `HTTP ${err.status ?? "?"}${err.code && err.code !== String(err.status) ? ` (${err.code})` : ""} on every one of ${tries} ${tries === 1 ? "try" : "tries"}: ${err.message}${ref}.${kept}`,
      };
    case "network":
      return {
        title: "Network error",
        detail: `The connection to ${service} failed (refused, reset or cut off) on every one of ${tries} ${tries === 1 ? "try" : "tries"}. Check the connection, then Retry.${kept}`,
      };
    case "integrity":
      return { title: "The bytes did not arrive intact", detail: `${err.message}${ref}` };
    case "invalid-input":
      if (err.status) return { title: `${service} refused the request`, detail: `HTTP ${err.status}: ${err.message}${ref}` };
      return { title: /cannot be resumed/.test(err.message) ? "Cannot resume" : "Invalid request", detail: err.message };
    case "io":
      return { title: "Cannot read the file", detail: err.message };
    default:
      return { title: "Upload failed", detail: err.message };
  }
}

async function showResult(item) {
  const r = item.result;
  const el = item.el;
  $(".r-key", el).textContent = r.key;
  $(".r-size", el).textContent = `${bytes(r.size)} (${r.size.toLocaleString("en")} bytes)`;
  $(".r-local", el).textContent = r.localEtag;
  $(".r-server", el).textContent = r.etag;
  const same = r.etag.toLowerCase() === r.localEtag.toLowerCase();
  Object.assign($(".r-match", el), {
    className: `r-match ${same ? "match" : "mismatch"}`,
    textContent: same ? "✓ matches" : "✗ differs",
  });
  const link = $(".r-link", el);
  const url = await downloadUrl(item).catch(() => null);
  if (url) {
    link.href = url;
    link.textContent = `Download ${item.name}`;
  } else {
    link.removeAttribute("href");
    link.textContent = "private: a download needs a URL signed by your backend";
  }
  $(".result", el).hidden = false;
}

// --- rendering ---------------------------------------------------------------------------------

const dirty = new Set();
let frame = 0;
function scheduleRender(item) {
  dirty.add(item);
  frame ||= requestAnimationFrame(() => {
    frame = 0;
    for (const i of dirty) render(i);
    dirty.clear();
    renderTotal();
  });
}

function render(item) {
  const el = item.el;
  el.dataset.state = item.state;
  const bar = $("progress", el);
  // The bar: what the service confirmed, and lighter behind it what has been sent.
  bar.value = item.total > 0 ? item.confirmed / item.total : item.state === "done" ? 1 : 0;
  const sentShare = item.state === "uploading" && item.total > 0 ? item.sent / item.total : 0;
  $(".sent", el).style.width = `${(100 * sentShare).toFixed(2)}%`;
  Object.assign(el.dataset, { confirmed: item.confirmed, total: item.total });
  const status = $(".status", el);
  const done = `${bytes(item.confirmed)} of ${bytes(item.total)}`;
  const resumed = item.resumedFrom > 0 ? ` · resumed at ${percent(item.resumedFrom, item.total)}` : "";
  switch (item.state) {
    case "uploading": {
      const bps = rate(item);
      const left = bps > 0 ? ` · ${duration((item.total - item.confirmed) / bps)} left` : "";
      const sent = item.sent > item.confirmed ? ` (${bytes(item.sent)} sent)` : "";
      status.textContent = !item.started ? "Starting…" : `${done}${sent} · ${speed(bps)}${left}${resumed}`;
      break;
    }
    case "paused":
      status.textContent = `Paused at ${percent(item.confirmed, item.total)} (${done}); Resume sends only the missing parts`;
      break;
    case "done": {
      const seconds = (item.finishedAt - item.startedAt) / 1000;
      const sent = item.total - item.resumedFrom;
      status.textContent = `Uploaded in ${seconds.toFixed(1)} s (${speed(sent / Math.max(seconds, 0.001))})${resumed}`;
      break;
    }
    case "failed":
      status.textContent = `Failed at ${percent(item.confirmed, item.total)}`;
      break;
    case "cancelling":
      status.textContent = "Cancelling: aborting the upload on the service…";
      break;
    case "cancelled":
      status.textContent = "Cancelled: the upload was aborted and its checkpoint dropped";
      break;
    default:
      status.textContent = "Waiting…";
  }
  const show = {
    pause: item.state === "uploading",
    resume: item.state === "paused" || item.state === "failed",
    cancel: ["uploading", "paused", "failed"].includes(item.state),
    dismiss: ["done", "cancelled", "failed"].includes(item.state),
  };
  for (const [action, visible] of Object.entries(show)) $(`[data-action=${action}]`, el).hidden = !visible;
  if (item.focusNext && !$(`[data-action=${item.focusNext}]`, el).hidden) {
    $(`[data-action=${item.focusNext}]`, el).focus();
    item.focusNext = null;
  }
  const resume = $("[data-action=resume]", el);
  resume.textContent = item.state === "failed" ? "Retry" : "Resume";
  resume.setAttribute("aria-label", `${resume.textContent} ${item.name}`);
  const box = $(".error", el);
  box.hidden = !item.error;
  if (item.error) {
    $(".error-title", box).textContent = `${item.error.title}.`;
    $(".error-detail", box).textContent = item.error.detail;
  }
}

function renderTotal() {
  const all = [...items.values()].filter((i) => i.state !== "cancelled");
  $("#empty").hidden = items.size > 0;
  $("#total").hidden = all.length === 0;
  if (all.length === 0) return;
  const confirmed = all.reduce((s, i) => s + i.confirmed, 0);
  const total = all.reduce((s, i) => s + i.total, 0);
  const active = all.filter((i) => i.state === "uploading");
  const bps = active.reduce((s, i) => s + rate(i), 0);
  const remaining = active.reduce((s, i) => s + (i.total - i.confirmed), 0);
  const doneFiles = all.filter((i) => i.state === "done").length;
  $("#total-bar").value = total > 0 ? confirmed / total : 1;
  let text = `${doneFiles} of ${all.length} files · ${bytes(confirmed)} of ${bytes(total)}`;
  if (active.length > 0) text += ` · ${speed(bps)}${bps > 0 ? ` · ${duration(remaining / bps)} left` : ""}`;
  $("#total-text").textContent = text;
}

// Speeds fall to zero when nothing moves: refresh them even without progress events.
setInterval(() => {
  const active = [...items.values()].filter((i) => i.state === "uploading");
  if (active.length) active.forEach(scheduleRender);
}, 500);

// --- picking files -----------------------------------------------------------------------------

function uniqueKey(service, bucket, key) {
  const taken = new Set(
    [...items.values()]
      .filter((i) => i.service === service && i.bucket === bucket && i.state !== "done" && i.state !== "cancelled")
      .map((i) => i.key),
  );
  if (!taken.has(key)) return key;
  const dot = key.lastIndexOf(".");
  const [stem, ext] = dot > key.lastIndexOf("/") + 1 ? [key.slice(0, dot), key.slice(dot)] : [key, ""];
  for (let n = 2; ; n++) if (!taken.has(`${stem}-${n}${ext}`)) return `${stem}-${n}${ext}`;
}

function addFiles(files) {
  const pending = loadPending();
  for (const file of files) {
    const same = (x) => x.name === file.name && x.size === file.size && x.lastModified === file.lastModified;
    // The same file, paused or failed on this page, to the same place: resume it.
    const onPage = [...items.values()].find(
      (i) =>
        same(i) &&
        (i.state === "paused" || i.state === "failed") &&
        i.service === currentService() &&
        i.bucket === $("#bucket").value,
    );
    if (onPage) {
      onPage.file = file;
      start(onPage);
      continue;
    }
    // The same file, interrupted by a reload: same service, bucket and key, so the Uploader
    // finds its checkpoint in localStorage and sends only the missing parts.
    const interrupted = Object.values(pending).find(
      (p) => same(p) && ![...items.values()].some((i) => pendingId(i) === pendingId(p)),
    );
    const item = interrupted
      ? newItem(file, interrupted.service, interrupted.bucket, interrupted.key)
      : newItem(
          file,
          currentService(),
          $("#bucket").value,
          uniqueKey(currentService(), $("#bucket").value, `${$("#prefix").value}${file.name}`),
        );
    if (interrupted) item.confirmed = interrupted.confirmed;
    start(item);
  }
  renderResumable();
  renderTotal();
}

function setUpPicking() {
  const picker = $("#picker");
  picker.addEventListener("change", () => {
    addFiles([...picker.files]);
    picker.value = "";
  });
  const drop = $("#drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    addFiles([...e.dataTransfer.files]);
  });
  // A file dropped beside the zone must not navigate away from the uploads.
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (e) => e.preventDefault());
}

// --- fault switches ----------------------------------------------------------------------------

const PRESETS = {
  off: {},
  flaky: { errorRate: 20, errorStatuses: "500, 503" },
  down: { errorRate: 100, errorStatuses: "503", attempts: "3" },
  network: { resetRate: 100, attempts: "3" },
  slow: { stallRate: 100, stallMs: 1000 },
  // One byte of each request body changed: the service refuses the part (its MD5 or etag is
  // wrong), yunup sends it again, and after the last try says the bytes did not arrive intact.
  damaged: { corruptRate: 100, attempts: "3" },
  expired: { expired: true },
};

function fillFaultForm(values) {
  const form = $("#faults");
  const defaults = { errorRate: 0, errorStatuses: "500, 503", resetRate: 0, truncateRate: 0, corruptRate: 0, stallRate: 0, stallMs: 1000, pathContains: "", attempts: "6", expired: false, services: [] };
  const v = { ...defaults, ...values };
  for (const name of ["errorRate", "errorStatuses", "resetRate", "truncateRate", "corruptRate", "stallRate", "stallMs", "pathContains"]) {
    form.elements[name].value = v[name];
  }
  for (const box of $$("input[name=services]", form)) box.checked = v.services.includes(box.value);
  form.elements.attempts.value = v.attempts;
  form.elements.expired.checked = v.expired;
}

function faultConfigFromForm() {
  const form = $("#faults");
  const rate = (name) => Math.min(100, Math.max(0, Number(form.elements[name].value) || 0)) / 100;
  return {
    seed: Date.now() % 1_000_000,
    errorRate: rate("errorRate"),
    errorStatuses: form.elements.errorStatuses.value
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => n >= 100 && n <= 599),
    resetRate: rate("resetRate"),
    truncateRate: rate("truncateRate"),
    corruptRate: rate("corruptRate"),
    stallRate: rate("stallRate"),
    stallMs: Math.max(0, Number(form.elements.stallMs.value) || 0),
    services: $$("input[name=services]:checked", form).map((b) => b.value),
    pathContains: form.elements.pathContains.value.trim(),
  };
}

function describeFaults(f) {
  const parts = [];
  if (f.errorRate > 0) parts.push(`${Math.round(f.errorRate * 100)}% errors (${f.errorStatuses.join(", ")})`);
  if (f.resetRate > 0) parts.push(`${Math.round(f.resetRate * 100)}% resets`);
  if (f.truncateRate > 0) parts.push(`${Math.round(f.truncateRate * 100)}% truncated`);
  if (f.corruptRate > 0) parts.push(`${Math.round(f.corruptRate * 100)}% damaged`);
  if (f.stallRate > 0) parts.push(`${Math.round(f.stallRate * 100)}% stalled ${f.stallMs} ms`);
  if (parts.length && f.services?.length) parts.push(`on ${f.services.map((s) => SERVICES[s] ?? s).join(", ")}`);
  if (parts.length && f.pathContains) parts.push(`where the request contains "${f.pathContains}"`);
  if ($("#expired").checked) parts.push("expired tokens");
  if ($("#attempts").value !== "6") parts.push(`${$("#attempts").value} tries per request`);
  return parts.join(" · ");
}

async function applyFaults() {
  const state = $("#faults-state");
  const body = faultConfigFromForm();
  try {
    const reply = await fetch("/admin/faults", { method: "PUT", body: JSON.stringify(body) });
    const text = await reply.text();
    if (!reply.ok) throw new Error(JSON.parse(text).error ?? text);
    showFaults(JSON.parse(text));
  } catch (err) {
    state.textContent = `The emulator refused the fault settings: ${err.message}`;
  }
}

async function setUpFaults() {
  const form = $("#faults");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFaults();
  });
  for (const button of $$("[data-preset]")) {
    button.addEventListener("click", () => {
      fillFaultForm(PRESETS[button.dataset.preset]);
      applyFaults();
    });
  }
  // Show what the emulator is doing now (another tab may have switched faults on).
  try {
    const f = await (await fetch("/admin/faults")).json();
    fillFaultForm({
      errorRate: Math.round(f.errorRate * 100),
      errorStatuses: (f.errorStatuses ?? []).join(", "),
      resetRate: Math.round(f.resetRate * 100),
      truncateRate: Math.round(f.truncateRate * 100),
      corruptRate: Math.round((f.corruptRate ?? 0) * 100),
      stallRate: Math.round(f.stallRate * 100),
      stallMs: f.stallMs || 1000,
      pathContains: f.pathContains ?? "",
      services: f.services ?? [],
    });
    showFaults(f);
  } catch {
    $("#faults-state").textContent = "Cannot read the emulator's fault settings.";
  }
  // Keep the summary true when something else (another tab, a test) switches faults.
  setInterval(async () => {
    try {
      showFaults(await (await fetch("/admin/faults")).json());
    } catch {}
  }, 3000);
}

function showFaults(f) {
  const summary = describeFaults(f);
  $("#faults-summary").textContent = summary ? "on" : "off";
  $("#faults-summary").classList.toggle("on", Boolean(summary));
  $("#faults-state").textContent = summary ? `Now: ${summary}.` : "Now: no faults.";
}

// --- start -------------------------------------------------------------------------------------

async function main() {
  const [cfg] = await Promise.all([fetch("/api/config").then((r) => r.json()), init()]);
  config = cfg;
  YunupError = errorClass();

  let settings = {};
  try {
    settings = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? "{}") ?? {};
  } catch {}
  const radio = $(`input[name=service][value=${SERVICES[settings.service] ? settings.service : "wcs"}]`);
  radio.checked = true;
  if (typeof settings.prefix === "string") $("#prefix").value = settings.prefix;
  fillBuckets(settings.bucket);
  for (const r of $$("input[name=service]")) {
    r.addEventListener("change", () => {
      fillBuckets();
      saveSettings();
    });
  }
  $("#bucket").addEventListener("change", () => {
    updateTargetHint();
    saveSettings();
  });
  $("#prefix").addEventListener("input", () => {
    updateTargetHint();
    saveSettings();
  });

  setUpPicking();
  // Another tab's uploads come and go from the saved list: follow them.
  addEventListener("storage", (e) => e.key === PENDING_KEY && renderResumable());
  renderResumable();
  renderTotal();
  await setUpFaults();
  fetch("/pkg/package.json")
    .then((r) => r.json())
    .then((p) => ($("#version").textContent = `yunup ${p.version} ·`))
    .catch(() => {});
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  document.body.dataset.ready = "failed";
  const box = Object.assign(document.createElement("p"), {
    className: "error",
    role: "alert",
    textContent: `The demo could not start: ${err.message}. Is the emulator running with --www and --pkg (make demo)?`,
  });
  $("main").prepend(box);
});
