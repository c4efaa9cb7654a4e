// The npm package as users get it: `npm pack` of the assembled package (target/npm/yunup, made by
// `make pkg`), installed from the tarball into a scratch project (target/npm/consumer), then
//   - type-checked with tsc --strict (typed usage of every entry),
//   - imported in plain Node, which uploads a file to every service,
//   - bundled by Vite into a page that uploads in Chromium,
//   - bundled for workerd into a worker that mints tokens and forwards a request body stream.
// Runs next to the emulator that scripts/with-emulator.sh started.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, data, download, emulator, endpoint, launchChromium, watch } from "../e2e/lib.mjs";

const PKG = path.join(ROOT, "target", "npm", "yunup");
const WORK = path.join(ROOT, "target", "npm");
const CONSUMER = path.join(WORK, "consumer");
const BIN = path.join(ROOT, "node_modules", ".bin");
const MiB = 1024 * 1024;

const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function waitForHttp(url, child, log) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${log()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer:\n${log()}`);
}

let tarball;
let packed;

before(() => {
  assert.ok(existsSync(path.join(PKG, "package.json")), `${PKG} is missing: run \`make pkg\``);
  // Only target/npm/consumer and the tarball are replaced; nothing else under target/.
  rmSync(CONSUMER, { recursive: true, force: true });
  for (const f of readdirSync(WORK)) if (f.endsWith(".tgz")) rmSync(path.join(WORK, f));
  [packed] = JSON.parse(run("npm", ["pack", PKG, "--json", "--pack-destination", WORK, "--loglevel=error"]));
  tarball = path.join(WORK, packed.filename);
  cpSync(path.join(ROOT, "tests", "npm", "consumer"), CONSUMER, { recursive: true });
  writeFileSync(
    path.join(CONSUMER, "package.json"),
    JSON.stringify(
      { name: "yunup-consumer", private: true, type: "module", dependencies: { yunup: `file:../${packed.filename}` } },
      null,
      2,
    ),
  );
  // No registry needed: the tarball has no dependencies.
  run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--offline", "--loglevel=error"], {
    cwd: CONSUMER,
  });
});

