// Shared by the browser tests: the emulator that scripts/with-emulator.sh started, and Chromium
// through playwright-core (Debian's /usr/bin/chromium; never a downloaded browser).
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OUTPUT = path.join(ROOT, "test-output");
mkdirSync(OUTPUT, { recursive: true });

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through scripts/with-emulator.sh (make test does)`);
  return value.replace(/\/$/, "");
}

export const emulator = {
  wcs: env("YUNUP_TEST_WCS"),
  ufile: env("YUNUP_TEST_UFILE"),
  wantu: env("YUNUP_TEST_WANTU"),
  demo: env("YUNUP_TEST_DEMO"),
  accessKey: process.env.YUNUP_TEST_AK ?? "test-ak",
  secretKey: process.env.YUNUP_TEST_SK ?? "test-sk",
};

/** The upload endpoint an Uploader takes for `service` (UFile: path style, bucket included). */
export function endpoint(service, bucket = "public") {
  return service === "ufile" ? `${emulator.ufile}/${bucket}` : emulator[service];
}

const encodeKey = (key) => key.split("/").map(encodeURIComponent).join("/");

/** The stored bytes, through the emulator's download routes: WCS GET {wcs}/{bucket}/{key}, UFile
 *  GET {ufile}/{bucket}/{key}, Wantu GET {wantu}/{namespace}/{key}. */
export async function download(service, key, bucket = "public") {
  const url = `${emulator[service]}/${encodeURIComponent(bucket)}/${encodeKey(key)}`;
  const reply = await fetch(url);
  if (!reply.ok) throw new Error(`GET ${url}: HTTP ${reply.status} ${await reply.text()}`);
  return Buffer.from(await reply.arrayBuffer());
}

export async function setFaults(config) {
  const reply = await fetch(`${emulator.demo}/admin/faults`, { method: "PUT", body: JSON.stringify(config) });
  if (!reply.ok) throw new Error(`PUT /admin/faults: HTTP ${reply.status} ${await reply.text()}`);
}

export async function lastRequest() {
  return (await (await fetch(`${emulator.demo}/admin/requests`)).json()).last;
}

/** Part requests that reached `service` with status 200 since request number `since`. */
export async function partRequests(service, since) {
  const { requests } = await (await fetch(`${emulator.demo}/admin/requests?since=${since}`)).json();
  const isPart = {
    wcs: (r) => r.method === "POST" && r.target.startsWith("/mkblk/"),
    ufile: (r) => r.method === "PUT" && r.target.includes("partNumber="),
    wantu: (r) =>
      r.method === "POST" &&
      (r.target.startsWith("/api/proxy/blockInit") || r.target.startsWith("/api/proxy/blockUpload")),
  }[service];
  return requests.filter((r) => r.service === service && r.status === 200 && isPart(r)).length;
}

/** Deterministic bytes (xorshift32), so a failure can be reproduced. */
export function data(n, seed = 1) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Chromium through playwright-core, from the root's node_modules. */
export async function launchChromium() {
  const require = createRequire(path.join(ROOT, "package.json"));
  const { chromium } = require("playwright-core");
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/** Print the page's console errors and uncaught exceptions: they explain most failures. */
export function watch(page, label) {
  page.on("pageerror", (e) => console.error(`[${label}] page error: ${e.message}`));
  page.on("console", (m) => {
    // (Refused requests are expected in the fault tests; the assertions report what matters.)
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      console.error(`[${label}] console: ${m.text()}`);
    }
  });
}
