// Cache interop with @huggingface/hub (the JS client, nobody here wrote it), both directions, against
// the loopback fake Hub:
//  1. fthost fills cache A; scanCacheDir reads it (repo, refs, commit, files, sizes) and
//     downloadFileToCacheDir finds fthost's files without downloading (commit revision: no network
//     at all; "main": only the paths-info API call, no body bytes).
//  2. snapshotDownload fills cache B; fthost uses it offline (HF_HUB_OFFLINE=1, server untouched)
//     and online with no re-download (0 body bytes), byte-equal content.
// Usage: node interop.mjs <fthost> <fake_hub_server>
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanCacheDir, downloadFileToCacheDir, snapshotDownload } from "@huggingface/hub";

const [fthost, serverBin] = process.argv.slice(2);
if (!fthost || !serverBin) throw new Error("usage: node interop.mjs <fthost> <fake_hub_server>");

let failures = 0;
function check(cond, what) {
  if (cond) console.log("ok   " + what);
  else {
    console.log("FAIL " + what);
    failures++;
  }
}

const work = mkdtempSync(join(tmpdir(), "fthost-hub-interop-"));
const server = spawn(serverBin, ["--page", "3"], { stdio: ["ignore", "pipe", "inherit"] });
const endpoint = await new Promise((resolve, reject) => {
  let buf = "";
  server.stdout.on("data", (d) => {
    buf += d;
    const m = buf.match(/"endpoint": "([^"]+)"/);
    if (m) resolve(m[1]);
  });
  server.on("exit", (c) => reject(new Error("fake hub exited with " + c)));
});
const stats = async () => (await fetch(endpoint + "/_control/stats")).json();

function runFthost(args, env) {
  const r = spawnSync(fthost, args, {
    env: { ...process.env, HF_ENDPOINT: endpoint, HF_HOME: join(work, "home"), ...env },
    encoding: "utf8",
  });
  if (r.status !== 0) console.log(r.stdout + r.stderr);
  return r;
}
const sha256 = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");
const repoFiles = ["config.json", "model.safetensors", "README.md", "tokenizer.json", "sub/dir/notes.txt",
  "weights/big.bin", "empty.txt"];

try {
  // ---- 1. fthost writes, @huggingface/hub reads ------------------------------------------------
  const cacheA = join(work, "A");
  const r = runFthost(["download", "acme/tiny", "--quiet"], { HF_HUB_CACHE: cacheA });
  check(r.status === 0, "fthost download into cache A");
  const snapDir = r.stdout.trim();
  const commit = snapDir.split("/").pop();
  const scan = await scanCacheDir(cacheA);
  check(scan.warnings.length === 0, "scanCacheDir: no warnings (" + scan.warnings.map(String).join("; ") + ")");
  check(scan.repos.length === 1 && scan.repos[0].id.name === "acme/tiny" && scan.repos[0].id.type === "model",
    "scanCacheDir finds model acme/tiny");
  const rev = scan.repos[0].revisions[0];
  check(scan.repos[0].revisions.length === 1 && rev.commitOid === commit, "revision is the snapshot commit");
  check(JSON.stringify(rev.refs) === JSON.stringify(["main"]), "refs/main points at it");
  // scanSnapshotDir lists the top-level files of a snapshot (it skips sub-folders).
  const top = repoFiles.filter((f) => !f.includes("/"));
  const names = rev.files.map((f) => f.path.split("/").pop()).sort();
  check(JSON.stringify(names) === JSON.stringify([...top].sort()), "files: " + names.join(","));
  const expectSize = top.reduce((s, f) => s + statSync(join(snapDir, f)).size, 0);
  check(scan.repos[0].size === expectSize, `size ${scan.repos[0].size} == ${expectSize}`);
  for (const f of rev.files) {
    check(f.blob.path === join(cacheA, "models--acme--tiny", "blobs", readlinkSync(f.path).split("/").pop()),
      "blob of " + f.path.split("/").pop() + " resolved through fthost's relative symlink");
  }
  const before = await stats();
  const p1 = await downloadFileToCacheDir({ repo: "acme/tiny", path: "model.safetensors", revision: commit,
    cacheDir: cacheA, hubUrl: "http://127.0.0.1:9" });  // a dead endpoint: must not be contacted
  check(p1 === join(snapDir, "model.safetensors"), "downloadFileToCacheDir(commit) returns fthost's pointer offline");
  const p2 = await downloadFileToCacheDir({ repo: "acme/tiny", path: "sub/dir/notes.txt", revision: "main",
    cacheDir: cacheA, hubUrl: endpoint });
  check(p2 === join(snapDir, "sub/dir/notes.txt"), "downloadFileToCacheDir(main) finds the nested file");
  const after = await stats();
  check(after.body_bytes === before.body_bytes, "no file bytes downloaded by the JS client");

  // ---- 2. @huggingface/hub writes, fthost reads ------------------------------------------------
  // acme/js = acme/tiny's files but the empty one (the JS client cannot download a 0-byte file).
  const cacheB = join(work, "B");
  const jsFiles = repoFiles.filter((f) => f !== "empty.txt");
  const dirB = await snapshotDownload({ repo: "acme/js", cacheDir: cacheB, hubUrl: endpoint });
  const commitB = dirB.split("/").pop();
  check(dirB === join(cacheB, "models--acme--js", "snapshots", commitB) && /^[0-9a-f]{40}$/.test(commitB),
    "snapshotDownload into cache B");
  const s0 = await stats();
  const off = runFthost(["download", "acme/js", "--quiet", "--stats"], { HF_HUB_CACHE: cacheB, HF_HUB_OFFLINE: "1" });
  check(off.status === 0 && off.stdout.trim() === dirB, "fthost offline resolves the JS cache's snapshot");
  const offFile = runFthost(["download", "acme/js", "weights/big.bin", "--quiet"],
    { HF_HUB_CACHE: cacheB, HF_HUB_OFFLINE: "1" });
  check(offFile.status === 0 && offFile.stdout.trim() === join(dirB, "weights/big.bin"), "fthost offline file()");
  const s1 = await stats();
  check(s1.api_calls === s0.api_calls && s1.resolve_heads === s0.resolve_heads && s1.body_bytes === s0.body_bytes,
    "offline: no request reached the server");
  const on = runFthost(["download", "acme/js", "--quiet", "--stats"], { HF_HUB_CACHE: cacheB });
  check(on.status === 0 && on.stdout.trim() === dirB, "fthost online over the JS cache");
  check(/network_bytes=0 /.test(on.stderr) && /files_fetched=0 /.test(on.stderr) && /files_cached=6 /.test(on.stderr),
    "no re-download: " + (on.stderr.match(/hub stats:.*/) || [""])[0]);
  const s2 = await stats();
  check(s2.body_bytes === s1.body_bytes, "server sent no file bytes");
  for (const f of jsFiles) {
    check(sha256(join(dirB, f)) === sha256(join(snapDir, f)), "same bytes as fthost's download: " + f);
  }
  check(readdirSync(join(cacheB, "models--acme--js", "blobs")).length === 6, "6 blobs in the JS cache");
} finally {
  server.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
console.log(failures === 0 ? "PASS" : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
