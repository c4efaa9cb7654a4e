// What a bundler project (moduleResolution "bundler") sees for the bare "yunup": the browser entry.
import init, { Uploader, YunupError, type UploadResult } from "yunup";

export async function upload(file: File): Promise<UploadResult> {
  await init();
  const uploader = new Uploader({ service: "wcs", endpoint: "https://up.example.com", bucket: "b", tokenUrl: "/" });
  try {
    return await uploader.upload(file, { key: file.name }).done;
  } catch (err) {
    throw err instanceof YunupError ? new Error(`${err.kind}: ${err.message}`) : err;
  }
}
