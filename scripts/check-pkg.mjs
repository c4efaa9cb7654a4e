// Load both release builds after wasm-opt and print their sizes: a module that wasm-opt broke
// fails here (at instantiation), not later in a user's bundle.
//
//   pkg-node/  --target nodejs  CommonJS, instantiates itself on require()
//   pkg/       --target web     ES module, instantiated here with initSync()
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

const web = await import(pathToFileURL(path.join(root, 'pkg', 'yunup.js')).href);
web.initSync({ module: readFileSync(path.join(root, 'pkg', 'yunup_bg.wasm')) });
console.log(`pkg/yunup_bg.wasm loads (${size(path.join(root, 'pkg', 'yunup_bg.wasm'))}) and pkg/yunup.js is an ES module`);
