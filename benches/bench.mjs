// `make bench`: yunup against its peers, side by side in one run (issue 7, "Rows and goals").
//
// The machine is shared and noisy, so every figure that is a speed is judged as a ratio against a
// peer measured in the same run, with ours and the peer alternating and medians taken. Prints one
// table and writes target/bench/results.json (one object per row: name, ours, peer, unit, ratio,
// goal, pass) and target/bench/results.md (the same table in Markdown, for the README).
//
// Needs what `make bench` builds first: pkg/ and pkg-node/ (release, wasm-opt'd), the release CLI
// and emulator, the token-rate test binary (benches/token_rate.rs), and the peers from
// scripts/setup.sh (npm: hash-wasm, spark-md5, wcs-js-sdk, playwright-core; PyPI:
// wcs-python3-sdk, ufile). Chromium is Debian's /usr/bin/chromium (CHROMIUM=... to change).
//
// Environment: BENCH_ROWS=1,3 runs only those rows (row 2 needs row 1's figure and runs it too;
// row 6 runs row 4's native uploads). BENCH_RUNS (warm hashing passes, 5), BENCH_COLD (cold pages,
// 3), BENCH_COLD_NODE (cold processes, 5), BENCH_UPLOAD_ROUNDS (3), BENCH_NATIVE_ROUNDS (3 for
// etag and tokens, 2 for 1 GiB uploads). Time bounds for slow builds: BENCH_UPLOAD_BUDGET (s after
// which the upload rows add no more rounds, 120), BENCH_UPLOAD_LIMIT / BENCH_BIG_UPLOAD_LIMIT (s
// after which one yunup upload is cancelled and measured by the bytes confirmed, 40 / 60). Sizes:
// BENCH_HASH_BYTES, BENCH_UPLOAD_BYTES, BENCH_BIG_BYTES (256 MiB, 512 MiB, 1 GiB).
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import {
  GiB,
  MiB,
  OUT,
  ROOT,
  benchPage,
  cpuDuring,
  cpuModel,
  alternate,
  lastJson,
  launchChromium,
  log,
  mbps,
  measured,
  median,
  run,
  sampleRss,
  scratchDir,
  withEmulator,
} from './lib.mjs';
import { ALGOS } from './hashers.mjs';
import { bundles } from '../scripts/size.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const RUNS = env('BENCH_RUNS', 5);
const COLD = env('BENCH_COLD', 3);
const COLD_NODE = env('BENCH_COLD_NODE', 5);
// Seconds after which the upload rows stop adding rounds (the slow contenders get fewer samples).
const UPLOAD_BUDGET_MS = env('BENCH_UPLOAD_BUDGET', 120) * 1000;
// Seconds after which one upload by yunup is cancelled and measured by the bytes confirmed so far.
const UPLOAD_LIMIT_MS = env('BENCH_UPLOAD_LIMIT', 40) * 1000;
const BIG_UPLOAD_LIMIT_MS = env('BENCH_BIG_UPLOAD_LIMIT', 60) * 1000;
const UPLOAD_ROUNDS = env('BENCH_UPLOAD_ROUNDS', 3);
const NATIVE_ROUNDS = env('BENCH_NATIVE_ROUNDS', 3);
const ONLY = process.env.BENCH_ROWS ? new Set(process.env.BENCH_ROWS.split(',').map(Number)) : null;
const want = (row) => !ONLY || ONLY.has(row);

const HASH_SIZE = env('BENCH_HASH_BYTES', 256 * MiB);
const UPLOAD_SIZE = env('BENCH_UPLOAD_BYTES', 512 * MiB);
const BIG_SIZE = env('BENCH_BIG_BYTES', GiB);

const CLI = path.join(ROOT, 'target', 'release', 'yunup');
const EMULATOR = path.join(ROOT, 'target', 'release', 'yunup-emulator');
const DATA = path.join(OUT, 'data');
const WWW = path.join(OUT, 'www');
const PKG = path.join(ROOT, 'pkg');

// Upload defaults (src/engine): 3 parts in flight, 4 MiB parts. Row 6's budget follows from them.
const CONCURRENCY = 3;
const PART = 4 * MiB;
const MEMORY_BUDGET = (CONCURRENCY + 2) * PART + 32 * MiB;
const sizeText = (n) => (n >= GiB ? `${n / GiB} GiB` : `${n / MiB} MiB`);

const rows = [];
const ratioGoal = (min) => ({ on: 'ratio', op: '>=', value: min });
/** Add a row. `ours`/`peer` in `unit`; ratio = ours/peer (higher is better for speeds). */
function addRow(r) {
  const ratio = r.ratio ?? (r.peer > 0 && r.ours > 0 ? r.ours / r.peer : null);
  let pass = null;
  if (r.goal) {
    const x = r.goal.on === 'ratio' ? ratio : r.ours;
    pass = x === null || !Number.isFinite(x) ? false : r.goal.op === '>=' ? x >= r.goal.value : x <= r.goal.value;
  }
  const row = { ...r, ratio, pass };
  rows.push(row);
  log(`${row.name}: ${fmt(row.ours, row.unit)} vs ${fmt(row.peer, row.unit)} ${row.ratio ? `(${row.ratio.toFixed(2)}x)` : ''}${pass === null ? '' : pass ? ' ok' : ' MISS'}`);
}

