// Hashing throughput of the release build (pkg-node/) against hash-wasm, in one Node process.
// Run by `make bench-quick` (not by `make test`: timings are not pass/fail).
//
// The same 64 MiB buffer is fed to each hasher in 4 MiB updates, as the upload engine feeds
// slices. One warm-up pass per hasher, then RUNS timed passes (RUNS=5 unless set in the
// environment), alternating between the two; we report the median.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createHash, randomFillSync } from 'node:crypto';
import { createMD5, createSHA1 } from 'hash-wasm';

const require = createRequire(import.meta.url);
const yunup = require('../../pkg-node/yunup.js');

const SIZE = 64 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 5);

const data = new Uint8Array(SIZE);
for (let off = 0; off < SIZE; off += 65536) randomFillSync(data, off, Math.min(65536, SIZE - off));

function feed(update) {
  for (let off = 0; off < SIZE; off += CHUNK) update(data.subarray(off, off + CHUNK));
}

const contenders = {
  md5: {
    yunup: () => {
      const h = new yunup.Md5();
      feed((c) => h.update(c));
      const out = h.digest();
      h.free?.();
      return out;
    },
    'hash-wasm': await (async () => {
      const h = await createMD5();
      return () => {
        h.init();
        feed((c) => h.update(c));
        return h.digest('hex');
      };
    })(),
    want: createHash('md5').update(data).digest('hex'),
  },
  sha1: {
    yunup: () => {
      const h = new yunup.Sha1();
      feed((c) => h.update(c));
      const out = h.digest();
      h.free?.();
      return out;
    },
    'hash-wasm': await (async () => {
      const h = await createSHA1();
      return () => {
        h.init();
        feed((c) => h.update(c));
        return h.digest('hex');
      };
    })(),
    want: createHash('sha1').update(data).digest('hex'),
  },
};

// Runs alternate between the two hashers so that background load on the machine hits both alike.
function measurePair(algo, c) {
  const fns = { yunup: c.yunup, 'hash-wasm': c['hash-wasm'] };
  const rates = { yunup: [], 'hash-wasm': [] };
  for (const [name, fn] of Object.entries(fns)) {
    const got = fn(); // warm-up, and a correctness check
    if (got !== c.want) throw new Error(`${name} ${algo}: digest ${got}, expected ${c.want}`);
  }
  for (let i = 0; i < RUNS; i++) {
    for (const [name, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      fn();
      rates[name].push(SIZE / 1e6 / ((performance.now() - t0) / 1000));
    }
  }
  const summary = (r) => {
    r.sort((a, b) => a - b);
    return { median: r[Math.floor(r.length / 2)], min: r[0], max: r[r.length - 1] };
  };
  return [summary(rates.yunup), summary(rates['hash-wasm'])];
}

const fmt = (r) => `${r.median.toFixed(0).padStart(5)} MB/s (min ${r.min.toFixed(0)}, max ${r.max.toFixed(0)})`;

console.log(`Node ${process.version}; ${SIZE / 1048576} MiB buffer, ${CHUNK / 1048576} MiB updates, ` +
  `1 warm-up + ${RUNS} runs each, median MB/s (10^6 bytes/s)`);
for (const [algo, c] of Object.entries(contenders)) {
  const [ours, theirs] = measurePair(algo, c);
  console.log(`${algo.padEnd(4)}  yunup     ${fmt(ours)}`);
  console.log(`${algo.padEnd(4)}  hash-wasm ${fmt(theirs)}`);
  console.log(`${algo.padEnd(4)}  ratio yunup/hash-wasm = ${(ours.median / theirs.median).toFixed(2)}`);
}
