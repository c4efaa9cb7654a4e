// Sizes of what a browser downloads from the npm package: the .wasm and the JS glue, raw, gzip -9
// and brotli (max quality), as `make size` (and `make bench-quick`) print them.
//
//   node scripts/size.mjs [DIR]     DIR: the assembled package (default target/npm/yunup)
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.resolve(root, process.argv[2] ?? "target/npm/yunup");
if (!existsSync(path.join(dir, "yunup_bg.wasm"))) {
  console.error(`size: ${dir}/yunup_bg.wasm is missing: run \`make pkg\``);
  process.exit(1);
}
const read = (f) => readFileSync(path.join(dir, f));
const snippets = readdirSync(path.join(dir, "snippets"), { recursive: true })
  .map((f) => path.join("snippets", String(f)))
  .filter((f) => f.endsWith(".js"));
const glue = ["index.js", "error.js", "yunup.js", ...snippets].filter((f) => existsSync(path.join(dir, f)));

const measure = (buffers) => {
  const all = Buffer.concat(buffers);
  return {
    raw: all.length,
    gzip: gzipSync(all, { level: 9 }).length,
    brotli: brotliCompressSync(all, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
};
const rows = [
  ["yunup_bg.wasm", measure([read("yunup_bg.wasm")])],
  [`JS glue (${glue.length} files: ${glue.map((f) => path.basename(f)).join(", ")})`, measure(glue.map(read))],
];
rows.push(["total", { raw: rows[0][1].raw + rows[1][1].raw, gzip: rows[0][1].gzip + rows[1][1].gzip, brotli: rows[0][1].brotli + rows[1][1].brotli }]);

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`${"".padEnd(width)}  ${"raw".padStart(10)}  ${"gzip -9".padStart(10)}  ${"brotli".padStart(10)}`);
for (const [name, s] of rows) {
  console.log(`${name.padEnd(width)}  ${kb(s.raw).padStart(10)}  ${kb(s.gzip).padStart(10)}  ${kb(s.brotli).padStart(10)}`);
}
console.log(`size: ${path.relative(root, dir) || "."}: wasm ${rows[0][1].gzip} B gzipped, JS glue ${rows[1][1].gzip} B gzipped`);
