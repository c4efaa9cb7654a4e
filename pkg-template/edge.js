// yunup for edge runtimes that forbid compiling WebAssembly from bytes at run time (Cloudflare
// Workers / workerd, Vercel Edge): the platform compiles `yunup_bg.wasm` when it deploys the
// worker, and you pass that module in once, at the top level:
//
//   import { initSync } from "yunup";                   // or "yunup/edge"
//   import wasm from "yunup/yunup_bg.wasm";             // a WebAssembly.Module
//   initSync({ module: wasm });
import { initSync as initSyncWith } from "./yunup.js";

export * from "./yunup.js";
export { YunupError } from "./error.js";

function moduleOf(input, name) {
  if (input !== null && typeof input === "object" && Object.getPrototypeOf(input) === Object.prototype) {
    input = input.module ?? input.module_or_path;
  }
  if (input === undefined || input === null) {
    throw new TypeError(
      `yunup (edge): ${name}() needs the precompiled module: ` +
        `import wasm from "yunup/yunup_bg.wasm"; ${name}({ module: wasm })`,
    );
  }
  return { module: input };
}

/** Instantiate synchronously from the precompiled `WebAssembly.Module` (`{ module }` or the module). */
export function initSync(module) {
  return initSyncWith(moduleOf(module, "initSync"));
}

/** `initSync` as a promise, for code shared with the browser entry. */
export default async function init(module) {
  return initSyncWith(moduleOf(await module, "init"));
}
