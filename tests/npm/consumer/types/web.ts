// Typed usage of the browser entry ("yunup/web"; "yunup" in a bundler). Compiled with tsc --strict
// against the installed tarball: every export, option, progress event, error and result is typed,
// and misuse is a compile error (the @ts-expect-error lines must fail).
import init, {
  Crc32,
  Md5,
  Sha1,
  UfileEtag,
  Uploader,
  WcsEtag,
  YunupError,
  crc32,
  errorClass,
  etag,
  md5,
  sha1,
  ufileEtag,
  ufilePartEtag,
  wcsEtag,
  type EtagKind,
  type InitOutput,
  type PendingUpload,
  type ServiceName,
  type TokenRequest,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
  type UploadSource,
  type UploadTask,
  type UploaderConfig,
  type YunupErrorKind,
} from "yunup/web";
import * as browser from "yunup/web";

export async function page(file: File, signal: AbortSignal): Promise<UploadResult> {
  const output: InitOutput = await init();
  output.memory satisfies WebAssembly.Memory;
  await init({ module_or_path: new URL("/assets/yunup_bg.wasm", location.href) });

  const bytes: Uint8Array<ArrayBuffer> = new Uint8Array([104, 101, 108, 108, 111]);
  const digests: string[] = [md5(bytes), md5(bytes, true), sha1(bytes), wcsEtag(bytes), ufileEtag(bytes), ufilePartEtag(bytes)];
  const sum: number = crc32(bytes);
  const kind: EtagKind = "ufile";
  const remote: string = await etag(file, kind);
  for (const h of [new Md5(), new Sha1(), new WcsEtag(), new UfileEtag()]) {
    h.update(bytes);
    digests.push(h.digest());
    h.free();
  }
  const crc = new Crc32();
  crc.update(bytes);
  const n: number = crc.digest() + sum;

  const config: UploaderConfig = {
    service: "wcs",
    endpoint: "https://up.example.com",
    bucket: "photos",
    tokenUrl: "https://backend.example.com",
    concurrency: 4,
    partSize: 8 * 1024 * 1024,
    chunkSize: 1024 * 1024,
    multipartThreshold: 4 * 1024 * 1024,
    maxAttempts: 5,
    retryBaseDelayMs: 100,
    idleTimeoutMs: 60_000,
    resume: true,
  };
  const getToken = async (request: TokenRequest): Promise<string> => {
    if (request.kind === "ufile-signature") {
      const { method, bucket, key, contentMd5, contentType, date }: { method: string; bucket: string; key: string; contentMd5: string; contentType: string; date: string } = request;
      return `${method} ${bucket} ${key} ${contentMd5} ${contentType} ${date}`;
    }
    const service: "wcs" | "wantu" = request.service;
    const refresh: boolean = request.refresh;
    return `${service}:${request.bucket}:${request.key}:${refresh}`;
  };
  const uploader = new Uploader({ ...config, tokenUrl: undefined, getToken });
  const onProgress = (p: UploadProgress): void => {
    const confirmed: number = p.confirmed;
    const inFlight: number = p.inFlight;
    const parts: number = p.partsDone;
    const total: number | undefined = p.total;
    const partsTotal: number | undefined = p.partsTotal;
    const fraction: number | undefined = p.fraction;
    console.log(confirmed, inFlight, parts, total, partsTotal, fraction);
  };
  const options: UploadOptions = { key: "a/b.jpg", mime: "image/jpeg", fingerprint: "v1", onProgress, signal };
  const sources: UploadSource[] = [file, new Blob([bytes]), bytes, bytes.buffer, new Blob([bytes]).stream()];
  const task: UploadTask = uploader.upload(sources[0]!, options);
  task.pause();
  const gaveUp: Promise<void> = task.cancel();
  await gaveUp;
  const pending: PendingUpload[] = await uploader.pending();
  for (const p of pending) {
    const fields: [string, string, number, number, number, number] = [p.key, p.fingerprint, p.size, p.confirmed, p.partsDone, p.startedAt];
    const file: [string | undefined, number | undefined] = [p.name, p.lastModified];
    if (p.running satisfies boolean) continue; // another tab uploads it: discard() would refuse
    const discarded: boolean = await uploader.discard(p);
    console.log(fields, file, discarded);
  }
  // @ts-expect-error discard() needs the entry's key and fingerprint
  await uploader.discard({ key: "a/b.jpg" });
  try {
    const result: UploadResult = await task.done;
    const service: ServiceName = result.service;
    const fields: [string, number, string, string, string] = [result.key, result.size, result.etag, result.localEtag, result.response];
    console.log(service, fields, remote, digests, n);
    return result;
  } catch (err) {
    if (err instanceof YunupError) {
      const k: YunupErrorKind = err.kind;
      const extra: [string | undefined, number | undefined, string | undefined] = [err.code, err.status, err.requestId];
      const name: "YunupError" = err.name;
      console.log(k, extra, name, err.message, err.stack);
    }
    const Cls: typeof YunupError = errorClass();
    if (err instanceof Cls) console.log(err.kind);
    throw err;
  } finally {
    uploader.free();
  }
}

// No secret key in a page: the browser entry has no token minting and no management classes (the
// Node and edge entries have them; see node.ts).
export function noSecrets(): void {
  // @ts-expect-error: no WCS token minting in the browser entry
  void browser.wcs;
  // @ts-expect-error: no Wantu token minting in the browser entry
  void browser.wantu;
  // @ts-expect-error: no UFile signing in the browser entry
  void browser.ufile;
  // @ts-expect-error: no management in the browser entry
  void browser.WcsManager;
  // @ts-expect-error: no management in the browser entry
  void browser.UfileManager;
  // @ts-expect-error: no management in the browser entry
  void browser.WantuManager;
  // @ts-expect-error: no credentials type either
  const credentials: browser.Credentials = { accessKey: "ak", secretKey: "sk" };
  void credentials;
}

export function misuse(file: File): void {
  // @ts-expect-error: not a service
  new Uploader({ service: "s3", endpoint: "x", bucket: "b", token: "t" });
  // @ts-expect-error: endpoint is required
  new Uploader({ service: "wcs", bucket: "b", token: "t" });
  const uploader = new Uploader({ service: "wantu", endpoint: "x", bucket: "b", token: "t" });
  // @ts-expect-error: the key is required
  uploader.upload(file, {});
  // @ts-expect-error: a string is not an upload source
  uploader.upload("hello", { key: "k" });
  // @ts-expect-error: progress has no "percent"
  uploader.upload(file, { key: "k", onProgress: (p) => p.percent });
  // @ts-expect-error: only wcs and ufile etags
  void etag(file, "md5");
  void (async () => {
    try {
      await uploader.upload(file, { key: "k" }).done;
    } catch (err) {
      if (err instanceof YunupError) {
        // @ts-expect-error: not a kind
        if (err.kind === "timeout") return;
      }
    }
  })();
}
