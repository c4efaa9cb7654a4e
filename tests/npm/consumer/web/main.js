// A page bundled by Vite from the installed tarball: `import ... from "yunup"` resolves to the
// browser entry, and Vite copies yunup_bg.wasm as an asset (new URL(..., import.meta.url)).
// The test passes the emulator's URLs in the query string and reads window.results.
import init, { Uploader, YunupError, errorClass, etag } from "yunup";

const params = new URLSearchParams(location.search);
const log = (line) => (document.querySelector("#log").textContent += `${line}\n`);

/** The same deterministic bytes the test makes (xorshift32). */
function data(n, seed) {
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

async function run() {
  await init();
  if (errorClass() !== YunupError) throw new Error("YunupError is not the class errorClass() returns");
  const file = new File([data(Number(params.get("size")), 7)], "vite.bin", { type: "application/octet-stream" });
  const results = [];
  for (const service of ["wcs", "ufile", "wantu"]) {
    const endpoint = service === "ufile" ? `${params.get("ufile")}/public` : params.get(service);
    const uploader = new Uploader({ service, endpoint, bucket: "public", tokenUrl: params.get("demo") });
    let last = 0;
    const result = await uploader.upload(file, {
      key: `npm/vite/${service}.bin`,
      onProgress: (p) => (last = p.fraction ?? last),
    }).done;
    log(`${service}: ${result.key} ${result.size} bytes, etag ${result.etag} (progress ${last})`);
    results.push({ ...result, lastFraction: last });
  }
  results.push({ service: "local", wcs: await etag(file, "wcs"), ufile: await etag(file, "ufile") });
  return results;
}

run().then(
  (results) => {
    window.results = results;
    document.body.dataset.done = "ok";
  },
  (err) => {
    log(`failed: ${err instanceof YunupError ? `${err.kind} ` : ""}${err.message}`);
    document.body.dataset.done = "failed";
  },
);
