// Row 1 in Node: hashing throughput of 256 MiB in memory. Run by benches/bench.mjs, one JSON
// line on stdout.
//
//   node benches/hash-node.mjs warm RUNS          every algorithm and contender, warm, alternating
//   node benches/hash-node.mjs cold ALGO NAME     the first pass of one contender in this process
//
// Cold: only that contender's library is loaded and instantiated (not timed), then its very first
// pass over the data is timed: what a fresh process gets before V8 has tiered anything up.
import { createRequire } from 'node:module';
import nodeCrypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { contenders, makeData, runsOf, warm, ALGOS } from './hashers.mjs';

const require = createRequire(import.meta.url);
const SIZE = Number(process.env.BENCH_HASH_BYTES ?? 256 * 1024 * 1024);
// The data: BENCH_HASH_FILE (from the page cache, quicker than generating it) or generated.
const data = () => {
  const file = process.env.BENCH_HASH_FILE;
  return file ? new Uint8Array(readFileSync(file)).subarray(0, SIZE) : makeData(SIZE);
};
const now = () => performance.now();

async function libs(only) {
  const want = (name) => only === undefined || only === name;
  return {
    yunup: want('yunup') ? require('../pkg-node/yunup.js') : undefined,
    hashwasm: want('hash-wasm') ? await import('hash-wasm') : undefined,
    SparkMD5: want('spark-md5') ? require('spark-md5') : undefined,
    subtle: want('webcrypto') ? globalThis.crypto.subtle : undefined,
    nodeCrypto: want('node:crypto') ? nodeCrypto : undefined,
  };
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'warm') {
  const runs = Number(args[0] ?? 5);
  // WebCrypto in Node is OpenSSL again (node:crypto covers it); spark-md5 only for MD5.
  const table = await contenders({ ...(await libs()), subtle: undefined });
  const bytes = data();
  const out = {};
  for (const algo of ALGOS) out[algo] = await warm(table[algo], bytes, runs, now, runsOf(runs));
  console.log(JSON.stringify({ size: SIZE, node: process.version, results: out }));
} else if (mode === 'cold') {
  const [algo, name] = args;
  const table = await contenders(await libs(name));
  const fn = table[algo]?.[name];
  if (!fn) throw new Error(`no contender ${name} for ${algo}`);
  const bytes = data();
  const t0 = now();
  const digest = await fn(bytes);
  console.log(JSON.stringify({ size: SIZE, ms: now() - t0, digest }));
} else {
  console.error('usage: hash-node.mjs warm RUNS | cold ALGO NAME');
  process.exit(2);
}
