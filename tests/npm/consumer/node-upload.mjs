// A Node >= 18 program that uses the installed tarball as any user would: `import ... from "yunup"`
// (the exports map's "node" entry). Uploads a file from disk to every service of the emulator, given
// three ways (its path, a Blob of it, a FileHandle), and prints one JSON line per upload for the
// test to check.
import { openAsBlob } from "node:fs";
import { open, readFile } from "node:fs/promises";
import init, { Uploader, YunupError, errorClass, md5, wcsEtag } from "yunup";

const [file] = process.argv.slice(2);
const env = (name) => process.env[name] ?? (() => { throw new Error(`${name} is not set`); })();

// The node entry instantiates on import; init() is there for portable code and resolves at once.
await init();
if (errorClass() !== YunupError) throw new Error("YunupError is not the class errorClass() returns");
if (md5(new TextEncoder().encode("abc")) !== "900150983cd24fb0d6963f7d28e17f72") throw new Error("md5");
if (wcsEtag(new Uint8Array()) !== "Fto5o-5ea0sNMlW_75VgGJCv2AcJ") throw new Error("wcsEtag");
try {
  new Uploader({ service: "s3", endpoint: "x", bucket: "b", token: "t" });
  throw new Error("an unknown service was accepted");
} catch (err) {
  if (!(err instanceof YunupError) || err.kind !== "invalid-input") throw err;
}

const endpoints = {
  wcs: env("YUNUP_TEST_WCS"),
  ufile: `${env("YUNUP_TEST_UFILE")}/public`, // path style: the bucket is part of the endpoint
  wantu: env("YUNUP_TEST_WANTU"),
};
for (const [service, endpoint] of Object.entries(endpoints)) {
  const uploader = new Uploader({ service, endpoint, bucket: "public", tokenUrl: env("YUNUP_TEST_DEMO") });
  // WCS: the path (Node >= 20.16). UFile: a Blob backed by the file (Node >= 19.8 reads it lazily;
  // older Node: the bytes). Wantu: a FileHandle, which stays ours to close.
  const byPath = typeof process.getBuiltinModule === "function";
  const source =
    service === "wcs" && byPath
      ? file
      : service === "wantu"
        ? await open(file)
        : typeof openAsBlob === "function"
          ? await openAsBlob(file)
          : await readFile(file);
  const seen = [];
  const task = uploader.upload(source, {
    key: `npm/node/${service}.bin`,
    fingerprint: `${file}:${service}`,
    onProgress: (p) => seen.push(p.confirmed),
  });
  const result = await task.done;
  if (typeof source.close === "function") await source.close();
  if (seen.some((c, i) => i > 0 && c < seen[i - 1])) throw new Error(`${service}: progress went backwards`);
  console.log(JSON.stringify({ ...result, progressReports: seen.length, resolved: import.meta.resolve("yunup") }));
}
