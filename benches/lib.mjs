// Helpers for benches/bench.mjs: statistics, child processes, the emulator, Chromium, memory.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = path.join(ROOT, 'target', 'bench');
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
/** MB/s (10^6 bytes per second). */
export const mbps = (bytes, ms) => bytes / 1e3 / ms;

const T0 = performance.now();
const clock = () => {
  const s = Math.round((performance.now() - T0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
export const log = (...args) => console.error(`bench [${clock()}]:`, ...args);

/** Run a command; resolve with { code, stdout, stderr, ms } (reject on a non-zero exit unless
 *  `allowFail`). */
export function run(cmd, args, { env, cwd = ROOT, allowFail = false, stdin = 'ignore' } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const out = { code, stdout, stderr, ms: performance.now() - t0 };
      if (code !== 0 && !allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`));
      } else resolve(out);
    });
  });
}

/** The last line of stdout that parses as JSON. */
export function lastJson(stdout) {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line);
    } catch {}
  }
  throw new Error(`no JSON line in output:\n${stdout.slice(-1000)}`);
}

/** Run a command under benches/rusage.py: wall seconds and peak RSS (KiB) of the command. */
export async function measured(cmd, args, opts = {}) {
  const r = await run('python3', [path.join(ROOT, 'benches', 'rusage.py'), cmd, ...args], opts);
  const usage = JSON.parse(r.stderr.trim().split('\n').pop());
  return { ...r, seconds: usage.seconds, maxrssKib: usage.maxrss_kib };
}

/** A directory for emulator data: tmpfs when there is room (uploads then measure CPU and
 *  loopback, not the disk), else under target/bench. */
export function scratchDir(prefix) {
  let base = path.join(OUT, 'tmp');
  try {
    const s = statfsSync('/dev/shm');
    if (s.bavail * s.bsize > 6 * GiB) base = '/dev/shm';
  } catch {}
  mkdirSync(base, { recursive: true });
  return mkdtempSync(path.join(base, prefix));
}

// Emulators still running when this process exits (a crash included) are killed with it, and their
// data directories removed.
const running = new Map();
process.on('exit', () => {
  for (const [child, data] of running) {
    try {
      child.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    } catch {}
  }
});

/** Start a fresh yunup-emulator on OS-chosen loopback ports. Its request log goes to a file. */
export async function startEmulator({ bin, www, pkg, logFile }) {
  const data = scratchDir('yunup-bench-emu-');
  const fd = openSync(logFile, 'w');
  const child = spawn(
    bin,
    [
      '--data', path.join(data, 'store'),
      '--credential', 'bench-ak:bench-sk',
      '--bucket', 'public',
      '--wcs', '127.0.0.1:0', '--ufile', '127.0.0.1:0', '--wantu', '127.0.0.1:0', '--demo', '127.0.0.1:0',
      '--www', www, '--pkg', pkg,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  running.set(child, data);
  const urls = {};
  for (let i = 0; i < 300 && Object.keys(urls).length < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode !== null) break;
    for (const m of readFileSync(logFile, 'utf8').matchAll(/yunup-emulator: (\w+) ready on (\S+)/g)) urls[m[1]] = m[2];
  }
  if (Object.keys(urls).length < 4) {
    child.kill();
    running.delete(child);
    rmSync(data, { recursive: true, force: true });
    throw new Error(`the emulator did not start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
  return {
    ...urls,
    ak: 'bench-ak',
    sk: 'bench-sk',
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      running.delete(child);
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export async function withEmulator(opts, fn) {
  const emu = await startEmulator(opts);
  try {
    return await fn(emu);
  } finally {
    await emu.stop();
  }
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** Open the bench page of an emulator's demo host in a fresh context (its own HTTP cache). */
export async function benchPage(browser, demoUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(600_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${demoUrl}/index.html`);
  await page.waitForFunction(() => window.bench !== undefined).catch(() => {
    throw new Error(`the bench page did not load: ${errors.join('; ')}`);
  });
  await page.evaluate(() => window.bench.ready);
  return { page, context, close: () => context.close() };
}

// ---- memory of a process tree ------------------------------------------------------------

const PAGE = 4096;

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** { ppid, comm, rss, cpu } of process `pid` from /proc, `cpu` its user + system seconds so far;
 *  throws if it is gone. */
export function processStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS;
  return { ppid: fields[1], comm, rss: Number(fields[21]) * PAGE, cpu };
}

/** { pid: processStat(pid) } for every process (best effort: processes come and go). */
function processes() {
  const out = {};
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out[name] = processStat(name);
    } catch {}
  }
  return out;
}

/** This process and its descendants: { pid: process }. */
function tree(procs, root = process.pid) {
  const children = {};
  for (const [pid, p] of Object.entries(procs)) (children[p.ppid] ??= []).push(pid);
  const out = {};
  const stack = [String(root)];
  while (stack.length) {
    const pid = stack.pop();
    if (procs[pid]) out[pid] = procs[pid];
    stack.push(...(children[pid] ?? []));
  }
  return out;
}

/** What a process of the bench is, for CPU accounting: Chromium's by their `--type`. */
function processKind(pid, comm) {
  if (/yunup-emulator/.test(comm)) return 'emulator';
  if (!/chrom/i.test(comm)) return comm === 'node' || comm === 'MainThread' ? 'node' : 'other';
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {}
  const type = /--type=([\w-]+)/.exec(cmd)?.[1];
  if (!type) return 'browser';
  if (type === 'utility' && cmd.includes('NetworkService')) return 'network';
  return type === 'renderer' ? 'renderer' : 'Chromium other';
}

/**
 * CPU seconds the bench's processes (this one, the emulator, Chromium's) spent while `work()`
 * ran, by kind (`renderer`, `browser` and `network` for Chromium's, `emulator`, `node`):
 * { result, cpu: { kind: seconds }, total }. Machines here have 2 cores shared by the client
 * and the emulator, so this says where an upload's time goes.
 */
export async function cpuDuring(work) {
  const before = tree(processes());
  const result = await work();
  const after = tree(processes());
  const cpu = {};
  for (const [pid, p] of Object.entries(after)) {
    const spent = p.cpu - (before[pid]?.comm === p.comm ? before[pid].cpu : 0);
    if (spent > 0) {
      const kind = processKind(pid, p.comm);
      cpu[kind] = (cpu[kind] ?? 0) + spent;
    }
  }
  return { result, cpu, total: Object.values(cpu).reduce((a, b) => a + b, 0) };
}

/** Sum of RSS of the descendants of `root` whose name matches `comm`. */
export function treeRss(root = process.pid, comm = /chrom/) {
  let total = 0;
  for (const [pid, p] of Object.entries(tree(processes(), root))) {
    if (pid !== String(root) && comm.test(p.comm)) total += p.rss;
  }
  return total;
}

/** Sample treeRss every `ms` while `work()` runs: { result, baseline, peak } in bytes. */
export async function sampleRss(work, { ms = 200, comm } = {}) {
  const baseline = treeRss(process.pid, comm);
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRss(process.pid, comm));
  }, ms);
  try {
    const result = await work();
    peak = Math.max(peak, treeRss(process.pid, comm));
    return { result, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

export const cpuModel = () => os.cpus()[0]?.model ?? 'unknown CPU';

/**
 * Run `fn(name, round)` for every name, round after round, reversing the order every other round
 * so that background load hits ours and the peer alike. Stops after `rounds` rounds, or earlier
 * (but after at least `minRounds` full rounds) once `budgetMs` is spent: slow contenders then get
 * fewer samples instead of stretching the run. Returns { name: [result, ...] } and `rounds`.
 */
export async function alternate(names, { rounds, minRounds = 1, budgetMs = Infinity }, fn) {
  const out = Object.fromEntries(names.map((n) => [n, []]));
  const t0 = performance.now();
  let done = 0;
  for (let i = 0; i < rounds; i++) {
    if (i >= minRounds && performance.now() - t0 > budgetMs) break;
    for (const name of i % 2 === 0 ? names : [...names].reverse()) out[name].push(await fn(name, i));
    done++;
  }
  return { results: out, rounds: done };
}
