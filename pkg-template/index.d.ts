/// <reference lib="esnext.disposable" />
// Browsers and bundlers: `await init()` once, then use the exports.
// (The lib reference: the classes declare `[Symbol.dispose]`, so that no project needs "ESNext" in
// its `lib` to compile against these types.)
export * from "./yunup.js";
export { default } from "./yunup.js";
import type { YunupError, UploaderConfig } from "./yunup.js";

/** What went wrong, in one word: see `YunupError.kind`. */
export type YunupErrorKind = YunupError["kind"];
/** The services an `Uploader` talks to. */
export type ServiceName = UploaderConfig["service"];
