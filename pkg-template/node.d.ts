/// <reference lib="esnext.disposable" />
// Node >= 18: instantiated on import; `await init()` is optional and cheap.
export * from "./yunup.js";
import type { InitOutput, SyncInitInput, YunupError, UploaderConfig } from "./yunup.js";

/** What went wrong, in one word: see `YunupError.kind`. */
export type YunupErrorKind = YunupError["kind"];
/** The services an `Uploader` talks to. */
export type ServiceName = UploaderConfig["service"];

/** Instantiate synchronously. Without an argument, from the `yunup_bg.wasm` shipped next to the
 *  module (already done on import). */
export function initSync(module?: { module: SyncInitInput } | SyncInitInput): InitOutput;

/** What `init` accepts in Node: a file path or `URL` to read, bytes, a compiled module, or a
 *  `Response`. */
export type NodeInitInput = string | URL | BufferSource | WebAssembly.Module | Response;

/** Instantiate once (already done on import, so this resolves at once). */
export default function init(
  input?:
    | { module_or_path: NodeInitInput | Promise<NodeInitInput> }
    | NodeInitInput
    | Promise<NodeInitInput>,
): Promise<InitOutput>;
