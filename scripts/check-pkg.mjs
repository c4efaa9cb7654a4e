// Load both release builds after wasm-opt and print their sizes: a module that wasm-opt broke
// fails here (at instantiation), not later in a user's bundle.
//
//   pkg-node/  --target nodejs  CommonJS, instantiates itself on require()
//   pkg/       --target web     ES module, instantiated here with initSync()
//   pkg-browser/ --target web without the `server` feature (the browser entry), likewise
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function size(file) {
  const bytes = readFileSync(file);
  return `${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`;
}

const nodePkg = require(path.join(root, 'pkg-node', 'yunup.js'));
console.log(`pkg-node/yunup_bg.wasm loads (${size(path.join(root, 'pkg-node', 'yunup_bg.wasm'))}); exports: ${
  Object.keys(nodePkg).sort().join(', ') || '(none yet)'}`);

for (const dir of ['pkg', 'pkg-browser']) {
  const web = await import(pathToFileURL(path.join(root, dir, 'yunup.js')).href);
  web.initSync({ module: readFileSync(path.join(root, dir, 'yunup_bg.wasm')) });
  if (web.sha1(new TextEncoder().encode('abc')) !== 'a9993e364706816aba3e25717850c26c9cd0d89d') {
    throw new Error(`${dir}/yunup_bg.wasm computes a wrong SHA-1`);
  }
  console.log(`${dir}/yunup_bg.wasm loads (${size(path.join(root, dir, 'yunup_bg.wasm'))}) and ${dir}/yunup.js is an ES module`);
}
