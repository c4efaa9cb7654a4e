// Typed usage of the Node entry ("yunup" under the "node" condition, or "yunup/node").
/** What fs.readFileSync gives (no @types/node here). */
declare function readFileSync(path: string): Uint8Array<ArrayBuffer>;
import init, {
  Uploader,
  UfileManager,
  WcsManager,
  YunupError,
  initSync,
  ufile,
  wantu,
  wcs,
  type Credentials,
  type InitOutput,
  type UploadResult,
  type WantuUploadPolicy,
  type WcsPutPolicy,
} from "yunup";
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
    await uploader.upload(path, { key: "backups/db.tar" }).done; // a path, in Node
    return await uploader.upload(new Blob([readFileSync(path)]), { key: "backups/db.tar", fingerprint: path }).done;
  } catch (err) {
    if (err instanceof explicit.YunupError && err instanceof YunupError) console.error(err.kind, err.status);
    throw err;
  }
}

// Token minting and management: Node (and edge) only; they hold the secret key.
export function backend(): string[] {
  const managers = [new WcsManager({ accessKey: "ak", secretKey: "sk" }, "https://mgr.example.com"), new UfileManager({ accessKey: "ak", secretKey: "sk" }, "https://b.example.com", "b")];
  for (const m of managers) m.free();
  const credentials: Credentials = { accessKey: "ak", secretKey: "sk" };
  const wcsPolicy: WcsPutPolicy = { scope: "bucket:key", deadline: Date.now() + 3600_000, overwrite: 1, returnBody: "{}" };
  const wantuPolicy: WantuUploadPolicy = { namespace: "ns", expiration: -1, dir: "/a", name: "b.jpg", insertOnly: 0 };
  return [
    wcs.uploadToken(credentials, wcsPolicy),
    wcs.managementToken(credentials, "/stat/abc", new Uint8Array()),
    wcs.managementToken(credentials, "/list?bucket=b"),
    wantu.uploadToken(credentials, wantuPolicy),
    ufile.sign(credentials, { method: "PUT", bucket: "b", key: "k", contentType: "image/jpeg" }),
  ];
}

export function misuseBackend(): void {
  // @ts-expect-error: credentials need a secretKey
  wcs.uploadToken({ accessKey: "ak" }, { scope: "b" });
  // @ts-expect-error: a WCS policy needs a scope
  wcs.uploadToken({ accessKey: "ak", secretKey: "sk" }, { deadline: 1 });
}
