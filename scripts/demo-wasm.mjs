// `make demo`: the same answers from the release wasm build (pkg-node/) as from the native CLI.
//   node scripts/demo-wasm.mjs FILE
import { openAsBlob, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { etag, wcs } = require('../pkg-node/yunup.js');

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/demo-wasm.mjs FILE');
  process.exit(2);
}
// A file-backed Blob (read in 4 MiB slices by etag()), as a browser File would be.
const blob = typeof openAsBlob === 'function' ? await openAsBlob(file) : new Blob([readFileSync(file)]);

console.log(`await etag(blob, "wcs")    -> ${await etag(blob, 'wcs')}`);
console.log(`await etag(blob, "ufile")  -> ${await etag(blob, 'ufile')}`);
const credentials = { accessKey: process.env.YUNUP_ACCESS_KEY, secretKey: process.env.YUNUP_SECRET_KEY };
const token = wcs.uploadToken(credentials, { scope: 'demo-bucket:hello.bin' });
console.log(`wcs.uploadToken(credentials, { scope: "demo-bucket:hello.bin" }) -> ${token}`);
