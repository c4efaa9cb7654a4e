// Typed usage of the Node entry ("yunup" under the "node" condition, or "yunup/node").
/** What fs.readFileSync gives (no @types/node here). */
declare function readFileSync(path: string): Uint8Array<ArrayBuffer>;
import init, { Uploader, YunupError, initSync, type InitOutput, type UploadResult } from "yunup";
import * as explicit from "yunup/node";

export async function node(path: string): Promise<UploadResult> {
  const ready: InitOutput = await init(); // already instantiated on import; resolves at once
  initSync();
  await init(new URL("./yunup_bg.wasm", import.meta.url));
  await init("/opt/app/node_modules/yunup/yunup_bg.wasm");
  explicit.initSync({ module: new Uint8Array(readFileSync(path)) });
  console.log(ready.memory.buffer.byteLength);
  const uploader = new Uploader({ service: "ufile", endpoint: "http://bucket.cn-bj.ufileos.com", bucket: "bucket", tokenUrl: "http://localhost:8080" });
  try {
    return await uploader.upload(new Blob([readFileSync(path)]), { key: "backups/db.tar", fingerprint: path }).done;
  } catch (err) {
    if (err instanceof explicit.YunupError && err instanceof YunupError) console.error(err.kind, err.status);
    throw err;
  }
}