function fmt(x, unit) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
  if (unit === 'per s') return `${Math.round(x).toLocaleString('en-US')}/s`;
  return `${x.toFixed(digits)} ${unit}`;
}
function goalText(g, unit) {
  if (!g) return '';
  const op = g.op === '>=' ? '≥' : '≤';
  return g.on === 'ratio' ? `${op} ${g.value}×` : `${op} ${g.value} ${unit}`;
}

// ---- inputs ---------------------------------------------------------------------------------

/** A file of `size` pseudo-random bytes (reused when it exists with that size). */
async function dataFile(name, size) {
  mkdirSync(DATA, { recursive: true });
  const file = path.join(DATA, name);
  if (existsSync(file) && statSync(file).size === size) return file;
  log(`writing ${file} (${size / MiB} MiB)`);
  const { makeData } = await import('./hashers.mjs');
  const out = createWriteStream(file);
  for (let off = 0, seed = 1; off < size; off += 64 * MiB, seed++) {
    const chunk = makeData(Math.min(64 * MiB, size - off), 0x9e3779b9 ^ seed);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
  return file;
}

/** Read a file once so that the timed runs find it in the page cache. */
const warmCache = (file) => run('sh', ['-c', 'cat "$1" >/dev/null', 'sh', file]).then(() => undefined, () => undefined);

function prepareWww() {
  rmSync(WWW, { recursive: true, force: true });
  mkdirSync(path.join(WWW, 'vendor'), { recursive: true });
  for (const f of ['index.html', 'page.mjs']) copyFileSync(path.join(ROOT, 'benches', 'www', f), path.join(WWW, f));
  copyFileSync(path.join(ROOT, 'benches', 'hashers.mjs'), path.join(WWW, 'hashers.mjs'));
  const nm = path.join(ROOT, 'node_modules');
  copyFileSync(path.join(nm, 'hash-wasm', 'dist', 'index.umd.min.js'), path.join(WWW, 'vendor', 'hash-wasm.umd.min.js'));
  copyFileSync(path.join(nm, 'spark-md5', 'spark-md5.min.js'), path.join(WWW, 'vendor', 'spark-md5.min.js'));
  copyFileSync(path.join(nm, 'wcs-js-sdk', 'dist', 'wcs.min.js'), path.join(WWW, 'vendor', 'wcs.min.js'));
}

const emulatorOpts = (tag) => ({ bin: EMULATOR, www: WWW, pkg: PKG, logFile: path.join(OUT, `emulator-${tag}.log`) });

const version = (dir) => JSON.parse(readFileSync(path.join(ROOT, 'node_modules', dir, 'package.json'), 'utf8')).version;
const LABEL = { md5: 'MD5', sha1: 'SHA-1', 'wcs-etag': 'WCS etag', 'ufile-etag': 'UFile etag' };

// ---- row 5: bundle size -------------------------------------------------------------------

/** What a browser downloads from the npm package (target/npm/yunup/ from `make pkg`): the browser
 *  entry's .wasm (browser/yunup_bg.wasm, the build without the `server` feature) and its JS glue,
 *  gzip -9, as scripts/size.mjs counts them (falls back to pkg/ when there is no package). The
 *  Node/edge bundle is in `detail`. kB = 1000 bytes, as the peers' published figures. */
function row5() {
  const npm = path.join(ROOT, 'target', 'npm', 'yunup');
  const found = bundles(npm);
  let browser = found.browser;
  let dir = npm;
  if (!browser) {
    dir = PKG;
    const wasm = gzipSync(readFileSync(path.join(PKG, 'yunup_bg.wasm')), { level: 9 }).length;
    const glue = gzipSync(readFileSync(path.join(PKG, 'yunup.js')), { level: 9 }).length;
    browser = { wasm: { gzip: wasm }, glue: { gzip: glue }, glueFiles: ['yunup.js'] };
  }
  const wasm = browser.wasm.gzip;
  const glue = browser.glue.gzip;
  const ours = (wasm + glue) / 1000;
  const wcsSdk = gzipSync(readFileSync(path.join(ROOT, 'node_modules', 'wcs-js-sdk', 'dist', 'wcs.min.js')), { level: 9 }).length / 1000;
  const detail = {
    dir: path.relative(ROOT, dir), wasmGz: wasm, glueGz: glue, glueFiles: browser.glueFiles,
    ...(found.node ? { nodeBundleGz: found.node.total.gzip, nodeWasmGz: found.node.wasm.gzip, nodeGlueGz: found.node.glue.gzip } : {}),
  };
  const goal = { on: 'ours', op: '<=', value: 40 };
  addRow({ row: 5, name: `Bundle (browser entry), gzip -9 (.wasm ${(wasm / 1000).toFixed(1)} + JS glue ${(glue / 1000).toFixed(1)} kB) vs wcs-js-sdk ${version('wcs-js-sdk')} dist/wcs.min.js (measured)`, ours, peer: wcsSdk, unit: 'kB', goal, detail, lowerIsBetter: true });
  addRow({ row: 5, name: 'Bundle (browser entry), gzip vs qiniu-js 3.4.4 (its published 28.7 kB)', ours, peer: 28.7, unit: 'kB', goal, lowerIsBetter: true });
}

// ---- row 1 in Node ------------------------------------------------------------------------

async function row1Node() {
  log(`row 1 (Node): warm, ${RUNS} runs of ${HASH_SIZE / MiB} MiB per contender`);
  const hashEnv = { BENCH_HASH_BYTES: String(HASH_SIZE), BENCH_HASH_FILE: await dataFile(`data-${HASH_SIZE}.bin`, HASH_SIZE) };
  await warmCache(hashEnv.BENCH_HASH_FILE);
  const warmOut = lastJson((await run('node', ['benches/hash-node.mjs', 'warm', String(RUNS)], { env: hashEnv })).stdout);
  const rate = (algo, name) => mbps(HASH_SIZE, median(warmOut.results[algo].times[name]));
  const memo = {};
  for (const algo of ALGOS) {
    const ours = rate(algo, 'yunup');
    memo[algo] = ours;
    addRow({ row: 1, name: `Node, warm, ${LABEL[algo]}: yunup vs hash-wasm`, ours, peer: rate(algo, 'hash-wasm'), unit: 'MB/s', goal: ratioGoal(1.1) });
    if (algo === 'md5') addRow({ row: 1, name: 'Node, warm, MD5: yunup vs spark-md5', ours, peer: rate(algo, 'spark-md5'), unit: 'MB/s', goal: ratioGoal(2) });
    addRow({ row: 1, name: `Node, warm, ${LABEL[algo]}: yunup vs node:crypto (native ceiling)`, ours, peer: rate(algo, 'node:crypto'), unit: 'MB/s' });
  }
  log(`row 1 (Node): cold, ${COLD_NODE} fresh processes per contender`);
  for (const algo of ALGOS) {
    const { results } = await alternate(['yunup', 'hash-wasm'], { rounds: COLD_NODE }, async (name) =>
      lastJson((await run('node', ['benches/hash-node.mjs', 'cold', algo, name], { env: hashEnv })).stdout).ms,
    );
    addRow({ row: 1, name: `Node, cold, ${LABEL[algo]}: yunup vs hash-wasm`, ours: mbps(HASH_SIZE, median(results.yunup)), peer: mbps(HASH_SIZE, median(results['hash-wasm'])), unit: 'MB/s', goal: ratioGoal(1.0) });
  }
  return memo;
}

// ---- rows 1, 2, 3 in Chromium ---------------------------------------------------------------

async function row1Chromium(browser, emu) {
  log(`row 1 (Chromium): warm, ${RUNS} runs of ${HASH_SIZE / MiB} MiB per contender`);
  const { page, close } = await benchPage(browser, emu.demo);
  await page.evaluate(() => window.bench.setupHash());
  await page.evaluate((n) => window.bench.makeData(n), HASH_SIZE);
  const memo = {};
  for (const algo of ALGOS) {
    const out = await page.evaluate(([a, r]) => window.bench.warm(a, r), [algo, RUNS]);
    const rate = (name) => mbps(HASH_SIZE, median(out.times[name]));
    memo[algo] = rate('yunup');
    addRow({ row: 1, name: `Chromium, warm, ${LABEL[algo]}: yunup vs hash-wasm`, ours: rate('yunup'), peer: rate('hash-wasm'), unit: 'MB/s', goal: ratioGoal(1.1) });
    if (algo === 'md5') addRow({ row: 1, name: 'Chromium, warm, MD5: yunup vs spark-md5', ours: rate('yunup'), peer: rate('spark-md5'), unit: 'MB/s', goal: ratioGoal(2) });
    if (algo !== 'md5') addRow({ row: 1, name: `Chromium, warm, ${LABEL[algo]}: yunup vs WebCrypto${algo === 'sha1' ? ' (one shot)' : ' (per block)'}`, ours: rate('yunup'), peer: rate('webcrypto'), unit: 'MB/s' });
  }
  await close();
  log(`row 1 (Chromium): cold, ${COLD} fresh pages (each in a fresh context) per contender`);
  for (const algo of ALGOS) {
    const { results } = await alternate(['yunup', 'hash-wasm'], { rounds: COLD }, async (name) => {
      const p = await benchPage(browser, emu.demo);
      await p.page.evaluate((only) => window.bench.setupHash(only), name);
      await p.page.evaluate((n) => window.bench.makeData(n), HASH_SIZE);
      const out = await p.page.evaluate(([a, n]) => window.bench.pass(a, n), [algo, name]);
      await p.close();
      return out.ms;
    });
    addRow({ row: 1, name: `Chromium, cold, ${LABEL[algo]}: yunup vs hash-wasm`, ours: mbps(HASH_SIZE, median(results.yunup)), peer: mbps(HASH_SIZE, median(results['hash-wasm'])), unit: 'MB/s', goal: ratioGoal(1.0) });
  }
  return memo;
}

async function row2(browser, emu, file, inMemory, expectedEtag) {
  log(`row 2: WCS etag of a ${BIG_SIZE / MiB} MiB File picked through <input>, ${NATIVE_ROUNDS} runs`);
  const { page, close } = await benchPage(browser, emu.demo);
  await page.setInputFiles('#file', file);
  await warmCache(file);
  const first = await page.evaluate(() => window.bench.etagFile('wcs'));
  if (expectedEtag && first.etag !== expectedEtag) throw new Error(`row 2: etag ${first.etag}, the CLI says ${expectedEtag}`);
  const runs = [];
  for (let i = 0; i < NATIVE_ROUNDS; i++) {
    const s = await sampleRss(() => page.evaluate(() => window.bench.etagFile('wcs')));
    runs.push({ ...s.result, extra: s.peak - s.baseline });
  }
  await close();
  const ours = mbps(BIG_SIZE, median(runs.map((r) => r.ms)));
  addRow({ row: 2, name: `Chromium, WCS etag of a ${sizeText(BIG_SIZE)} File from disk vs row 1 in memory (${fmt(inMemory, 'MB/s')})`, ours, peer: inMemory, unit: 'MB/s', goal: ratioGoal(0.9) });
  const extra = Math.max(...runs.map((r) => r.extra)) / MiB;
  const wasmGrowth = Math.max(...runs.map((r) => r.wasmAfter - r.wasmBefore), first.wasmAfter - first.wasmBefore) / MiB;
  addRow({ row: 2, name: `Chromium, extra memory while hashing it (RSS of all Chromium processes, peak − before; wasm memory grew ${wasmGrowth.toFixed(0)} MiB)`, ours: extra, peer: null, unit: 'MiB', goal: { on: 'ours', op: '<=', value: 64 }, lowerIsBetter: true });
  const longest = Math.max(...runs.map((r) => r.longestTask));
  const gap = Math.max(...runs.map((r) => r.maxGap));
  addRow({ row: 2, name: `Chromium, responsiveness while hashing it: longest main-thread task (long tasks: ${runs.map((r) => r.longTasks).join('/')}; longest timer gap ${gap.toFixed(0)} ms)`, ours: longest, peer: null, unit: 'ms', goal: { on: 'ours', op: '<=', value: 50 }, lowerIsBetter: true });
}

async function row3Chromium(browser, emu, file, expectedEtag) {
  log(`row 3 (Chromium): ${sizeText(UPLOAD_SIZE)} uploads, up to ${UPLOAD_ROUNDS} rounds (fewer after ${UPLOAD_BUDGET_MS / 1000} s)`);
  const calls = {
    'yunup wcs': (page) => page.evaluate(([l]) => window.bench.upload('wcs', 'r3-page-wcs', l), [UPLOAD_LIMIT_MS]),
    'yunup ufile': (page) => page.evaluate(([l]) => window.bench.upload('ufile', 'r3-page-ufile', l), [UPLOAD_LIMIT_MS]),
    'yunup wantu': (page) => page.evaluate(([l]) => window.bench.upload('wantu', 'r3-page-wantu', l), [UPLOAD_LIMIT_MS]),
    'raw fetch PUT': (page) => page.evaluate(() => window.bench.rawPut('r3-page-raw')),
    'wcs-js-sdk': (page) => page.evaluate(() => window.bench.wcsSdk('r3-page-wcssdk')),
  };
  // One page (and context) per contender, so that each page's wasm memory is that service's peak.
  const pages = {};
  for (const name of Object.keys(calls)) {
    pages[name] = await benchPage(browser, emu.demo);
    await pages[name].page.setInputFiles('#file', file);
  }
  await warmCache(file);
  const { results, rounds } = await alternate(Object.keys(calls), { rounds: UPLOAD_ROUNDS, budgetMs: UPLOAD_BUDGET_MS }, async (name) => {
    const { result: out, cpu, total } = await cpuDuring(() => calls[name](pages[name].page));
    Object.assign(out, { cpu, cpuTotal: total });
    if (name === 'yunup wcs' && !out.partial && expectedEtag && out.etag !== expectedEtag) throw new Error(`row 3: etag ${out.etag} != ${expectedEtag}`);
    if (name === 'wcs-js-sdk' && expectedEtag && !out.response.includes(expectedEtag)) throw new Error(`row 3: wcs-js-sdk replied ${out.response}`);
    return out;
  });
  for (const p of Object.values(pages)) await p.close();
  log(`row 3 (Chromium): ${rounds} rounds`);
  return { results, rounds };
}

/** Samples are { ms, bytes, partial }: the median of bytes/ms; a note when some were cut short. */
function uploadRate(samples) {
  return mbps(1, median(samples.map((r) => r.ms / r.bytes)));
}
function partialNote(samples, limitMs) {
  const cut = samples.filter((r) => r.partial);
  if (!cut.length) return '';
  return ` [${cut.length} of ${samples.length} stopped after ${limitMs / 1000} s at ~${Math.round(median(cut.map((r) => r.bytes)) / MiB)} MiB]`;
}

/** Where an upload's time goes: CPU seconds of every process per upload (Chromium's, or the Node
 *  client's, and the emulator's), yunup's and the raw fetch PUT's, with the split by process in
 *  the name. Per upload of the whole file (scaled by the bytes each run moved). No goal: this
 *  explains row 3's ratios. */
function row3CpuRows(runtime, results) {
  const perUpload = (samples) => median(samples.map((r) => (r.cpuTotal * r.size) / r.bytes));
  const split = (samples) => {
    const kinds = [...new Set(samples.flatMap((r) => Object.keys(r.cpu)))];
    const byKind = kinds.map((k) => [k, median(samples.map((r) => ((r.cpu[k] ?? 0) * r.size) / r.bytes))]);
    return byKind.sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
  };
  const raw = results['raw fetch PUT'];
  for (const name of ['yunup wcs', 'yunup ufile', 'yunup wantu', 'wcs-js-sdk']) {
    const ours = results[name];
    if (!ours?.length || !raw?.length || !ours[0].cpu || !raw[0].cpu) continue;
    addRow({ row: 3, name: `${runtime}, CPU seconds of all processes per upload, ${name} (${split(ours)}) vs the raw fetch PUT (${split(raw)})`, ours: perUpload(ours), peer: perUpload(raw), unit: 's', lowerIsBetter: true });
  }
}

function row3Rows(runtime, results, rounds) {
  const n = rounds === 1 ? ', 1 run' : `, median of ${rounds}`;
  for (const service of ['wcs', 'ufile', 'wantu']) {
    const label = { wcs: 'WCS', ufile: 'UFile', wantu: 'Wantu' }[service];
    const ours = results[`yunup ${service}`];
    const note = partialNote(ours, UPLOAD_LIMIT_MS);
    // Node: yunup is given the path, the raw PUT streams the file (benches/upload-node.mjs).
    const how = runtime === 'Node' ? ' (yunup given the path; the raw PUT streams the file)' : ' (both given the File)';
    addRow({ row: 3, name: `${runtime}, upload ${sizeText(UPLOAD_SIZE)} to ${label}: yunup vs one raw fetch PUT to UFile${how}${n}${note}`, ours: uploadRate(ours), peer: uploadRate(results['raw fetch PUT']), unit: 'MB/s', goal: ratioGoal(0.9) });
    if (results['wcs-js-sdk'] && service === 'wcs') addRow({ row: 3, name: `${runtime}, upload ${sizeText(UPLOAD_SIZE)} to WCS: yunup vs wcs-js-sdk ${version('wcs-js-sdk')} in the same page${n}${note}`, ours: uploadRate(ours), peer: uploadRate(results['wcs-js-sdk']), unit: 'MB/s', goal: ratioGoal(2) });
  }
}

/** Row 6 in Chromium: wasm memory only grows, so a page's final size is its peak. The 1 GiB upload
 *  goes to WCS (and wcs-js-sdk uploads the same file, for the RSS comparison); the 512 MiB uploads
 *  of row 3 give the other services' figures, each from its own page. */
async function row6Browser(browser, file, row3) {
  log(`row 6 (Chromium): ${sizeText(BIG_SIZE)} uploads to WCS (yunup, wcs-js-sdk), a fresh emulator and page each`);
  const out = {};
  for (const name of ['yunup wcs', 'wcs-js-sdk']) {
    out[name] = await withEmulator(emulatorOpts('row6'), async (emu) => {
      const p = await benchPage(browser, emu.demo);
      await p.page.setInputFiles('#file', file);
      const s = await sampleRss(() =>
        name === 'wcs-js-sdk'
          ? p.page.evaluate(() => window.bench.wcsSdk('r6-wcssdk'))
          : p.page.evaluate(([l]) => window.bench.upload('wcs', 'r6-wcs', l), [BIG_UPLOAD_LIMIT_MS]),
      );
      await p.close();
      return { ...s.result, extra: s.peak - s.baseline };
    });
  }
  const budget = { on: 'ours', op: '<=', value: MEMORY_BUDGET / MiB };
  const r = out['yunup wcs'];
  const cut = r.partial ? ` [stopped after ${BIG_UPLOAD_LIMIT_MS / 1000} s at ${Math.round(r.bytes / MiB)} MiB]` : '';
  addRow({ row: 6, name: `Chromium, peak wasm memory of a ${sizeText(BIG_SIZE)} upload to WCS (budget (3+2)×4 MiB+32 MiB)${cut}`, ours: r.wasmAfter / MiB, peer: null, unit: 'MiB', goal: budget, lowerIsBetter: true });
  for (const service of ['ufile', 'wantu']) {
    const rs = row3?.results[`yunup ${service}`];
    if (!rs?.length) continue;
    const label = { ufile: 'UFile', wantu: 'Wantu' }[service];
    addRow({ row: 6, name: `Chromium, peak wasm memory of ${sizeText(UPLOAD_SIZE)} uploads to ${label} (row 3's page)`, ours: Math.max(...rs.map((x) => x.wasmAfter)) / MiB, peer: null, unit: 'MiB', goal: budget, lowerIsBetter: true });
  }
  addRow({ row: 6, name: `Chromium, RSS growth of all Chromium processes during a ${sizeText(BIG_SIZE)} upload to WCS: yunup vs wcs-js-sdk${cut}`, ours: r.extra / MiB, peer: out['wcs-js-sdk'].extra / MiB, unit: 'MiB', lowerIsBetter: true });
}

// ---- row 4 (and 6): native ------------------------------------------------------------------

/** wcs_etag_cal is wcs-python3-sdk's console script; without it on PATH, run the same entry point. */
async function wcsEtagCal() {
  const r = await run('sh', ['-c', 'command -v wcs_etag_cal'], { allowFail: true });
  return r.code === 0 ? ['wcs_etag_cal'] : ['python3', '-c', 'import sys; sys.argv[0] = "wcs_etag_cal"; from wcs.commons.etag_files import main; main()'];
}

async function row4Etag(file) {
  log(`row 4: etag of ${sizeText(BIG_SIZE)}, ${NATIVE_ROUNDS} rounds`);
  const tools = {
    'yunup etag': [CLI, 'etag', '--kind', 'wcs', file],
    wcs_etag_cal: [...(await wcsEtagCal()), 'etag', file],
    sha1sum: ['sha1sum', file],
  };
  const last = (s) => s.trim().split('\n').pop().split(' ')[0];
  const outputs = {};
  for (const [name, [cmd, ...args]] of Object.entries(tools)) outputs[name] = last((await run(cmd, args)).stdout);
  if (outputs['yunup etag'] !== outputs.wcs_etag_cal) throw new Error(`row 4: yunup etag ${outputs['yunup etag']}, wcs_etag_cal ${outputs.wcs_etag_cal}`);
  const { results } = await alternate(Object.keys(tools), { rounds: NATIVE_ROUNDS }, async (name) => {
    const [cmd, ...args] = tools[name];
    return (await run(cmd, args)).ms;
  });
  const rate = (n) => mbps(BIG_SIZE, median(results[n]));
  addRow({ row: 4, name: `Native, WCS etag of a ${sizeText(BIG_SIZE)} file (page cache): yunup etag vs wcs_etag_cal (wcs-python3-sdk ${pyVersion('wcs-python3-sdk')}), whole commands`, ours: rate('yunup etag'), peer: rate('wcs_etag_cal'), unit: 'MB/s', goal: ratioGoal(1.0) });
  addRow({ row: 4, name: `Native, WCS etag of a ${sizeText(BIG_SIZE)} file (page cache): yunup etag vs sha1sum (SHA-1 only)`, ours: rate('yunup etag'), peer: rate('sha1sum'), unit: 'MB/s', goal: ratioGoal(0.95) });
  return outputs['yunup etag'];
}

const pyVersions = {};
function pyVersion(dist) {
  return pyVersions[dist] ?? '?';
}
async function loadPyVersions() {
  const code = 'import importlib.metadata as m, json; print(json.dumps({d: m.version(d) for d in ["wcs-python3-sdk", "ufile"]}))';
  Object.assign(pyVersions, lastJson((await run('python3', ['-c', code])).stdout));
}

async function row4Upload(file, expectedEtag) {
  const rounds = Math.max(1, Math.min(NATIVE_ROUNDS, 2));
  log(`row 4: ${sizeText(BIG_SIZE)} native uploads, ${rounds} rounds, a fresh emulator each`);
  const ckpt = scratchDir('yunup-bench-ckpt-');
  const py = path.join(ROOT, 'benches', 'py_sdk.py');
  const contenders = {
    'yunup wcs': (emu) => [CLI, 'upload', '--service', 'wcs', '--endpoint', emu.wcs, '--bucket', 'public', '--checkpoint-dir', ckpt, file, 'r4-wcs'],
    'python wcs': (emu) => ['python3', py, 'upload-wcs', emu.wcs, emu.ak, emu.sk, 'public', 'r4-wcs-py', file],
    'yunup ufile': (emu) => [CLI, 'upload', '--service', 'ufile', '--endpoint', `${emu.ufile}/public`, '--bucket', 'public', '--checkpoint-dir', ckpt, file, 'r4-ufile'],
    'python ufile': (emu) => ['python3', py, 'upload-ufile', emu.ufile, emu.ak, emu.sk, 'public', 'r4-ufile-py', file],
  };
  await warmCache(file);
  const { results } = await alternate(Object.keys(contenders), { rounds }, async (name) => {
    const r = await withEmulator(emulatorOpts('row4'), async (emu) => {
      const [cmd, ...args] = contenders[name](emu);
      return measured(cmd, args, { env: { YUNUP_ACCESS_KEY: emu.ak, YUNUP_SECRET_KEY: emu.sk } });
    });
    if (name === 'yunup wcs' && !r.stdout.includes(expectedEtag)) throw new Error(`row 4: yunup upload said ${r.stdout}`);
    if (name === 'python wcs' && lastJson(r.stdout).hash !== expectedEtag) throw new Error(`row 4: python said ${r.stdout}`);
    return r;
  });
  rmSync(ckpt, { recursive: true, force: true });
  const rate = (n) => mbps(BIG_SIZE, median(results[n].map((r) => r.seconds * 1000)));
  const rss = (n) => Math.max(...results[n].map((r) => r.maxrssKib)) / 1024;
  addRow({ row: 4, name: `Native, upload ${sizeText(BIG_SIZE)} to WCS: yunup upload vs wcs-python3-sdk multipart_upload, whole commands`, ours: rate('yunup wcs'), peer: rate('python wcs'), unit: 'MB/s', goal: ratioGoal(2) });
  addRow({ row: 4, name: `Native, upload ${sizeText(BIG_SIZE)} to UFile: yunup upload vs ufile ${pyVersion('ufile')} MultipartUploadUFile.uploadfile, whole commands`, ours: rate('yunup ufile'), peer: rate('python ufile'), unit: 'MB/s', goal: ratioGoal(2) });
  for (const [service, label] of [['wcs', 'WCS'], ['ufile', 'UFile']]) {
    addRow({ row: 6, name: `Native, peak RSS of a ${sizeText(BIG_SIZE)} upload to ${label}: yunup upload vs the Python SDK (budget (3+2)×4 MiB+32 MiB)`, ours: rss(`yunup ${service}`), peer: rss(`python ${service}`), unit: 'MiB', goal: { on: 'ours', op: '<=', value: MEMORY_BUDGET / MiB }, lowerIsBetter: true });
  }
}

/** The token-rate test binary (benches/token_rate.rs), built by `make bench` before this runs. */
async function tokenRateBinary() {
  const r = await run('cargo', ['test', '--release', '--bench', 'token_rate', '--no-run', '--message-format=json']);
  for (const line of r.stdout.split('\n')) {
    try {
      const m = JSON.parse(line);
      if (m.reason === 'compiler-artifact' && m.target?.name === 'token_rate' && m.executable) return m.executable;
    } catch {}
  }
  throw new Error('cargo did not report the token_rate test binary');
}

async function row4Tokens() {
  log(`row 4: token minting, ${NATIVE_ROUNDS} rounds`);
  const bin = await tokenRateBinary();
  const parse = (stdout) => {
    const line = stdout.split('\n').find((l) => l.includes('{"wcs"'));
    return JSON.parse(line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1));
  };
  const { results } = await alternate(['rust', 'python'], { rounds: NATIVE_ROUNDS }, async (name) =>
    parse(
      name === 'rust'
        ? (await run(bin, ['--nocapture', '--test-threads', '1'], { env: { YUNUP_BENCH_SECONDS: '1' } })).stdout
        : (await run('python3', [path.join(ROOT, 'benches', 'py_sdk.py'), 'tokens', '1'])).stdout,
    ),
  );
  const m = (name, kind) => median(results[name].map((r) => r[kind]));
  addRow({ row: 4, name: 'Native, WCS upload tokens minted per second: yunup crate vs wcs-python3-sdk Auth.uploadtoken', ours: m('rust', 'wcs'), peer: m('python', 'wcs'), unit: 'per s', goal: ratioGoal(20) });
  addRow({ row: 4, name: 'Native, UFile PUT signatures per second: yunup crate vs ufile BaseUFile.authorization', ours: m('rust', 'ufile'), peer: m('python', 'ufile'), unit: 'per s', goal: ratioGoal(20) });
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  mkdirSync(OUT, { recursive: true });
  const started = new Date();
  const t0 = performance.now();
  await loadPyVersions();
  prepareWww();
  const big = want(2) || want(4) || want(6) ? await dataFile(`data-${BIG_SIZE}.bin`, BIG_SIZE) : null;
  const mid = want(3) ? await dataFile(`data-${UPLOAD_SIZE}.bin`, UPLOAD_SIZE) : null;

  if (want(5)) row5();

  // The CLI's etag of the big file is the reference for rows 2, 4 and 6.
  let bigEtag = null;
  let midEtag = null;
  if (big) bigEtag = (await run(CLI, ['etag', '--kind', 'wcs', big])).stdout.trim();
  if (mid) midEtag = (await run(CLI, ['etag', '--kind', 'wcs', mid])).stdout.trim();

  if (want(4)) {
    await row4Etag(big);
    await row4Tokens();
  }

  if (want(1)) await row1Node();

  let chromiumVersion = null;
  if (want(1) || want(2) || want(3) || want(6)) {
    const browser = await launchChromium();
    chromiumVersion = browser.version();
    try {
      let row3 = null;
      await withEmulator(emulatorOpts('rows123'), async (emu) => {
        let memo = null;
        if (want(1) || want(2)) memo = await row1Chromium(browser, emu);
        if (want(2)) await row2(browser, emu, big, memo['wcs-etag'], bigEtag);
        if (want(3)) {
          row3 = await row3Chromium(browser, emu, mid, midEtag);
          row3Rows('Chromium', row3.results, row3.rounds);
          row3CpuRows('Chromium', row3.results);
          log(`row 3 (Node): ${sizeText(UPLOAD_SIZE)} uploads, up to ${UPLOAD_ROUNDS} rounds (fewer after ${UPLOAD_BUDGET_MS / 1000} s)`);
          await warmCache(mid);
          const cfg = { wcs: emu.wcs, ufile: emu.ufile, wantu: emu.wantu, demo: emu.demo, file: mid, rounds: UPLOAD_ROUNDS, budgetMs: UPLOAD_BUDGET_MS, limitMs: UPLOAD_LIMIT_MS, emulatorPid: emu.pid };
          const out = lastJson((await run('node', ['benches/upload-node.mjs', JSON.stringify(cfg)])).stdout);
          row3Rows('Node', out.times, out.rounds);
          row3CpuRows('Node', out.times);
        }
      });
      if (want(6)) await row6Browser(browser, big, row3);
    } finally {
      await browser.close();
    }
  }

  if (want(4) || want(6)) await row4Upload(big, bigEtag);

  // ---- report ----
  rows.sort((a, b) => a.row - b.row);
  const minutes = (performance.now() - t0) / 60000;
  const meta = {
    date: started.toISOString(),
    command: 'make bench',
    minutes: Number(minutes.toFixed(1)),
    machine: { cpu: cpuModel(), cores: (await import('node:os')).cpus().length, node: process.version, chromium: chromiumVersion },
    peers: { 'hash-wasm': version('hash-wasm'), 'spark-md5': version('spark-md5'), 'wcs-js-sdk': version('wcs-js-sdk'), ...pyVersions },
    sizes: { hash: HASH_SIZE, upload: UPLOAD_SIZE, big: BIG_SIZE },
  };
  const json = rows.map((r) => ({
    row: r.row,
    name: r.name,
    ours: r.ours,
    peer: r.peer,
    unit: r.unit,
    ratio: r.ratio,
    goal: r.goal ? goalText(r.goal, r.unit) : null,
    pass: r.pass,
    ...(r.lowerIsBetter ? { lowerIsBetter: true } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
  }));
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ ...meta, rows: json }, null, 2) + '\n');

  const cells = rows.map((r) => [
    String(r.row),
    r.name,
    fmt(r.ours, r.unit),
    fmt(r.peer, r.unit),
    r.ratio === null ? '' : `${r.ratio.toFixed(2)}×`,
    goalText(r.goal, r.unit),
    r.pass === null ? '' : r.pass ? 'pass' : 'MISS',
  ]);
  const head = ['#', 'row', 'yunup', 'peer', 'ratio', 'goal', ''];
  const md = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`,
    ...cells.map((c) => `| ${c.join(' | ')} |`),
  ].join('\n');
  writeFileSync(path.join(OUT, 'results.md'), md + '\n');

  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((x, i) => (i >= 2 && i <= 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  console.log(`\nyunup benchmark, ${meta.date} (${meta.minutes} min) on ${meta.machine.cpu} ×${meta.machine.cores}, Node ${meta.machine.node}, Chromium ${chromiumVersion ?? '-'}`);
  console.log('ratio = yunup / peer (for kB, MiB and ms lower is better); medians of alternating runs\n');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  const missed = rows.filter((r) => r.pass === false).length;
  console.log(`\n${rows.filter((r) => r.pass).length} goals met, ${missed} missed. Results: ${path.relative(ROOT, path.join(OUT, 'results.json'))}, ${path.relative(ROOT, path.join(OUT, 'results.md'))}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
