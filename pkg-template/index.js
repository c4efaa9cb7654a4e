// yunup for browsers and bundlers (Vite, webpack, Rollup, esbuild): call the default export once,
// `await init()`, before anything else. It fetches `yunup_bg.wasm` next to this file
// (`new URL("./yunup_bg.wasm", import.meta.url)`, which bundlers copy as an asset).
export * from "./yunup.js";
export { default } from "./yunup.js";
export { YunupError } from "./error.js";
