// The release npm build (pkg-node/, made by `make pkg`: wasm-pack --release, then wasm-opt) loaded
// with require() and called from Node. Vectors come from protocols/*.md and are recomputed here
// with node:crypto where an independent reference exists.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');

const PKG = path.join(__dirname, '..', '..', 'pkg-node', 'yunup.js');
let yunup;
try {
  yunup = require(PKG);
} catch (err) {
  throw new Error(`cannot load ${PKG} (build it with \`make pkg\`): ${err.message}`);
}

const MiB = 1024 * 1024;
const BLOCK = 4 * MiB;
const enc = (s) => new TextEncoder().encode(s);

// Deterministic pseudo-random bytes (xorshift32), so failures are reproducible.
function bytes(n, seed = 0x9e3779b9) {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// --- independent references (node:crypto) ----------------------------------------------------------

const sha1 = (b) => crypto.createHash('sha1').update(b).digest();
const urlsafe = (buf) => Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

function blockDigest(data) {
  if (data.length <= BLOCK) return { blocks: data.length === 0 ? 0 : 1, digest: sha1(data) };
  const digests = [];
  for (let off = 0; off < data.length; off += BLOCK) digests.push(sha1(data.subarray(off, off + BLOCK)));
  return { blocks: digests.length, digest: sha1(Buffer.concat(digests)) };
}

function refWcsEtag(data) {
  const { blocks, digest } = blockDigest(data);
  return urlsafe(Buffer.concat([Buffer.from([blocks <= 1 ? 0x16 : 0x96]), digest]));
}

function refUfileEtag(data) {
  const { blocks, digest } = blockDigest(data);
  const count = Buffer.alloc(4);
  count.writeUInt32LE(blocks);
  return urlsafe(Buffer.concat([count, digest])).replace(/=+$/, '');
}

// CRC-32 (IEEE), bitwise: slow but obviously right.
function refCrc32(data) {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

// Sizes around the 4 MiB etag block boundary, plus small and empty inputs.
const SIZES = [0, 1, 55, 64, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 2 * BLOCK + 3];
const DATA = bytes(2 * BLOCK + 3);

// --- one-shot hashes -------------------------------------------------------------------------------

test('exports the documented functions and classes', () => {
  for (const name of ['md5', 'sha1', 'crc32', 'wcsEtag', 'ufileEtag', 'ufilePartEtag', 'etag',
    'Md5', 'Sha1', 'Crc32', 'WcsEtag', 'UfileEtag']) {
    assert.equal(typeof yunup[name], 'function', `${name} is exported`);
  }
  assert.equal(typeof yunup.wcs?.uploadToken, 'function', 'wcs.uploadToken');
  assert.equal(typeof yunup.wantu?.uploadToken, 'function', 'wantu.uploadToken');
  assert.equal(typeof yunup.ufile?.sign, 'function', 'ufile.sign');
});

test('md5: known vectors, hex, optional upper case', () => {
  assert.equal(yunup.md5(enc('hello world')), '5eb63bbbe01eeed093cb22bb8f5acdc3');
  assert.equal(yunup.md5(enc('hello world'), false), '5eb63bbbe01eeed093cb22bb8f5acdc3');
  assert.equal(yunup.md5(enc('hello world'), true), '5EB63BBBE01EEED093CB22BB8F5ACDC3');
  assert.equal(yunup.md5(new Uint8Array(0)), 'd41d8cd98f00b204e9800998ecf8427e');
});

test('sha1 and crc32: known vectors', () => {
  assert.equal(yunup.sha1(enc('hello world')), '2aae6c35c94fcfb415dbe95f408b9ce91ee846ed');
  assert.equal(yunup.sha1(new Uint8Array(0)), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(yunup.crc32(enc('hello world')), 0x0d4a1185);
  assert.equal(yunup.crc32(enc('123456789')), 0xcbf43926);
  assert.equal(yunup.crc32(new Uint8Array(0)), 0);
});

test('etags: known vectors', () => {
  assert.equal(yunup.wcsEtag(enc('hello world')), 'FiqubDXJT8-0FdvpX0CLnOke6Ebt');
  assert.equal(yunup.wcsEtag(new Uint8Array(0)), 'Fto5o-5ea0sNMlW_75VgGJCv2AcJ');
  assert.equal(yunup.ufileEtag(enc('hello')), 'AQAAAKr0xh3cxeii2r7eDztILNmuqUNN');
  assert.equal(yunup.ufileEtag(new Uint8Array(0)), 'AAAAANo5o-5ea0sNMlW_75VgGJCv2AcJ');
  assert.equal(yunup.ufileEtag(new Uint8Array(BLOCK)), 'AQAAACvMvS848VwT631aif2dhfWV4jvD');
  assert.equal(yunup.ufileEtag(new Uint8Array(BLOCK + 1)), 'AgAAABCFgki5yzon0rjN9uJusf6qtsF6');
  assert.equal(yunup.ufileEtag(new Uint8Array(10 * MiB).fill(0x61)), 'AwAAAK4kcKeYmH-rNr_fwfiueEW7ZbvY');
  assert.equal(yunup.ufilePartEtag(enc('hello')), urlsafe(sha1(enc('hello'))));
});

test('one-shot hashes match node:crypto around the 4 MiB block boundary', () => {
  for (const n of SIZES) {
    const data = DATA.subarray(0, n);
    assert.equal(yunup.md5(data), crypto.createHash('md5').update(data).digest('hex'), `md5 of ${n} bytes`);
    assert.equal(yunup.sha1(data), sha1(data).toString('hex'), `sha1 of ${n} bytes`);
    assert.equal(yunup.wcsEtag(data), refWcsEtag(data), `wcsEtag of ${n} bytes`);
    assert.equal(yunup.ufileEtag(data), refUfileEtag(data), `ufileEtag of ${n} bytes`);
    assert.equal(yunup.ufilePartEtag(data), urlsafe(sha1(data)), `ufilePartEtag of ${n} bytes`);
  }
  for (const n of [0, 1, 1000, 70000]) {
    assert.equal(yunup.crc32(DATA.subarray(0, n)), refCrc32(DATA.subarray(0, n)), `crc32 of ${n} bytes`);
  }
});

// --- incremental hashers ---------------------------------------------------------------------------

const INCREMENTAL = [
  ['Md5', (d) => yunup.md5(d)],
  ['Sha1', (d) => yunup.sha1(d)],
  ['Crc32', (d) => yunup.crc32(d)],
  ['WcsEtag', (d) => yunup.wcsEtag(d)],
  ['UfileEtag', (d) => yunup.ufileEtag(d)],
];

test('incremental hashers: any chunking gives the one-shot digest', () => {
  const data = DATA.subarray(0, 2 * BLOCK + 3);
  // Odd chunk sizes that straddle the block boundaries, and one single byte at a time near them.
  const chunkings = [[data.length], [1, BLOCK - 2, 2, 3, BLOCK], [65536 + 7], [BLOCK], [3 * MiB + 1]];
  for (const [name, oneShot] of INCREMENTAL) {
    const want = oneShot(data);
    for (const plan of chunkings) {
      const h = new yunup[name]();
      let off = 0;
      let i = 0;
      while (off < data.length) {
        const n = plan[i++ % plan.length];
        h.update(data.subarray(off, off + n));
        off += n;
      }
      assert.equal(h.digest(), want, `${name} fed in chunks of ${plan.join(',')}`);
      h.free?.();
    }
  }
});

test('etags of many blocks (hashed four at a time in SIMD lanes) match node:crypto', () => {
  const big = bytes(9 * BLOCK + 3, 7);
  for (const n of [2 * BLOCK, 3 * BLOCK + 1, 4 * BLOCK, 5 * BLOCK + 3, 6 * BLOCK, 8 * BLOCK + 1, 9 * BLOCK + 3]) {
    const data = big.subarray(0, n);
    const want = { WcsEtag: refWcsEtag(data), UfileEtag: refUfileEtag(data) };
    assert.equal(yunup.wcsEtag(data), want.WcsEtag, `wcsEtag of ${n} bytes`);
    assert.equal(yunup.ufileEtag(data), want.UfileEtag, `ufileEtag of ${n} bytes`);
    for (const name of ['WcsEtag', 'UfileEtag']) {
      for (const chunk of [BLOCK, 3 * MiB + 5, 16 * BLOCK]) {
        const h = new yunup[name]();
        for (let off = 0; off < n; off += chunk) h.update(data.subarray(off, Math.min(off + chunk, n)));
        assert.equal(h.digest(), want[name], `${name} of ${n} bytes in chunks of ${chunk}`);
        h.free?.();
      }
    }
  }
});

test('incremental hashers: empty input, and digest() can be called twice', () => {
  for (const [name, oneShot] of INCREMENTAL) {
    const h = new yunup[name]();
    assert.equal(h.digest(), oneShot(new Uint8Array(0)), `${name} of nothing`);
    h.update(enc('hello '));
    h.update(new Uint8Array(0));
    h.update(enc('world'));
    assert.equal(h.digest(), oneShot(enc('hello world')), `${name} of "hello world"`);
    assert.equal(h.digest(), oneShot(enc('hello world')), `${name}: second digest() call`);
    h.free?.();
  }
  assert.equal(typeof new yunup.Crc32().digest(), 'number');
});

// --- Blob etag -------------------------------------------------------------------------------------

test('etag(blob, kind) of a 9 MiB + 3 bytes Blob equals the one-shot etag', async () => {
  const data = bytes(9 * MiB + 3, 42);
  const blob = new Blob([data]);
  assert.equal(blob.size, 9 * MiB + 3);
  assert.equal(await yunup.etag(blob, 'wcs'), yunup.wcsEtag(data));
  assert.equal(await yunup.etag(blob, 'wcs'), refWcsEtag(data));
  assert.equal(await yunup.etag(blob, 'ufile'), yunup.ufileEtag(data));
  assert.equal(await yunup.etag(blob, 'ufile'), refUfileEtag(data));
});

test('etag(blob, kind) of small and empty Blobs', async () => {
  assert.equal(await yunup.etag(new Blob(['hello world']), 'wcs'), 'FiqubDXJT8-0FdvpX0CLnOke6Ebt');
  assert.equal(await yunup.etag(new Blob(['hello']), 'ufile'), 'AQAAAKr0xh3cxeii2r7eDztILNmuqUNN');
  assert.equal(await yunup.etag(new Blob([]), 'wcs'), 'Fto5o-5ea0sNMlW_75VgGJCv2AcJ');
});

test('etag(blob, kind) rejects an unknown kind with an Error, not a wasm trap', async () => {
  await assert.rejects(yunup.etag(new Blob(['x']), 'md4'), (err) => {
    assert.ok(err instanceof Error, 'an Error');
    assert.ok(!(err instanceof WebAssembly.RuntimeError), 'not a wasm trap');
    assert.match(err.message, /wcs|ufile/, 'the message names the valid kinds');
    return true;
  });
});

test('hashing takes strings (UTF-8), ArrayBuffers, views and Buffers; anything else is a YunupError', async () => {
  const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
  const text = 'hello wörld 中';
  const utf8 = Buffer.from(text, 'utf8');
  const padded = new Uint8Array(utf8.length + 4);
  padded.set(utf8, 2);
  const inputs = {
    string: text,
    Buffer: utf8,
    ArrayBuffer: utf8.buffer.slice(utf8.byteOffset, utf8.byteOffset + utf8.length),
    subarray: padded.subarray(2, 2 + utf8.length),
    DataView: new DataView(padded.buffer, 2, utf8.length),
    'number[]': Array.from(utf8),
  };
  for (const [what, data] of Object.entries(inputs)) {
    assert.equal(yunup.md5(data), md5(utf8), what);
    assert.equal(yunup.sha1(data), sha1(utf8).toString('hex'), what);
    assert.equal(yunup.wcsEtag(data), refWcsEtag(utf8), what);
    const h = new yunup.Md5();
    h.update(data);
    assert.equal(h.digest(), md5(utf8), `${what}, incremental`);
    h.free();
    assert.equal(await yunup.etag(data, 'wcs'), refWcsEtag(utf8), `${what}, etag()`);
  }
  const isYunupError = (err) => {
    assert.equal(err.name, 'YunupError');
    assert.equal(err.kind, 'invalid-input');
    return true;
  };
  for (const data of [null, undefined, 42, { length: 3 }, [1, 256]]) {
    assert.throws(() => yunup.md5(data), isYunupError, String(data));
    assert.throws(() => new yunup.Sha1().update(data), isYunupError, String(data));
    // A rejection, not an exception thrown out of the event loop (that ended the process).
    await assert.rejects(yunup.etag(data, 'wcs'), isYunupError, String(data));
  }
  await assert.rejects(yunup.etag(new Blob(['x'])), isYunupError, 'no kind');
});

// --- tokens and signatures -------------------------------------------------------------------------

test('wcs.uploadToken: known vector', () => {
  const token = yunup.wcs.uploadToken(
    { accessKey: 'ak-example', secretKey: 'sk-example' },
    { scope: 'mybucket:a.txt', deadline: 1893427200000 },
  );
  assert.equal(
    token,
    'ak-example:OTg4NDBhZDUwYzZjZDdiNDYzNzJlM2I3ZjBmYWViZGJiNmRlMDZiNg==:'
      + 'eyJzY29wZSI6Im15YnVja2V0OmEudHh0IiwiZGVhZGxpbmUiOiIxODkzNDI3MjAwMDAwIn0=',
  );
});

test('wcs.uploadToken: the signature covers the encoded policy (recomputed with node:crypto)', () => {
  const token = yunup.wcs.uploadToken({ accessKey: 'ak', secretKey: 'sk' }, { scope: 'b', deadline: 1893427200000 });
  const [ak, sig, encodedPolicy] = token.split(':');
  assert.equal(ak, 'ak');
  const hex = crypto.createHmac('sha1', 'sk').update(encodedPolicy).digest('hex');
  assert.equal(sig, urlsafe(Buffer.from(hex)));
  const policy = JSON.parse(Buffer.from(encodedPolicy, 'base64url').toString());
  assert.equal(policy.scope, 'b');
  assert.equal(String(policy.deadline), '1893427200000');
});

test('wcs.uploadToken: without a deadline the token lasts about an hour', () => {
  const token = yunup.wcs.uploadToken({ accessKey: 'ak', secretKey: 'sk' }, { scope: 'b:k' });
  const policy = JSON.parse(Buffer.from(token.split(':')[2], 'base64url').toString());
  const deadline = Number(policy.deadline);
  assert.ok(Math.abs(deadline - (Date.now() + 3600_000)) < 60_000, `deadline ${deadline} is about now + 1 h`);
});

test('wcs.uploadToken: bad input throws an Error, not a wasm trap', () => {
  const notATrap = (err) => err instanceof Error && !(err instanceof WebAssembly.RuntimeError);
  assert.throws(() => yunup.wcs.uploadToken({ accessKey: 'ak', secretKey: 'sk' }, { scope: '' }), notATrap);
  assert.throws(() => yunup.wcs.uploadToken({ accessKey: 'ak' }, { scope: 'b' }), notATrap);
  assert.throws(() => yunup.wcs.uploadToken(null, { scope: 'b' }), notATrap);
  assert.throws(() => yunup.wcs.uploadToken({ accessKey: 'ak', secretKey: 'sk' }, 'scope'), notATrap);
});

test('wcs.managementToken: a string body is signed as its UTF-8, an ArrayBuffer as its bytes', () => {
  const creds = { accessKey: 'ak', secretKey: 'sk' };
  const body = 'fops=vframe%2Fjpg&notifyURL=aHR0cDovL3g=';
  // The token: AK:base64url(hex(HMAC-SHA1(SK, path + "\n" + body))), as the spec's examples are.
  const expected = (b) =>
    'ak:' + urlsafe(Buffer.from(crypto.createHmac('sha1', 'sk').update('/fmgr/fops\n').update(b).digest('hex')));
  assert.equal(yunup.wcs.managementToken(creds, '/fmgr/fops', body), expected(body));
  assert.equal(yunup.wcs.managementToken(creds, '/fmgr/fops', enc(body)), expected(body));
  assert.equal(yunup.wcs.managementToken(creds, '/fmgr/fops', enc(body).buffer), expected(body));
  assert.equal(yunup.wcs.managementToken(creds, '/fmgr/fops'), expected(''));
  assert.equal(yunup.wcs.managementToken(creds, '/fmgr/fops', null), expected(''));
});

test('management classes: a number where a string goes is a YunupError, not a wasm trap', async () => {
  const creds = { accessKey: 'ak', secretKey: 'sk' };
  const isYunupError = (err) => err.name === 'YunupError' && err.kind === 'invalid-input';
  assert.throws(() => yunup.wcs.managementToken(creds, 5), isYunupError);
  assert.throws(() => new yunup.WcsManager(creds, 5), isYunupError);
  assert.throws(() => new yunup.UfileManager(creds, 5, 'b'), isYunupError);
  assert.throws(() => new yunup.UfileManager(creds, 'http://127.0.0.1:2/b', 7), isYunupError);
  const wcs = new yunup.WcsManager(creds, 'http://127.0.0.1:2');
  const ufile = new yunup.UfileManager(creds, 'http://127.0.0.1:2/b', 'b');
  assert.throws(() => ufile.privateUrl(9, 60), isYunupError);
  // Promise methods reject (port 2 is never reached: the arguments are refused first).
  for (const call of [
    () => wcs.stat('public', 42),
    () => wcs.delete(42, 'k'),
    () => wcs.list({}),
    () => wcs.list({ bucket: 'public', limt: 2 }),
    () => ufile.head(42),
    () => ufile.fetchRange(42, 0),
    () => ufile.delete(42),
  ]) {
    let promise;
    assert.doesNotThrow(() => { promise = call(); }, String(call));
    await assert.rejects(promise, isYunupError, String(call));
  }
});

test('wantu.uploadToken: UPLOAD_AK_TOP, HMAC-SHA1 hex over the encoded policy as sent', () => {
  const sk = '0123456789abcdef0123456789abcdef';
  const token = yunup.wantu.uploadToken(
    { accessKey: '23000000', secretKey: sk },
    { namespace: 'test', expiration: -1, insertOnly: 0, detectMime: 1 },
  );
  const m = /^UPLOAD_AK_TOP (\S+)$/.exec(token);
  assert.ok(m, `token ${token} starts with "UPLOAD_AK_TOP "`);
  const inner = Buffer.from(m[1], 'base64url').toString();
  const first = inner.indexOf(':');
  const last = inner.lastIndexOf(':');
  const [ak, encodedPolicy, sign] = [inner.slice(0, first), inner.slice(first + 1, last), inner.slice(last + 1)];
  assert.equal(ak, '23000000');
  assert.equal(sign, crypto.createHmac('sha1', sk).update(encodedPolicy).digest('hex'));
  const policy = JSON.parse(Buffer.from(encodedPolicy, 'base64url').toString());
  assert.equal(policy.namespace, 'test');
  assert.equal(Number(policy.expiration), -1);
});

test('ufile.sign: known vectors', () => {
  const creds = { accessKey: 'test-public-key', secretKey: 'test-private-key' };
  assert.equal(
    yunup.ufile.sign(creds, { method: 'PUT', bucket: 'demobucket', key: 'demokey', contentType: 'image/jpeg' }),
    'UCloud test-public-key:k0ft/BmcNWgSWSxGRhSq7VikWLI=',
  );
  assert.equal(
    yunup.ufile.sign(creds, {
      method: 'PUT', bucket: 'demobucket', key: 'hello.txt',
      contentMd5: '5d41402abc4b2a76b9719d911017c592', contentType: 'text/plain',
    }),
    'UCloud test-public-key:FhCsGQaNAp0OmP6uBD1VX5LCC4I=',
  );
});

test('ufile.sign: matches HMAC-SHA1 over the StringToSign (node:crypto)', () => {
  const creds = { accessKey: 'pub', secretKey: 'priv' };
  const req = { method: 'GET', bucket: 'b', key: 'dir/a b.jpg', date: '20240101120000' };
  const want = crypto.createHmac('sha1', 'priv').update('GET\n\n\n20240101120000\n/b/dir/a b.jpg').digest('base64');
  assert.equal(yunup.ufile.sign(creds, req), `UCloud pub:${want}`);
});

test('ufile.sign: bad input throws an Error, not a wasm trap', () => {
  const notATrap = (err) => err instanceof Error && !(err instanceof WebAssembly.RuntimeError);
  assert.throws(() => yunup.ufile.sign({ accessKey: 'pub', secretKey: 'priv' }, { method: 'PUT' }), notATrap);
  assert.throws(() => yunup.ufile.sign({}, { method: 'PUT', bucket: 'b', key: 'k' }), notATrap);
});
