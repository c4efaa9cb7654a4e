// Assemble the npm package `yunup` from the two `--target web` builds, pkg/ (default features) and
// pkg-browser/ (without the `server` feature), and pkg-template/:
//
//   node scripts/assemble-pkg.mjs [--web pkg] [--browser pkg-browser] [--out target/npm/yunup]
//
// The result is one directory that `npm pack` turns into the published tarball:
//   yunup.js, yunup.d.ts, yunup_bg.wasm, snippets/   wasm-bindgen's output for the Node and edge
//                                                    entries, unchanged (token minting, management)
//   browser/yunup.js, .d.ts, _bg.wasm, snippets/     the same for the browser entry: no code that
//                                                    needs a secret key, so a smaller download
//   index.js / node.js / edge.js (+ .d.ts)           one entry per runtime (pkg-template/); index.js
//                                                    (browsers, bundlers) loads browser/
//   error.js, browser/error.js                       re-export each build's YunupError class
//                                                    (generated: the snippet directory's name is a hash)
//   wasm.d.ts, package.json, README.md               from pkg-template/, package.json merged with
//                                                    the name/version/description/license that
//                                                    wasm-pack took from Cargo.toml
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return path.resolve(root, i > 0 ? process.argv[i + 1] : fallback);
};
const web = arg("--web", "pkg");
const browser = arg("--browser", "pkg-browser");
const out = arg("--out", "target/npm/yunup");
const template = path.join(root, "pkg-template");

const fail = (message) => {
  console.error(`assemble-pkg: ${message}`);
  process.exit(1);
};
for (const dir of [web, browser]) {
  for (const f of ["yunup.js", "yunup.d.ts", "yunup_bg.wasm", "package.json"]) {
    if (!existsSync(path.join(dir, f))) fail(`${path.join(dir, f)} is missing: run \`make pkg\` (wasm-pack --target web)`);
  }
  if (!readFileSync(path.join(dir, "yunup.js"), "utf8").includes("export { initSync, __wbg_init as default }")) {
    fail(`${dir}/yunup.js is not a --target web build (no initSync/default init export)`);
  }
}
// The browser build is the one without the `server` feature; the other one has it.
const serverOnly = ["WcsManager", "UfileManager", "class wcs", "class wantu", "class ufile"];
const browserGlue = readFileSync(path.join(browser, "yunup.js"), "utf8");
const webGlue = readFileSync(path.join(web, "yunup.js"), "utf8");
for (const name of serverOnly) {
  if (browserGlue.includes(name)) fail(`${browser}/yunup.js has ${name}: build it with --no-default-features`);
  if (!webGlue.includes(name)) fail(`${web}/yunup.js lacks ${name}: build it with the default features`);
}

// Only this directory is replaced; nothing else under target/ is touched.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// Each build's YunupError class lives in its wasm-bindgen inline snippet,
// snippets/yunup-<hash>/inline0.js. The glue imports it from there too, so this is the very class
// errorClass() returns (the browser entry's class is the browser build's).
const copyBuild = (from, to) => {
  mkdirSync(to, { recursive: true });
  for (const f of ["yunup.js", "yunup.d.ts", "yunup_bg.wasm"]) cpSync(path.join(from, f), path.join(to, f));
  cpSync(path.join(from, "snippets"), path.join(to, "snippets"), { recursive: true });
  const snippet = readdirSync(path.join(to, "snippets"), { recursive: true })
    .map((f) => path.join("snippets", String(f)))
    .find((f) => f.endsWith(".js") && readFileSync(path.join(to, f), "utf8").includes("class YunupError"));
  if (!snippet) fail(`no snippet in ${from} defines class YunupError (src/js.rs changed?)`);
  writeFileSync(
    path.join(to, "error.js"),
    `// The class that errorClass() returns, importable before init().\n` +
      `export { YunupError } from "./${snippet.split(path.sep).join("/")}";\n`,
  );
};
copyBuild(web, out);
copyBuild(browser, path.join(out, "browser"));

const tpl = JSON.parse(readFileSync(path.join(template, "package.json"), "utf8"));
for (const f of readdirSync(template)) {
  if (f !== "package.json") cpSync(path.join(template, f), path.join(out, f));
}

const generated = JSON.parse(readFileSync(path.join(web, "package.json"), "utf8"));
const pkg = {
  name: generated.name,
  version: generated.version,
  description: generated.description,
  license: generated.license,
  ...(generated.repository ? { repository: generated.repository } : {}),
  ...Object.fromEntries(Object.entries(tpl).filter(([k]) => !k.startsWith("//"))),
};
writeFileSync(path.join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");

// Everything `files` names must exist, and every entry the exports map points at must be listed.
const shipped = new Set(pkg.files.map((f) => f.replace(/\/$/, "")));
const leaves = (v) => (typeof v === "string" ? [v] : Object.values(v).flatMap(leaves));
const targets = leaves(pkg.exports).map((t) => t.replace(/^\.\//, ""));
for (const t of targets) {
  if (!existsSync(path.join(out, t))) fail(`exports points at ${t}, which is missing`);
  const listed = (f) => shipped.has(f) || (f.includes("/") && listed(f.slice(0, f.lastIndexOf("/"))));
  if (t !== "package.json" && !listed(t)) fail(`exports points at ${t}, which "files" does not list`);
}
for (const f of shipped) if (!existsSync(path.join(out, f))) fail(`"files" lists ${f}, which is missing`);
console.log(
  `assemble-pkg: ${path.relative(root, out)}/ (${pkg.name}@${pkg.version}) from ${path.relative(root, web)}/ + ` +
    `${path.relative(root, browser)}/ + pkg-template/`,
);
