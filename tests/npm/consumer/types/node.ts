// Typed usage of the Node entry ("yunup" under the "node" condition, or "yunup/node").
/** What fs.readFileSync gives (no @types/node here). */
declare function readFileSync(path: string): Uint8Array<ArrayBuffer>;
import init, {
  Uploader,
  UfileManager,
  WantuManager,
  WcsManager,
  YunupError,
  initSync,
  ufile,
  wantu,
  wcs,
  type Credentials,
  type InitOutput,
  type UfileListPage,
  type UfileListQuery,
  type UfileObjectInfo,
  type UfileRange,
  type UploadResult,
  type WcsFmgrTask,
  type WcsJobStatus,
  type WcsListPage,
  type WcsObjectRef,
  type WcsObjectStat,
  type WantuFile,
  type WantuFolder,
  type WantuListQuery,
  type WantuPage,
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

export async function manage(): Promise<number> {
  const credentials: Credentials = { accessKey: "ak", secretKey: "sk" };
  const wcsManager = new WcsManager(credentials, "https://mgr.example.com");
  const page: WcsListPage = await wcsManager.list({ bucket: "b", prefix: "photos/", mode: 0, limit: 100 });
  const stat: WcsObjectStat = await wcsManager.stat("b", page.items[0]?.key ?? "k");
  const ufileManager = new UfileManager(credentials, "https://b.example.com", "b", { idleTimeoutMs: 30_000 });
  // @ts-expect-error: idleTimeoutMs is a number of ms
  new WcsManager(credentials, "https://mgr.example.com", { idleTimeoutMs: "30s" });
  const head: UfileObjectInfo | null = await ufileManager.head("k");
  const range: UfileRange = await ufileManager.fetchRange("k", 0, 99);
  wcs.managementToken(credentials, "/fmgr/fops", "fops=x&notifyURL=y");
  wcs.managementToken(credentials, "/fmgr/fops", new Uint8Array().buffer);
  // @ts-expect-error: mode is 0 (files first) or 1 (directories first)
  await wcsManager.list({ bucket: "b", mode: 2 });
  // @ts-expect-error: a key is a string
  await ufileManager.head(42);
  const from: WcsObjectRef = { bucket: "b", key: "a.jpg" };
  await wcsManager.copy(from, { bucket: "backup", key: "a.jpg" });
  await wcsManager.move(from, { bucket: "b", key: "old/a.jpg" });
  await wcsManager.setDeadline("b", "old/a.jpg", 30, { relevance: false });
  await wcsManager.setDeadline("b", "old/a.jpg", -1);
  // @ts-expect-error: copy takes { bucket, key } objects, not "bucket:key"
  await wcsManager.copy("b:a.jpg", "b:c.jpg");
  const buckets: { name: string }[] = await wcsManager.buckets();
  const listed: UfileListPage = await ufileManager.list({ prefix: "photos/", delimiter: "/", limit: 10 });
  const query: UfileListQuery = { marker: listed.marker };
  await ufileManager.list(query);
  await ufileManager.list();
  // @ts-expect-error: limit is a number
  await ufileManager.list({ limit: "10" });
  const sizes = listed.items.reduce((n, item) => n + (item.size ?? 0), 0);

  // Background jobs, and a manager whose calls one signal aborts.
  const controller = new AbortController();
  const perRequest = new WcsManager(credentials, "https://mgr.example.com", { signal: controller.signal });
  const tasks: WcsFmgrTask[] = [
    { op: "copy", from, toBucket: "backup", toKey: "a.jpg" },
    { op: "copy", from: { bucket: "b", key: "c.jpg" }, toBucket: "backup" },
  ];
  const copyJob: string = await perRequest.fmgr(tasks, { notifyUrl: "https://example.com/done" });
  await wcsManager.fmgr([{ op: "compress", bucket: "b", keys: ["photos/"], into: { bucket: "b", key: "p.zip" } }]);
  await wcsManager.fmgr([{ op: "setDeadline", bucket: "b", prefix: "tmp", days: 7 }]);
  // @ts-expect-error: a fetch task needs a url
  await wcsManager.fmgr([{ op: "fetch", bucket: "b" }]);
  // @ts-expect-error: no such operation
  await wcsManager.fmgr([{ op: "rename", bucket: "b", key: "k" }]);
  const fopsJob: string = await wcsManager.fops("b", "v.mp4", "avthumb/mp4|saveas/YjpvLm1wNA==", { force: true });
  const status: WcsJobStatus = await wcsManager.jobStatus("fmgr", copyJob);
  const finished: WcsJobStatus = await wcsManager.waitJob("fops", fopsJob, { intervalMs: 500, timeoutMs: 60_000 });
  const failed = finished.items.filter((item) => item.code === 2).length + (status.finished ? 0 : 1);
  // @ts-expect-error: the kind is "fmgr" or "fops"
  await wcsManager.jobStatus("job", copyJob);
  controller.abort();

  // Wantu: files by key, folders by path, listings by page number.
  const wantuManager = new WantuManager(credentials, "https://rs.media.aliyun.com", "ns", { signal: controller.signal });
  const exists: boolean = await wantuManager.fileExists("a/b.jpg");
  const info: WantuFile | null = await wantuManager.fileInfo("a/b.jpg");
  const renamed: WantuFile = await wantuManager.rename("a/b.jpg", "a/c.jpg");
  await wantuManager.deleteFile(renamed.key);
  let next: number | undefined = 1;
  while (next !== undefined) {
    const query: WantuListQuery = { dir: "/a", page: next, pageSize: 100 };
    const files: WantuPage<WantuFile> = await wantuManager.listFiles(query);
    next = files.nextPage;
  }
  await wantuManager.createFolder("a/d");
  const folders: WantuPage<WantuFolder> = await wantuManager.listFolders();
  const folderThere: boolean = await wantuManager.folderExists(folders.items[0]?.dir ?? "/");
  await wantuManager.deleteFolder("a/d");
  // @ts-expect-error: the namespace is needed
  new WantuManager(credentials, "https://rs.media.aliyun.com");
  // @ts-expect-error: pages are numbers
  await wantuManager.listFiles({ page: "2" });
  const wantuCount = Number(exists) + Number(folderThere) + (info?.fileSize ?? 0);

  return wantuCount + (stat.fsize ?? 0) + (head?.size ?? 0) + range.data.length + page.commonPrefixes.length + buckets.length + sizes + failed;
}
