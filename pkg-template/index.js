// yunup for browsers and bundlers (Vite, webpack, Rollup, esbuild): call the default export once,
// `await init()`, before anything else. It fetches `browser/yunup_bg.wasm`
// (`new URL("./yunup_bg.wasm", import.meta.url)` in browser/yunup.js, which bundlers copy as an
// asset). That build has hashing, etags and the uploader, and nothing that needs a secret key:
// token minting (`wcs`, `wantu`, `ufile`) and the management classes are in the Node and edge
// entries only.
export * from "./browser/yunup.js";
export { default } from "./browser/yunup.js";
export { YunupError } from "./browser/error.js";
