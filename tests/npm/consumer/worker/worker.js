// An edge worker (Cloudflare Workers / workerd) built from the installed tarball. The bundler picks
// the "workerd" entry of the exports map; the platform hands over yunup_bg.wasm precompiled.
//
//   GET  /token/wcs?key=K          a WCS upload token for BUCKET:K (the secret stays here)
//   GET  /token/wantu?key=dir/name a Wantu upload token
//   POST /upload/{wcs,ufile,wantu}?key=K
//                                  forwards the request body, a stream of unknown length, to the
//                                  service as a multipart upload; replies with the UploadResult
//   GET  /wantu/info?key=dir/name  what Wantu's manage API says of a file (null: none); its
//                                  requests carry the signed Date header, which browsers drop
import { initSync, Uploader, WantuManager, YunupError, ufile, wantu, wcs } from "yunup";
import wasm from "yunup/yunup_bg.wasm";

initSync({ module: wasm });

const splitKey = (key) => {
  const slash = key.lastIndexOf("/");
  return { dir: slash >= 0 ? `/${key.slice(0, slash)}` : "/", name: key.slice(slash + 1) };
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const credentials = { accessKey: env.ACCESS_KEY, secretKey: env.SECRET_KEY };
    const key = url.searchParams.get("key") ?? "";
    const deadline = Date.now() + 10 * 60 * 1000;
    const tokenFor = {
      wcs: (k) => wcs.uploadToken(credentials, { scope: `${env.BUCKET}:${k}`, deadline }),
      wantu: (k) => wantu.uploadToken(credentials, { namespace: env.BUCKET, expiration: deadline, ...splitKey(k) }),
    };
    try {
      if (request.method === "GET" && url.pathname.startsWith("/token/")) {
        const mint = tokenFor[url.pathname.slice("/token/".length)];
        if (!mint) return Response.json({ error: "no such service" }, { status: 404 });
        return Response.json({ token: mint(key) });
      }
      if (request.method === "GET" && url.pathname === "/wantu/info") {
        return Response.json(await new WantuManager(credentials, env.WANTU, env.BUCKET).fileInfo(key));
      }
      if (request.method === "POST" && url.pathname.startsWith("/upload/")) {
        const service = url.pathname.slice("/upload/".length);
        const endpoint = { wcs: env.WCS, ufile: `${env.UFILE}/${env.BUCKET}`, wantu: env.WANTU }[service];
        const uploader = new Uploader({
          service,
          endpoint,
          bucket: env.BUCKET,
          // Minted right here for each request the Uploader makes: UFile signs every request.
          getToken: (r) => (r.kind === "ufile-signature" ? ufile.sign(credentials, r) : tokenFor[r.service](r.key)),
        });
        const result = await uploader.upload(request.body, { key }).done;
        return Response.json(result);
      }
      return Response.json({ error: "not found" }, { status: 404 });
    } catch (err) {
      const yunup = err instanceof YunupError;
      return Response.json({ error: err.message, kind: yunup ? err.kind : undefined, yunup }, { status: 500 });
    }
  },
};
