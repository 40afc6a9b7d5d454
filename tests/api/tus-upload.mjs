// tus-upload.mjs - a stock tus client (tus-js-client, from npm) uploading a
// file to tetherd, for tests/integration/test_tus.py. Prints one JSON line
// per event on stdout: {"event": "created"|"chunk"|"aborted"|"done"|"error", ...}.
//
//   node tus-upload.mjs ENDPOINT TOKEN FILE REMOTE_PATH CHUNK [--stop-after N]
//                       [--resume URL]
//
// --stop-after N: abort after N chunks (a cut); --resume URL: continue the
// upload at URL (tus HEADs it for the offset, then appends the rest).
import { readFileSync } from "node:fs";
import tus from "tus-js-client";

const [endpoint, token, file, remote, chunk, ...rest] = process.argv.slice(2);
const opt = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const stopAfter = opt("--stop-after") ? Number(opt("--stop-after")) : 0;
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const data = readFileSync(file);
let chunks = 0;
const upload = new tus.Upload(data, {
  endpoint,
  uploadUrl: opt("--resume") || null,
  chunkSize: Number(chunk),
  retryDelays: [],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { path: remote },
  removeFingerprintOnSuccess: true,
  storeFingerprintForResuming: false,
  onUploadUrlAvailable: () => say({ event: "created", url: upload.url }),
  onChunkComplete: (size, sent, total) => {
    chunks += 1;
    say({ event: "chunk", sent, total });
    if (stopAfter && chunks >= stopAfter) {
      upload.abort(false).then(() => say({ event: "aborted", url: upload.url, sent }));
    }
  },
  onSuccess: () => say({ event: "done", url: upload.url }),
  onError: (err) => {
    say({ event: "error", message: String(err) });
    process.exitCode = 1;
  },
});
upload.start();
