// yunup for Node >= 18: the module is read from disk and instantiated when this file is imported,
// so everything works right after `import`. `await init()` is still there (and cheap), which keeps
// code portable and survives bundlers that drop modules they think have no side effects.
import { readFileSync } from "node:fs";
import initWith, { initSync as initSyncWith } from "./yunup.js";

export * from "./yunup.js";
export { YunupError } from "./error.js";

const wasmUrl = new URL("./yunup_bg.wasm", import.meta.url);

const unwrap = (input, ...names) =>
  input !== null && typeof input === "object" && Object.getPrototypeOf(input) === Object.prototype
    ? names.map((n) => input[n]).find((v) => v !== undefined)
    : input;

/** Instantiate synchronously; without an argument, from the `yunup_bg.wasm` next to this file. */
export function initSync(module) {
  const m = unwrap(module, "module");
  return initSyncWith({ module: m === undefined ? readFileSync(wasmUrl) : m });
}

/** Instantiate (once). Without an argument, from the `yunup_bg.wasm` next to this file; a path or
 *  `URL` is read from disk; bytes, a `WebAssembly.Module` or a `Response` are used as they are. */
export default async function init(input) {
  const m = await unwrap(input, "module_or_path", "module");
  if (m === undefined) return initSync();
  if (typeof m === "string" || m instanceof URL) return initSync({ module: readFileSync(m) });
  return initWith({ module_or_path: m });
}

initSync();
