/// <reference lib="esnext.disposable" />
// Browsers and bundlers: `await init()` once, then use the exports. No token minting or
// management here (they need the secret key): those are in the Node and edge entries.
// (The lib reference: the classes declare `[Symbol.dispose]`, so that no project needs "ESNext" in
// its `lib` to compile against these types.)
export * from "./browser/yunup.js";
export { default } from "./browser/yunup.js";
import type { YunupError, UploaderConfig } from "./browser/yunup.js";

/** What went wrong, in one word: see `YunupError.kind`. */
export type YunupErrorKind = YunupError["kind"];
/** The services an `Uploader` talks to. */
export type ServiceName = UploaderConfig["service"];
