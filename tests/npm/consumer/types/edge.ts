// Typed usage of the edge entry ("yunup/edge"; "yunup" under the "workerd" / "edge-light"
// conditions) with the precompiled module an edge bundler hands over.
import init, { initSync, wcs, ufile, Uploader, type TokenRequest, type InitOutput } from "yunup/edge";
import wasm from "yunup/yunup_bg.wasm";

const module: WebAssembly.Module = wasm;
const output: InitOutput = initSync({ module });
initSync(wasm);
void init(wasm);
void init({ module: wasm });
// @ts-expect-error: the module is required
void init();

export default {
  async fetch(request: Request, env: { AK: string; SK: string }): Promise<Response> {
    const credentials = { accessKey: env.AK, secretKey: env.SK };
    const token: string = wcs.uploadToken(credentials, { scope: "bucket:key" });
    const getToken = (r: TokenRequest): string =>
      r.kind === "ufile-signature" ? ufile.sign(credentials, r) : wcs.uploadToken(credentials, { scope: `${r.bucket}:${r.key}` });
    const uploader = new Uploader({ service: "wcs", endpoint: "https://up.example.com", bucket: "bucket", getToken });
    if (request.body) await uploader.upload(request.body, { key: "k" }).done;
    return Response.json({ token, memory: output.memory.buffer.byteLength });
  },
};
