// `import wasm from "yunup/yunup_bg.wasm"`: what edge bundlers (Wrangler, Vercel) hand you.
declare const module: WebAssembly.Module;
export default module;
