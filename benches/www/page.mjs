// The bench page (benches/www/index.html), driven by benches/bench.mjs through playwright-core.
// Served by the emulator's demo host: the page at /, the release package at /pkg/, the peers'
// browser builds under vendor/ (copied from node_modules at run time).
//
// Everything is exposed on `window.bench`; every method returns plain JSON-able values.
import init, * as yunup from '/pkg/yunup.js';
import { contenders, makeData, runsOf, warm } from './hashers.mjs';

const now = () => performance.now();
let wasm;
let table;
let data;

const fileInput = () => document.getElementById('file');
const pickedFile = () => {
  const file = fileInput().files[0];
  if (!file) throw new Error('no file picked (setInputFiles first)');
  return file;
};

async function config() {
  const r = await fetch('/api/config');
  return r.json();
}

/** Main-thread responsiveness while `work()` runs: the longest task the browser reports
 *  (PerformanceObserver 'longtask', tasks over 50 ms) and the longest gap between timer ticks. */
async function responsiveness(work) {
  const tasks = [];
  const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries().map((e) => e.duration)));
  observer.observe({ type: 'longtask' });
  let running = true;
  let last = now();
  let maxGap = 0;
  const tick = () => {
    const t = now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  try {
    return { result: await work(), maxGap, tasks };
  } finally {
    running = false;
    // Entries are delivered asynchronously: let the last ones arrive.
    await new Promise((r) => setTimeout(r, 50));
    tasks.push(...observer.takeRecords().map((e) => e.duration));
    observer.disconnect();
  }
}

window.bench = {
  ready: (async () => {
    wasm = await init();
  })(),

  wasmMemory: () => wasm.memory.buffer.byteLength,

  /** Instantiate the contenders (only one library for a cold run). */
  async setupHash(only) {
    const want = (name) => only === undefined || only === name;
    table = await contenders({
      yunup: want('yunup') ? yunup : undefined,
      hashwasm: want('hash-wasm') ? window.hashwasm : undefined,
      SparkMD5: want('spark-md5') ? window.SparkMD5 : undefined,
      subtle: want('webcrypto') ? crypto.subtle : undefined,
    });
    return Object.fromEntries(Object.entries(table).map(([algo, t]) => [algo, Object.keys(t)]));
  },

  makeData(size) {
    data = makeData(size);
    return data.length;
  },

  /** One timed pass. */
  async pass(algo, name) {
    const t0 = now();
    const digest = await table[algo][name](data);
    return { ms: now() - t0, digest };
  },

  /** Warm figures for one algorithm (see hashers.mjs `warm`). */
  async warm(algo, runs) {
    return warm(table[algo], data, runs, now, runsOf(runs));
  },

  /** Row 2: the etag of the picked File, read from disk in slices by yunup.etag(). */
  async etagFile(kind) {
    const file = pickedFile();
    const before = wasm.memory.buffer.byteLength;
    const t0 = now();
    const r = await responsiveness(() => yunup.etag(file, kind));
    return {
      ms: now() - t0,
      size: file.size,
      etag: r.result,
      maxGap: r.maxGap,
      longTasks: r.tasks.length,
      longestTask: Math.max(0, ...r.tasks),
      wasmBefore: before,
      wasmAfter: wasm.memory.buffer.byteLength,
    };
  },

  /** Row 3/6: yunup's Uploader with the picked File. WCS tokens come with overwrite=1 so that the
   *  same key can be uploaded again (the demo host's option), the others from tokenUrl. After
   *  `limitMs` the upload is cancelled and the bytes the service confirmed by then are reported
   *  (`partial`): a slow build then costs the benchmark a bounded time. */
  async upload(service, key, limitMs = Infinity) {
    const c = await config();
    const endpoint = { wcs: c.wcs.upload, ufile: `${c.ufile.endpoint}/public`, wantu: c.wantu.upload }[service];
    const tokens =
      service === 'wcs'
        ? {
            getToken: async (req) => {
              const q = new URLSearchParams({ bucket: req.bucket, key: req.key, overwrite: '1' });
              return (await (await fetch(`/api/token/wcs?${q}`)).json()).token;
            },
          }
        : { tokenUrl: location.origin };
    const file = pickedFile();
    const before = wasm.memory.buffer.byteLength;
    let confirmed = 0;
    let confirmedAt = 0;
    const t0 = now();
    const task = new yunup.Uploader({ service, endpoint, bucket: 'public', ...tokens }).upload(file, {
      key,
      onProgress: (p) => {
        if (p.confirmed > confirmed) [confirmed, confirmedAt] = [p.confirmed, now() - t0];
      },
    });
    let stopped = false;
    const timer = Number.isFinite(limitMs) ? setTimeout(() => ((stopped = true), task.cancel()), limitMs) : null;
    try {
      const result = await task.done;
      return { ms: now() - t0, bytes: file.size, size: file.size, etag: result.etag, wasmBefore: before, wasmAfter: wasm.memory.buffer.byteLength };
    } catch (e) {
      if (!stopped) throw e;
      return { ms: confirmedAt, bytes: confirmed, size: file.size, partial: true, wasmBefore: before, wasmAfter: wasm.memory.buffer.byteLength };
    } finally {
      clearTimeout(timer);
    }
  },

  /** Row 3: the transport ceiling, one fetch PUT of the picked File to UFile. */
  async rawPut(key) {
    const c = await config();
    const q = new URLSearchParams({ method: 'PUT', bucket: 'public', key, content_type: 'application/octet-stream' });
    const file = pickedFile();
    const t0 = now();
    const authorization = await (await fetch(`/api/token/ufile?${q}`)).text();
    const r = await fetch(`${c.ufile.endpoint}/public/${encodeURIComponent(key)}`, {
      method: 'PUT',
      headers: { Authorization: authorization, 'Content-Type': 'application/octet-stream' },
      body: file,
    });
    if (!r.ok) throw new Error(`raw PUT: HTTP ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    return { ms: now() - t0, bytes: file.size, size: file.size };
  },

  /** Row 3/6: the vendor's wcs-js-sdk (global `wcs` from dist/wcs.min.js) with its defaults
   *  (4 MiB blocks, 3 at a time). */
  async wcsSdk(key) {
    const c = await config();
    const file = pickedFile();
    const t0 = now();
    const q = new URLSearchParams({ bucket: 'public', key, overwrite: '1' });
    const { token } = await (await fetch(`/api/token/wcs?${q}`)).json();
    const res = await new Promise((resolve, reject) => {
      const up = window.wcs.wcsUpload(file, token, c.wcs.upload, { key });
      if (!up) return reject(new Error('wcsUpload returned nothing'));
      up.onComplete = resolve;
      up.onError = (e) => reject(new Error(`wcs-js-sdk: ${JSON.stringify(e)}`));
      up.putFile();
    });
    const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data);
    return { ms: now() - t0, bytes: file.size, size: file.size, response: body.slice(0, 200) };
  },
};
