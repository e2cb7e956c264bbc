// Integration test of hf-hubd's Xet storage with the official JS client, @huggingface/hub, whose
// Xet code (chunker, xorbs, shards, reconstruction, multi-range fetches) nobody here wrote.
// run.sh starts the server with --xet-default, so every repository created here is Xet-enabled.
//
// Configuration (environment; run.sh sets it): HUBD_URL, HUBD_WRITE_TOKEN, HUBD_READ_TOKEN,
// HUBD_STATS_URL.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";

import { createRepo, downloadFile, fileDownloadInfo, listFiles, uploadFiles } from "@huggingface/hub";

const HUBD_URL = process.env.HUBD_URL.replace(/\/+$/, "");
const WRITE_TOKEN = process.env.HUBD_WRITE_TOKEN;
const READ_TOKEN = process.env.HUBD_READ_TOKEN;
const STATS_URL = process.env.HUBD_STATS_URL || `${HUBD_URL}/_hubd/stats`;
const TIMEOUT = { timeout: 180_000 };
const MiB = 1024 * 1024;

const REPO = { type: "model", name: `alice/xet-${randomBytes(5).toString("hex")}` };
const PATH = "weights/model.bin";

const sha256Hex = (buf) => createHash("sha256").update(buf).digest("hex");

async function stats() {
  const res = await fetch(STATS_URL);
  assert.ok(res.ok);
  return res.json();
}
const delta = (a, b, group, cls) => (b[group]?.[cls] ?? 0) - (a[group]?.[cls] ?? 0);

// Half random bytes, half repetitive text: both raw and compressed chunks end up in the xorbs.
// The leading NUL makes the file binary, hence LFS (and Xet), whatever the random bytes are.
function makeData(size) {
  const text = Buffer.from("the quick brown fox jumps over the lazy dog 0123456789\n".repeat(size / 100));
  const data = Buffer.concat([randomBytes(size / 2), text]).subarray(0, size);
  data[0] = 0;
  return data;
}
const DATA = makeData(6 * MiB);

let uploaded;
function ensureUploaded() {
  uploaded ??= (async () => {
    await createRepo({ repo: REPO, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
    const before = await stats();
    await uploadFiles({
      repo: REPO,
      hubUrl: HUBD_URL,
      accessToken: WRITE_TOKEN,
      files: [{ path: PATH, content: new Blob([DATA]) }],
    });
    return { before, after: await stats() };
  })();
  return uploaded;
}

test("uploadFiles sends a large file through Xet (CAS), not through LFS", TIMEOUT, async () => {
  const { before, after } = await ensureUploaded();
  const received = delta(before, after, "bytes_received", "cas");
  assert.ok(received > DATA.length / 3, `CAS received ${received} bytes for ${DATA.length}`);
  assert.ok(received < DATA.length * 1.1, `CAS received ${received} bytes for ${DATA.length}`);
  assert.equal(delta(before, after, "bytes_received", "upload"), 0, "nothing went through LFS PUTs");
});

test("listFiles reports the Xet hash and the LFS oid of the uploaded file", TIMEOUT, async () => {
  await ensureUploaded();
  let entry;
  for await (const f of listFiles({ repo: REPO, hubUrl: HUBD_URL, accessToken: READ_TOKEN, recursive: true })) {
    if (f.path === PATH) entry = f;
  }
  assert.ok(entry, "the file is listed");
  assert.match(entry.xetHash ?? "", /^[0-9a-f]{64}$/);
  assert.equal(entry.lfs?.oid, sha256Hex(DATA));
  assert.equal(entry.size, DATA.length);
});

test("downloadFile reads the file back through Xet reconstruction, whole and in ranges", TIMEOUT, async () => {
  await ensureUploaded();
  const info = await fileDownloadInfo({ repo: REPO, path: PATH, hubUrl: HUBD_URL, accessToken: READ_TOKEN });
  assert.ok(info?.xet, "resolve announces the file as Xet-backed");
  assert.equal(info.size, DATA.length);

  const before = await stats();
  const blob = await downloadFile({ repo: REPO, path: PATH, hubUrl: HUBD_URL, accessToken: READ_TOKEN });
  const whole = Buffer.from(await blob.arrayBuffer());
  assert.equal(whole.length, DATA.length);
  assert.ok(whole.equals(DATA), "downloaded bytes equal the uploaded ones");
  const slice = Buffer.from(await blob.slice(1_234_567, 4_000_001).arrayBuffer());
  assert.ok(slice.equals(DATA.subarray(1_234_567, 4_000_001)), "a ranged read is right");
  const after = await stats();
  assert.ok(delta(before, after, "bytes_sent", "cas") > 0, "xorb bytes came from the CAS");
  assert.equal(delta(before, after, "bytes_sent", "cdn"), 0, "nothing came from the LFS CDN");
  assert.equal(after.cdn_requests_with_authorization, before.cdn_requests_with_authorization);
});

test("the CAS refuses Hub tokens and forged CAS tokens", TIMEOUT, async () => {
  await ensureUploaded();
  const info = await fileDownloadInfo({ repo: REPO, path: PATH, hubUrl: HUBD_URL, accessToken: READ_TOKEN });
  const url = info.xet.reconstructionUrl.href;
  for (const token of [READ_TOKEN, "Zm9yZ2Vk.9999999999.00", ""]) {
    const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    assert.equal(res.status, 401, `token ${JSON.stringify(token)} gives 401`);
  }
  const tokenRes = await fetch(info.xet.refreshUrl.href, { headers: { Authorization: `Bearer ${READ_TOKEN}` } });
  assert.equal(tokenRes.status, 200);
  const { accessToken, casUrl } = await tokenRes.json();
  const ok = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
  assert.equal(ok.status, 200);
  // The signed xorb URLs of a reconstruction serve their ranges; repeated or overlapping ranges
  // (which could make the server build huge bodies) are refused.
  const plan = await (await fetch(url.replace("/v1/", "/v2/"), { headers: { Authorization: `Bearer ${accessToken}` } })).json();
  const [entry] = Object.values(plan.xorbs)[0];
  const { start, end } = entry.ranges[0].bytes;
  const one = await fetch(entry.url, { headers: { Range: `bytes=${start}-${end}` } });
  assert.equal(one.status, 206);
  const twice = await fetch(entry.url, { headers: { Range: `bytes=${start}-${end},${start}-${end}` } });
  assert.equal(twice.status, 400);
  // A read token cannot upload.
  const post = await fetch(`${casUrl}/v1/shards`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}` },
    body: new Uint8Array(48),
  });
  assert.equal(post.status, 403);
});
