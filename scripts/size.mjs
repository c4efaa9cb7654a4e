// Sizes of what each entry of the npm package loads: the .wasm and the JS glue, raw, gzip -9 and
// brotli (max quality), as `make size` (and `make bench-quick`) print them.
//
//   node scripts/size.mjs [DIR]     DIR: the assembled package (default target/npm/yunup)
//
// Two bundles:
//   browser  index.js + browser/ (the build without the `server` feature): what a page downloads,
//            and what issue 7 row 5 (goal <= 40 kB gz, next to qiniu-js and wcs-js-sdk, both
//            browser SDKs) measures
//   node     node.js / edge.js + the root build (token minting, management): read from disk or
//            deployed with the worker, never downloaded by a page
//
// Importable: `bundles(dir)` returns the same figures (benches/bench.mjs row 5 uses it).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const measure = (buffers) => {
  const all = Buffer.concat(buffers);
  return {
    raw: all.length,
    gzip: gzipSync(all, { level: 9 }).length,
    brotli: brotliCompressSync(all, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
};

/** The files of one build directory's glue: the entry, error.js, wasm-bindgen's JS and snippets. */
function glueOf(dir, sub, entry) {
  const at = path.join(dir, sub);
  const snippets = existsSync(path.join(at, "snippets"))
    ? readdirSync(path.join(at, "snippets"), { recursive: true })
        .map((f) => path.join(sub, "snippets", String(f)))
        .filter((f) => f.endsWith(".js"))
    : [];
  return [entry, path.join(sub, "error.js"), path.join(sub, "yunup.js"), ...snippets].filter((f) =>
    existsSync(path.join(dir, f)),
  );
}

/** `{ browser, node }`, each `{ wasmFile, glueFiles, wasm, glue, total }` with `{ raw, gzip, brotli }`. */
export function bundles(dir) {
  const read = (f) => readFileSync(path.join(dir, f));
  const bundle = (sub, entry) => {
    const wasmFile = path.join(sub, "yunup_bg.wasm");
    if (!existsSync(path.join(dir, wasmFile))) return null;
    const glueFiles = glueOf(dir, sub, entry);
    const wasm = measure([read(wasmFile)]);
    const glue = measure(glueFiles.map(read));
    const total = Object.fromEntries(Object.keys(wasm).map((k) => [k, wasm[k] + glue[k]]));
    return { wasmFile, glueFiles, wasm, glue, total };
  };
  return { browser: bundle("browser", "index.js"), node: bundle(".", "node.js") };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(root, process.argv[2] ?? "target/npm/yunup");
  const found = bundles(dir);
  if (!found.browser || !found.node) {
    console.error(`size: ${dir}/browser/yunup_bg.wasm or ${dir}/yunup_bg.wasm is missing: run \`make pkg\``);
    process.exit(1);
  }
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const rows = [];
  for (const [name, b] of Object.entries(found)) {
    rows.push([`${name}: ${b.wasmFile}`, b.wasm]);
    rows.push([`${name}: JS glue (${b.glueFiles.length} files: ${b.glueFiles.map((f) => path.basename(f)).join(", ")})`, b.glue]);
    rows.push([`${name}: total`, b.total]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`${"".padEnd(width)}  ${"raw".padStart(10)}  ${"gzip -9".padStart(10)}  ${"brotli".padStart(10)}`);
  for (const [name, s] of rows) {
    console.log(`${name.padEnd(width)}  ${kb(s.raw).padStart(10)}  ${kb(s.gzip).padStart(10)}  ${kb(s.brotli).padStart(10)}`);
  }
  const rel = path.relative(root, dir) || ".";
  for (const [name, b] of Object.entries(found)) {
    console.log(
      `size: ${rel} ${name}: wasm ${b.wasm.gzip} B + JS glue ${b.glue.gzip} B = ${b.total.gzip} B gzipped` +
        (name === "browser" ? " (issue 7 row 5: what a page downloads; goal <= 40000 B)" : " (Node and edge entries)"),
    );
  }
}
