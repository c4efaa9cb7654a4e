// The hashing contenders of row 1, shared by Node (benches/hash-node.mjs) and the bench page
// (benches/www/page.mjs). No imports: each side passes in what it has.
//
// Every contender is `async (data: Uint8Array) => string` and is fed the way the upload engine
// feeds slices: incremental hashers get 4 MiB updates. Digests are lower-case hex (MD5, SHA-1) or
// the etag text, so that all contenders of one algorithm must agree (checked by the callers).
//
//   yunup        the package under test (pkg-node/ in Node, pkg/ in the page)
//   hash-wasm    the same engine (Rust-free hand-written wasm); WCS/UFile etags built on its SHA-1
//   spark-md5    the usual pure-JS MD5 (MD5 only)
//   webcrypto    crypto.subtle.digest('SHA-1'): one shot for SHA-1, one call per 4 MiB block for
//                the etags (MD5 is not in WebCrypto)
//   node:crypto  OpenSSL, Node only: the native ceiling

export const CHUNK = 4 * 1024 * 1024;
export const ALGOS = ['md5', 'sha1', 'wcs-etag', 'ufile-etag'];

function* chunks(data, size = CHUNK) {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(off + size, data.length));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const hex = (bytes) => {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
};

function base64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_');
}

/** The WCS and UFile etag texts from the block count and the digest (src/hash/etag.rs). */
function etagText(kind, blocks, digest) {
  if (kind === 'wcs-etag') {
    const out = new Uint8Array(21);
    out[0] = blocks <= 1 ? 0x16 : 0x96;
    out.set(digest, 1);
    return base64url(out);
  }
  const out = new Uint8Array(24);
  new DataView(out.buffer).setUint32(0, blocks, true);
  out.set(digest, 4);
  return base64url(out).replace(/=+$/, '');
}

/** An etag from a per-block SHA-1 `blockSha1(chunk) -> Uint8Array(20)` (maybe async) and a SHA-1
 *  of the concatenated block digests. */
async function etagFromBlocks(kind, data, blockSha1, sha1Of) {
  const digests = [];
  for (const block of chunks(data)) digests.push(await blockSha1(block));
  if (digests.length === 0) digests.push(await blockSha1(new Uint8Array(0)));
  if (digests.length === 1) return etagText(kind, 1, digests[0]);
  const all = new Uint8Array(20 * digests.length);
  digests.forEach((d, i) => all.set(d, 20 * i));
  return etagText(kind, digests.length, await sha1Of(all));
}

/**
 * contenders({ yunup, hashwasm, SparkMD5, subtle, nodeCrypto }) → { algo: { name: fn } }.
 * Hasher instances that need async creation (hash-wasm) are created here, before any timing.
 */
export async function contenders({ yunup, hashwasm, SparkMD5, subtle, nodeCrypto }) {
  const out = { md5: {}, sha1: {}, 'wcs-etag': {}, 'ufile-etag': {} };

  if (yunup) {
    const incremental = (Class) => async (data) => {
      const h = new Class();
      for (const c of chunks(data)) h.update(c);
      const d = h.digest();
      h.free();
      return d;
    };
    out.md5.yunup = incremental(yunup.Md5);
    out.sha1.yunup = incremental(yunup.Sha1);
    out['wcs-etag'].yunup = incremental(yunup.WcsEtag);
    out['ufile-etag'].yunup = incremental(yunup.UfileEtag);
  }

  if (hashwasm) {
    const md5 = await hashwasm.createMD5();
    const sha1 = await hashwasm.createSHA1();
    const outer = await hashwasm.createSHA1();
    const feed = (h, data, encoding) => {
      h.init();
      for (const c of chunks(data)) h.update(c);
      return h.digest(encoding);
    };
    out.md5['hash-wasm'] = async (data) => feed(md5, data, 'hex');
    out.sha1['hash-wasm'] = async (data) => feed(sha1, data, 'hex');
    for (const kind of ['wcs-etag', 'ufile-etag']) {
      out[kind]['hash-wasm'] = (data) =>
        etagFromBlocks(kind, data, (block) => feed(sha1, block, 'binary'), (all) => feed(outer, all, 'binary'));
    }
  }

  if (SparkMD5) {
    out.md5['spark-md5'] = async (data) => {
      const s = new SparkMD5.ArrayBuffer();
      for (const c of chunks(data)) s.append(c);
      return s.end();
    };
  }

  if (subtle) {
    const digest = async (bytes) => new Uint8Array(await subtle.digest('SHA-1', bytes));
    out.sha1.webcrypto = async (data) => hex(await digest(data));
    for (const kind of ['wcs-etag', 'ufile-etag']) {
      out[kind].webcrypto = (data) => etagFromBlocks(kind, data, digest, digest);
    }
  }

  if (nodeCrypto) {
    const feed = (algo, data) => {
      const h = nodeCrypto.createHash(algo);
      for (const c of chunks(data)) h.update(c);
      return h;
    };
    out.md5['node:crypto'] = async (data) => feed('md5', data).digest('hex');
    out.sha1['node:crypto'] = async (data) => feed('sha1', data).digest('hex');
    for (const kind of ['wcs-etag', 'ufile-etag']) {
      out[kind]['node:crypto'] = (data) =>
        etagFromBlocks(
          kind,
          data,
          (block) => new Uint8Array(feed('sha1', block).digest()),
          (all) => new Uint8Array(feed('sha1', all).digest()),
        );
    }
  }
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for 256 MiB. */
export function makeData(size, seed = 0x9e3779b9) {
  const data = new Uint8Array(size);
  const words = new Uint32Array(data.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return data;
}

/**
 * Warm figures for one algorithm: one pass of each contender first (warm-up and a digest check),
 * then passes alternating between contenders, `runs` each (`runsOf(name)` lowers that for slow or
 * informational contenders). Returns { times: { name: [ms, ...] }, digest }.
 */
export async function warm(table, data, runs, now, runsOf = () => runs) {
  const names = Object.keys(table);
  const digests = {};
  for (const name of names) digests[name] = await table[name](data);
  const first = digests[names[0]];
  for (const name of names) {
    if (digests[name] !== first) throw new Error(`digest mismatch: ${names[0]} ${first}, ${name} ${digests[name]}`);
  }
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < runs; i++) {
    // Alternate the order too, so that neither contender always runs right after the other.
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      if (times[name].length >= Math.min(runs, runsOf(name))) continue;
      const t0 = now();
      await table[name](data);
      times[name].push(now() - t0);
    }
  }
  return { times, digest: first };
}

/** spark-md5 is 5-10x slower than the rest and far from its goal; the ceilings are context. */
export const runsOf = (runs) => (name) =>
  name === 'spark-md5' ? Math.min(runs, 2) : ['node:crypto', 'webcrypto'].includes(name) ? Math.min(runs, 3) : runs;
