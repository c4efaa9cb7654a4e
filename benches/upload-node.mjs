// Row 3 in Node: yunup's Uploader (pkg-node/, fetch transport) against one raw fetch PUT of the
// same file to the same emulator, alternating. Run by benches/bench.mjs; one JSON line on stdout.
//
//   node benches/upload-node.mjs '{"wcs":URL,"ufile":URL,"wantu":URL,"demo":URL,"file":PATH,"rounds":N,"budgetMs":MS,"limitMs":MS,"emulatorPid":PID}'
//
// Each sample also has `cpu`: the CPU seconds of this process (`node`, the client) and of the
// emulator (`emulator`, when its pid is given) during that upload.
//
// yunup is given the file's path, as a Node program would (read with FileHandle.read). The raw PUT
// streams the file (fs.createReadStream as a web stream): of the ways fetch takes a file, the one
// that cost the least CPU and went fastest here (a file-backed Blob from fs.openAsBlob, the other
// way, 150-190 against 166-202 MB/s and 2-3 s of CPU against 0.9 s per 512 MiB, measured).
// `blob` (fs.openAsBlob) stays for ours(service, blob) and raw('blob'), to compare by hand.
import { openAsBlob, createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { alternate, processStat } from './lib.mjs';

const require = createRequire(import.meta.url);
const { Uploader } = require('../pkg-node/yunup.js');
const cfg = JSON.parse(process.argv[2]);
const blob = await openAsBlob(cfg.file);

/** As the page's bench.upload: cancelled after cfg.limitMs, reporting the confirmed bytes. */
async function ours(service, source = cfg.file) {
  const endpoint = { wcs: cfg.wcs, ufile: `${cfg.ufile}/public`, wantu: cfg.wantu }[service];
  // WCS refuses to overwrite unless the token says so: ask the demo host for overwrite=1.
  const tokens =
    service === 'wcs'
      ? {
          getToken: async (req) => {
            const q = new URLSearchParams({ bucket: req.bucket, key: req.key, overwrite: '1' });
            return (await (await fetch(`${cfg.demo}/api/token/wcs?${q}`)).json()).token;
          },
        }
      : { tokenUrl: cfg.demo };
  let confirmed = 0;
  let confirmedAt = 0;
  const t0 = performance.now();
  const task = new Uploader({ service, endpoint, bucket: 'public', ...tokens }).upload(source, {
    key: `r3-node-${service}`,
    onProgress: (p) => {
      if (p.confirmed > confirmed) [confirmed, confirmedAt] = [p.confirmed, performance.now() - t0];
    },
  });
  let stopped = false;
  const timer = cfg.limitMs ? setTimeout(() => ((stopped = true), task.cancel()), cfg.limitMs) : null;
  try {
    await task.done;
    return { ms: performance.now() - t0, bytes: blob.size, size: blob.size };
  } catch (e) {
    if (!stopped) throw e;
    return { ms: confirmedAt, bytes: confirmed, size: blob.size, partial: true };
  } finally {
    clearTimeout(timer);
  }
}

async function raw(kind = 'stream') {
  const key = 'r3-node-raw';
  const t0 = performance.now();
  const q = new URLSearchParams({ method: 'PUT', bucket: 'public', key, content_type: 'application/octet-stream' });
  const authorization = await (await fetch(`${cfg.demo}/api/token/ufile?${q}`)).text();
  const r = await fetch(`${cfg.ufile}/public/${key}`, {
    method: 'PUT',
    headers: { Authorization: authorization, 'Content-Type': 'application/octet-stream' },
    ...(kind === 'blob' ? { body: blob } : { body: Readable.toWeb(createReadStream(cfg.file, { highWaterMark: 1 << 20 })), duplex: 'half' }),
  });
  if (!r.ok) throw new Error(`raw PUT: HTTP ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  return { ms: performance.now() - t0, bytes: blob.size, size: blob.size };
}

/** User + system CPU seconds of the emulator so far (0 when its pid is unknown). */
function emulatorCpu() {
  if (!cfg.emulatorPid) return 0;
  try {
    return processStat(cfg.emulatorPid).cpu;
  } catch {
    return 0;
  }
}

/** `work()`'s result with `cpu: { node, emulator }` in seconds. */
async function withCpu(work) {
  const [self, emulator] = [process.cpuUsage(), emulatorCpu()];
  const result = await work();
  const used = process.cpuUsage(self);
  const cpu = { node: (used.user + used.system) / 1e6, ...(cfg.emulatorPid ? { emulator: emulatorCpu() - emulator } : {}) };
  return { ...result, cpu, cpuTotal: Object.values(cpu).reduce((a, b) => a + b, 0) };
}

const contenders = {
  'yunup wcs': () => ours('wcs'),
  'yunup ufile': () => ours('ufile'),
  'yunup wantu': () => ours('wantu'),
  'raw fetch PUT': () => raw(),
};
const { results: times, rounds } = await alternate(
  Object.keys(contenders),
  { rounds: cfg.rounds, budgetMs: cfg.budgetMs ?? Infinity },
  (name) => withCpu(contenders[name]),
);
console.log(JSON.stringify({ size: blob.size, node: process.version, rounds, times }));