describe("the tarball", () => {
  it("ships exactly the package files", () => {
    const files = packed.files.map((f) => f.path.replace(/snippets\/yunup-[0-9a-f]+\//, "snippets/yunup-HASH/")).sort();
    assert.deepEqual(files, [
      "README.md",
      "browser/error.js",
      "browser/snippets/yunup-HASH/inline0.js",
      "browser/snippets/yunup-HASH/inline1.js",
      "browser/yunup.d.ts",
      "browser/yunup.js",
      "browser/yunup_bg.wasm",
      "edge.d.ts",
      "edge.js",
      "error.js",
      "index.d.ts",
      "index.js",
      "node.d.ts",
      "node.js",
      "package.json",
      "snippets/yunup-HASH/inline0.js",
      "snippets/yunup-HASH/inline1.js",
      "wasm.d.ts",
      "yunup.d.ts",
      "yunup.js",
      "yunup_bg.wasm",
    ]);
    const pkg = JSON.parse(readFileSync(path.join(CONSUMER, "node_modules", "yunup", "package.json"), "utf8"));
    assert.equal(pkg.type, "module");
    assert.equal(pkg.sideEffects, false);
    assert.equal(pkg.exports["."].node.default, "./node.js");
    assert.equal(pkg.exports["."].workerd.default, "./edge.js");
    assert.equal(pkg.exports["."].default.default, "./index.js");
    const wasm = readFileSync(path.join(CONSUMER, "node_modules", "yunup", "yunup_bg.wasm"));
    console.log(`tarball ${packed.filename}: ${packed.size} bytes; yunup_bg.wasm ${wasm.length} bytes, ${gzipSync(wasm, { level: 9 }).length} gzipped`);
  });
});

describe("TypeScript", () => {
  it("tsc --strict accepts the typed usage of every entry and rejects the misuse", () => {
    const tsc = path.join(BIN, "tsc");
    const types = path.join(CONSUMER, "types");
    for (const project of ["tsconfig.json", "tsconfig.bundler.json"]) {
      try {
        run(tsc, ["-p", path.join(types, project)], { cwd: types });
      } catch (err) {
        assert.fail(`tsc -p ${project}:\n${err.stdout}${err.stderr}`);
      }
    }
  });
});

describe("plain Node", () => {
  it("imports the package and uploads a file to every service", async () => {
    const file = path.join(CONSUMER, "node-upload.bin");
    const bytes = data(9 * MiB + 17, 11);
    writeFileSync(file, bytes);
    let out;
    try {
      out = run(process.execPath, ["node-upload.mjs", file], { cwd: CONSUMER, env: process.env });
    } catch (err) {
      assert.fail(`node node-upload.mjs:\n${err.stdout}${err.stderr}`);
    }
    const results = out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(results.map((r) => r.service), ["wcs", "ufile", "wantu"]);
    for (const r of results) {
      assert.match(r.resolved, /node_modules\/yunup\/node\.js$/, "the exports map's node entry");
      assert.equal(r.size, bytes.length);
      assert.equal(r.etag.toLowerCase(), r.localEtag.toLowerCase());
      assert.ok(r.progressReports > 2);
      assert.ok((await download(r.service, r.key)).equals(bytes), `${r.service}: the server's bytes differ`);
    }
  });
});

describe("a page bundled by Vite, in Chromium", () => {
  let server;
  let browser;
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("builds, loads the wasm asset and uploads to every service", async () => {
    const { build, preview } = await import(path.join(ROOT, "node_modules", "vite", "dist", "node", "index.js"));
    const root = path.join(CONSUMER, "web");
    await build({ root, configFile: false, logLevel: "warn", build: { outDir: "dist", emptyOutDir: true } });
    const assets = readdirSync(path.join(root, "dist", "assets"));
    const wasm = assets.find((f) => /^yunup_bg.*\.wasm$/.test(f));
    assert.ok(wasm, `Vite emitted the .wasm asset: ${assets.join(", ")}`);
    const js = assets.filter((f) => f.endsWith(".js"));
    const jsBytes = js.reduce((s, f) => s + readFileSync(path.join(root, "dist", "assets", f)).length, 0);
    const jsGz = js.reduce((s, f) => s + gzipSync(readFileSync(path.join(root, "dist", "assets", f)), { level: 9 }).length, 0);
    console.log(`vite bundle: ${js.join(", ")} ${jsBytes} bytes (${jsGz} gzipped) + ${wasm}`);

    const port = await freePort();
    server = await preview({ root, configFile: false, logLevel: "warn", preview: { port, strictPort: true, host: "127.0.0.1" } });
    browser = await launchChromium();
    const page = await browser.newPage();
    watch(page, "vite");
    const size = 9 * MiB + 5;
    const query = new URLSearchParams({ ...emulator, size: String(size) });
    await page.goto(`http://127.0.0.1:${port}/?${query}`);
    await page.waitForSelector("body[data-done]", { timeout: 60_000 });
    const log = await page.$eval("#log", (e) => e.textContent);
    assert.equal(await page.getAttribute("body", "data-done"), "ok", log);
    const results = await page.evaluate(() => window.results);
    const bytes = data(size, 7);
    const local = results.pop();
    for (const r of results) {
      assert.equal(r.size, size);
      assert.equal(r.lastFraction, 1);
      assert.equal(r.etag.toLowerCase(), r.localEtag.toLowerCase());
      if (r.service === "wcs" || r.service === "ufile") assert.equal(r.etag, local[r.service], "etag() agrees");
      assert.ok((await download(r.service, r.key)).equals(bytes), `${r.service}: the server's bytes differ`);
    }
  });
});

describe("an edge worker in workerd", () => {
  let workerd;
  let base;
  let output = "";

  before(async () => {
    const { build } = await import(path.join(ROOT, "node_modules", "vite", "dist", "node", "index.js"));
    const root = path.join(CONSUMER, "worker");
    // As Wrangler does: the "workerd" export condition, one ES module, and the .wasm import left
    // to the runtime, which provides it as a precompiled WebAssembly.Module.
    await build({
      root,
      configFile: false,
      logLevel: "warn",
      resolve: { conditions: ["workerd", "worker", "browser"] },
      ssr: { noExternal: true, target: "webworker", resolve: { conditions: ["workerd", "worker", "browser"], externalConditions: ["workerd", "worker"] } },
      plugins: [
        {
          name: "wasm-module-import",
          enforce: "pre",
          resolveId: (id) => (id.endsWith(".wasm") ? { id: "./yunup_bg.wasm", external: true } : null),
        },
      ],
      build: {
        ssr: "worker.js",
        outDir: "dist",
        emptyOutDir: true,
        target: "esnext",
        minify: false,
        rollupOptions: { output: { entryFileNames: "worker.js", format: "es" } },
      },
    });
    const dist = path.join(root, "dist");
    const bundle = readFileSync(path.join(dist, "worker.js"), "utf8");
    assert.match(bundle, /import \w+ from ["']\.\/yunup_bg\.wasm["']/, "the .wasm import stays for the runtime");
    assert.doesNotMatch(bundle, /node:fs/, "not the Node entry");
    cpSync(path.join(CONSUMER, "node_modules", "yunup", "yunup_bg.wasm"), path.join(dist, "yunup_bg.wasm"));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const text = (name, value) => `(name = "${name}", text = "${value}")`;
    writeFileSync(
      path.join(dist, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The emulator is on loopback, which the default outbound network refuses.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "yunup_bg.wasm", wasm = embed "yunup_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
  bindings = [
    ${text("ACCESS_KEY", emulator.accessKey)}, ${text("SECRET_KEY", emulator.secretKey)}, ${text("BUCKET", "public")},
    ${text("WCS", emulator.wcs)}, ${text("UFILE", emulator.ufile)}, ${text("WANTU", emulator.wantu)},
  ],
);
`,
    );
    workerd = spawn(path.join(BIN, "workerd"), ["serve", path.join(dist, "config.capnp")], { stdio: ["ignore", "pipe", "pipe"] });
    workerd.stdout.on("data", (d) => (output += d));
    workerd.stderr.on("data", (d) => (output += d));
    await waitForHttp(`${base}/`, workerd, () => output);
  });

  after(() => {
    workerd?.kill();
  });

  it("mints upload tokens that the services accept", async () => {
    const { Uploader } = await import(path.join(CONSUMER, "node_modules", "yunup", "node.js"));
    for (const service of ["wcs", "wantu"]) {
      const key = `npm/edge/token-${service}.txt`;
      const reply = await fetch(`${base}/token/${service}?key=${encodeURIComponent(key)}`);
      const body = await reply.json();
      assert.equal(reply.status, 200, JSON.stringify(body) + output);
      assert.ok(body.token.length > 20);
      const bytes = new TextEncoder().encode(`minted at the edge for ${service}`);
      const result = await new Uploader({ service, endpoint: endpoint(service), bucket: "public", token: body.token })
        .upload(bytes, { key }).done;
      assert.equal(result.size, bytes.length);
      assert.ok((await download(service, key)).equals(Buffer.from(bytes)));
    }
  });

  it("manages Wantu files: its signed Date header goes out from workerd", async () => {
    const bytes = new TextEncoder().encode("a file to ask the manage API about");
    const key = "npm/edge/info-wantu.txt";
    const put = await fetch(`${base}/upload/wantu?key=${encodeURIComponent(key)}`, { method: "POST", body: bytes });
    assert.equal(put.status, 200, (await put.text()) + output);
    const info = await fetch(`${base}/wantu/info?key=${encodeURIComponent(key)}`);
    const file = await info.json();
    assert.equal(info.status, 200, JSON.stringify(file) + output);
    assert.equal(file.key, key);
    assert.equal(file.fileSize, bytes.length);
    assert.equal(file.eTag, createHash("md5").update(bytes).digest("hex").toUpperCase());
    const none = await fetch(`${base}/wantu/info?key=npm/edge/none.txt`);
    assert.equal(none.status, 200, output);
    assert.equal(await none.json(), null);
  });

  it("forwards a request body stream to every service as a multipart upload", async () => {
    for (const [i, service] of ["wcs", "ufile", "wantu"].entries()) {
      const bytes = data(9 * MiB + 123, 20 + i);
      const key = `npm/edge/stream-${service}.bin`;
      // Sent in chunks, without a Content-Length: the worker sees a stream of unknown length.
      const body = new ReadableStream({
        start(controller) {
          for (let o = 0; o < bytes.length; o += 256 * 1024) controller.enqueue(bytes.subarray(o, o + 256 * 1024));
          controller.close();
        },
      });
      const reply = await fetch(`${base}/upload/${service}?key=${encodeURIComponent(key)}`, { method: "POST", body, duplex: "half" });
      const result = await reply.json();
      assert.equal(reply.status, 200, `${service}: ${JSON.stringify(result)}\n${output}`);
      assert.equal(result.size, bytes.length);
      assert.equal(result.etag.toLowerCase(), result.localEtag.toLowerCase());
      assert.ok((await download(service, key)).equals(bytes), `${service}: the server's bytes differ`);
    }
  });
});
