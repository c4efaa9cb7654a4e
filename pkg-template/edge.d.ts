/// <reference lib="esnext.disposable" />
// Edge runtimes (Cloudflare Workers / workerd, Vercel Edge): pass the precompiled module once.
export * from "./yunup.js";
import type { InitOutput, YunupError, UploaderConfig } from "./yunup.js";

/** What went wrong, in one word: see `YunupError.kind`. */
export type YunupErrorKind = YunupError["kind"];
/** The services an `Uploader` talks to. */
export type ServiceName = UploaderConfig["service"];

/** Instantiate synchronously from `import wasm from "yunup/yunup_bg.wasm"`. */
export function initSync(module: { module: WebAssembly.Module } | WebAssembly.Module): InitOutput;

/** `initSync` as a promise, for code shared with the browser entry. */
export default function init(
  module: { module: WebAssembly.Module } | WebAssembly.Module | Promise<WebAssembly.Module>,
): Promise<InitOutput>;
