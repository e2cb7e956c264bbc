// Integration test: drive hf-hubd with the official JS client, @huggingface/hub (pinned, see
// package.json). Nobody on this project wrote that client, so it checks the server against a
// client's real expectations rather than our own reading of the API.
//
// Configuration (environment; run.sh sets all of it):
//   HUBD_URL              API base URL of hf-hubd, e.g. http://127.0.0.1:41234 (required)
//   HUBD_WRITE_TOKEN      token of user `alice`, role write (required)
//   HUBD_READ_TOKEN       token of user `bob`, role read (required)
//   HUBD_STATS_URL        stats endpoint (default `${HUBD_URL}/_hubd/stats`)
//   HUBD_TREE_PAGE_SIZE   tree page size the server was started with (optional; enables the
//                         "pagination really happened" assertion)
//   HUBD_LFS_PART_SIZE    multipart part size the server was started with (default 8388608)
//
// Tests are independent: shared state (the repo, the commit) is created lazily by memoised
// helpers, so any single test can be run alone with --test-name-pattern.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";

import {
  HubApiError,
  commit,
  createRepo,
  downloadFile,
  fileDownloadInfo,
  listFiles,
  modelInfo,
  uploadFiles,
  whoAmI,
} from "@huggingface/hub";

// ---------------------------------------------------------------------------------------------
// Configuration

function requireEnv(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`environment variable ${name} is required (see the header of hubjs.test.mjs)`);
  }
  return v;
}

const HUBD_URL = requireEnv("HUBD_URL").replace(/\/+$/, "");
const WRITE_TOKEN = requireEnv("HUBD_WRITE_TOKEN");
const READ_TOKEN = requireEnv("HUBD_READ_TOKEN");
const STATS_URL = process.env.HUBD_STATS_URL || `${HUBD_URL}/_hubd/stats`;
const TREE_PAGE_SIZE = process.env.HUBD_TREE_PAGE_SIZE ? Number(process.env.HUBD_TREE_PAGE_SIZE) : undefined;
const LFS_PART_SIZE = Number(process.env.HUBD_LFS_PART_SIZE || 8 * 1024 * 1024);

const MiB = 1024 * 1024;
const TEST_TIMEOUT_MS = 180_000;

const REPO_NAME = `alice/js-${randomBytes(5).toString("hex")}`;
const REPO = { type: "model", name: REPO_NAME };

// ---------------------------------------------------------------------------------------------
// Helpers

const sha256Hex = (buf) => createHash("sha256").update(buf).digest("hex");
const gitBlobSha1 = (buf) =>
  createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
const normEtag = (etag) => (etag ?? "").replace(/^W\//, "").replace(/^"(.*)"$/, "$1");

async function getStats() {
  const res = await fetch(STATS_URL);
  assert.ok(res.ok, `GET ${STATS_URL} should succeed, got HTTP ${res.status}`);
  const json = await res.json();
  for (const key of ["requests", "bytes_sent", "bytes_received"]) {
    assert.equal(typeof json[key], "object", `stats JSON should contain an object "${key}"`);
  }
  assert.equal(
    typeof json.cdn_requests_with_authorization,
    "number",
    `stats JSON should contain a number "cdn_requests_with_authorization"`,
  );
  return json;
}

function statsDelta(before, after, group, cls) {
  return (after[group]?.[cls] ?? 0) - (before[group]?.[cls] ?? 0);
}

// A fetch wrapper that records every request the client makes (method, URL, headers, status) and
// keeps the parsed JSON of LFS batch responses. It never changes what the client sends or gets.
function makeSpyFetch() {
  const calls = [];
  const batchResponses = [];
  const spy = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers ?? {});
    const res = await fetch(input, init);
    calls.push({ method, url, headers, status: res.status, ok: res.ok, etag: res.headers.get("ETag") });
    if (method === "POST" && /\.git\/info\/lfs\/objects\/batch$/.test(new URL(url).pathname) && res.ok) {
      try {
        batchResponses.push(await res.clone().json());
      } catch {
        batchResponses.push(null);
      }
    }
    return res;
  };
  return { spy, calls, batchResponses };
}

async function blobBytes(blob) {
  return Buffer.from(await blob.arrayBuffer());
}

// ---------------------------------------------------------------------------------------------
// The repository content

const CONFIG_JSON = Buffer.from(
  JSON.stringify({ architectures: ["TestModel"], hidden_size: 64, note: "hf-hubd hubjs test" }, null, 2) + "\n",
);
const BASIC_SIZE = 12 * MiB; // > 10 MiB: must be LFS; expected to use the basic transfer
const MULTIPART_SIZE = 20 * MiB; // 3 parts of 8 MiB: expected to use the multipart transfer

const FILES = new Map([
  ["config.json", CONFIG_JSON],
  ["README.md", Buffer.from("# js test repo\n\nUploaded by the @huggingface/hub integration test.\n")],
  ["weights/model-basic.bin", randomBytes(BASIC_SIZE)],
  ["weights/big/model-multipart.bin", randomBytes(MULTIPART_SIZE)],
  ["data/train/part-0.txt", Buffer.from("train 0\n".repeat(40))],
  ["data/train/part-1.txt", Buffer.from("train 1\n".repeat(41))],
  ["data/test/part-0.txt", Buffer.from("test 0\n".repeat(7))],
  ["nested/a/b/c/deep.txt", Buffer.from("deep file\n")],
]);
const LFS_PATHS = new Set(["weights/model-basic.bin", "weights/big/model-multipart.bin"]);
const DIRECTORIES = new Set([
  "weights",
  "weights/big",
  "data",
  "data/train",
  "data/test",
  "nested",
  "nested/a",
  "nested/a/b",
  "nested/a/b/c",
]);

// ---------------------------------------------------------------------------------------------
// Memoised shared state

let repoPromise;
function ensureRepo() {
  repoPromise ??= createRepo({ repo: REPO, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  return repoPromise;
}

let commitPromise;
function ensureCommit() {
  commitPromise ??= (async () => {
    await ensureRepo();
    const { spy, calls, batchResponses } = makeSpyFetch();
    const before = await getStats();
    const result = await uploadFiles({
      repo: REPO,
      hubUrl: HUBD_URL,
      accessToken: WRITE_TOKEN,
      commitTitle: "hubjs: add test files",
      files: [...FILES].map(([path, bytes]) => ({ path, content: new Blob([bytes]) })),
      fetch: spy,
    });
    const after = await getStats();
    return { result, before, after, calls, batchResponses };
  })();
  return commitPromise;
}

// For tests that only need the commit as a prerequisite: say so when it is the setup that failed.
async function needCommit() {
  try {
    return await ensureCommit();
  } catch (e) {
    throw new Error(`prerequisite failed: createRepo + uploadFiles setup: ${e?.message ?? e}`, { cause: e });
  }
}

async function expectHubError(promise, allowedStatuses, what) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: expected the call to be rejected, but it succeeded`);
  assert.ok(
    err instanceof HubApiError,
    `${what}: expected a HubApiError (an HTTP error from the server), got ${err?.constructor?.name}: ${err?.message}`,
  );
  assert.ok(
    allowedStatuses.includes(err.statusCode),
    `${what}: expected HTTP ${allowedStatuses.join(" or ")}, got ${err.statusCode} (${err.message})`,
  );
  return err;
}

// ---------------------------------------------------------------------------------------------
// Tests

test("whoAmI returns alice (user, write role) for the write token", { timeout: TEST_TIMEOUT_MS }, async () => {
  const me = await whoAmI({ hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  assert.equal(me.name, "alice", "whoami-v2 `name` for the write token");
  assert.equal(me.type, "user", "whoami-v2 `type` for the write token");
  assert.equal(me.auth?.accessToken?.role, "write", "whoami-v2 `auth.accessToken.role` for the write token");

  const bob = await whoAmI({ hubUrl: HUBD_URL, accessToken: READ_TOKEN });
  assert.equal(bob.name, "bob", "whoami-v2 `name` for the read token");
  assert.equal(bob.auth?.accessToken?.role, "read", "whoami-v2 `auth.accessToken.role` for the read token");
});

test("createRepo creates a model repo; creating it again fails with 409", { timeout: TEST_TIMEOUT_MS }, async () => {
  const created = await ensureRepo();
  assert.equal(typeof created, "object", "createRepo should resolve to an object");
  assert.equal(typeof created.repoUrl, "string", "create response should carry a `url` string");
  assert.ok(
    created.repoUrl.endsWith(`/${REPO_NAME}`),
    `create response \`url\` should end with /${REPO_NAME}, got ${created.repoUrl}`,
  );

  let err;
  try {
    await createRepo({ repo: REPO, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  } catch (e) {
    err = e;
  }
  assert.ok(err, "second createRepo of the same repo should be rejected, but it succeeded");
  assert.ok(
    err.statusCode === 409 || /already/i.test(String(err.message)),
    `second createRepo: expected HTTP 409 (or a message saying "already"), got ${err.statusCode}: ${err.message}`,
  );
});

test("uploadFiles commits regular + LFS (basic and multipart) files", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { result, before, after, calls, batchResponses } = await ensureCommit();

  assert.match(result?.commit?.oid ?? "", /^[0-9a-f]{40}$/, "commit response `commitOid` should be 40 lower-case hex");
  assert.equal(typeof result.commit.url, "string", "commit response should carry `commitUrl`");

  // --- What the client did, from its own requests.
  assert.equal(batchResponses.length, 1, "exactly one LFS batch request is expected (2 LFS files, <100 objects)");
  const batch = batchResponses[0];
  assert.ok(batch, "LFS batch response should be JSON");
  assert.notEqual(batch.transfer, "xet", "server must not choose the xet transfer (hf-hubd has no xet upload)");
  const byOid = new Map(batch.objects.map((o) => [o.oid, o]));

  const basicBytes = FILES.get("weights/model-basic.bin");
  const basicObj = byOid.get(sha256Hex(basicBytes));
  assert.ok(basicObj?.actions?.upload, "batch response should ask for an upload of the 12 MiB file");
  assert.equal(
    basicObj.actions.upload.header?.chunk_size,
    undefined,
    "12 MiB file: expected the basic transfer (no `chunk_size` in actions.upload.header)",
  );
  const basicPuts = calls.filter((c) => c.method === "PUT" && c.url === basicObj.actions.upload.href);
  assert.equal(basicPuts.length, 1, "12 MiB file: exactly one basic PUT to actions.upload.href");
  assert.ok(basicPuts[0].ok, `12 MiB file: basic PUT should succeed, got HTTP ${basicPuts[0].status}`);
  assert.equal(basicPuts[0].headers.get("authorization"), null, "client does not send Authorization on the basic PUT");

  const mpBytes = FILES.get("weights/big/model-multipart.bin");
  const mpObj = byOid.get(sha256Hex(mpBytes));
  const mpHeader = mpObj?.actions?.upload?.header ?? {};
  assert.ok(mpHeader.chunk_size, "20 MiB file: expected the multipart transfer (`chunk_size` in actions.upload.header)");
  assert.equal(Number(mpHeader.chunk_size), LFS_PART_SIZE, "20 MiB file: chunk_size should equal the server part size");
  const partKeys = Object.keys(mpHeader).filter((k) => /^[0-9]+$/.test(k));
  const expectedParts = Math.ceil(MULTIPART_SIZE / LFS_PART_SIZE);
  assert.equal(partKeys.length, expectedParts, `20 MiB file: expected ${expectedParts} part URLs`);
  const partUrls = new Set(partKeys.map((k) => mpHeader[k]));
  const partPuts = calls.filter((c) => c.method === "PUT" && partUrls.has(c.url));
  assert.equal(partPuts.length, expectedParts, `20 MiB file: expected ${expectedParts} part PUTs`);
  for (const p of partPuts) {
    assert.ok(p.ok && p.etag, `part PUT ${p.url} should succeed and return an ETag (status ${p.status})`);
  }
  const completes = calls.filter((c) => c.method === "POST" && c.url === mpObj.actions.upload.href);
  assert.equal(completes.length, 1, "20 MiB file: exactly one completion POST to actions.upload.href");
  assert.ok(completes[0].ok, `completion POST should succeed, got HTTP ${completes[0].status}`);

  // --- What the server saw, from its counters.
  const uploadedBytes = statsDelta(before, after, "bytes_received", "upload");
  t.diagnostic(
    `stats delta: upload requests=${statsDelta(before, after, "requests", "upload")} ` +
      `upload bytes_received=${uploadedBytes} cas requests=${statsDelta(before, after, "requests", "cas")}`,
  );
  assert.ok(
    uploadedBytes >= BASIC_SIZE + MULTIPART_SIZE,
    `stats bytes_received.upload should grow by >= ${BASIC_SIZE + MULTIPART_SIZE}, grew by ${uploadedBytes}`,
  );
  assert.ok(
    statsDelta(before, after, "requests", "upload") >= 1 + expectedParts,
    `stats requests.upload should grow by >= ${1 + expectedParts} (1 basic PUT + ${expectedParts} part PUTs)`,
  );
  assert.equal(statsDelta(before, after, "requests", "cas"), 0, "no xet/CAS requests are expected");
});

test("listFiles (recursive, paginated) returns every file and folder", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await needCommit();
  const { spy, calls } = makeSpyFetch();
  const entries = [];
  for await (const e of listFiles({ repo: REPO, recursive: true, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN, fetch: spy })) {
    entries.push(e);
  }
  const pages = calls.length;
  t.diagnostic(`listFiles: ${entries.length} entries in ${pages} page(s)`);

  const seen = new Set();
  for (const e of entries) {
    assert.ok(!seen.has(e.path), `path ${e.path} listed twice (pagination cursor bug?)`);
    seen.add(e.path);
  }

  // Tolerate a server-generated root .gitattributes (the real Hub creates one with the repo).
  const listed = entries.filter((e) => !(e.path === ".gitattributes" && !FILES.has(".gitattributes")));
  const describe = (e) => (e.type === "directory" ? `directory ${e.path}` : `${e.type} ${e.path} ${e.size}`);
  const expected = [
    ...[...FILES].map(([p, b]) => `file ${p} ${b.length}`),
    ...[...DIRECTORIES].map((p) => `directory ${p}`),
  ].sort();
  assert.deepEqual(
    listed.map(describe).sort(),
    expected,
    "recursive listing should equal the committed files and folders (if only the first page came back, " +
      'check that Link is `<absolute-url>; rel="next"`)',
  );

  for (const e of entries) {
    assert.equal(typeof e.size, "number", `entry ${e.path}: size must be a number (also for directories)`);
    assert.equal(typeof e.oid, "string", `entry ${e.path}: oid must be a string`);
  }
  for (const [path, bytes] of FILES) {
    const e = entries.find((x) => x.path === path);
    if (LFS_PATHS.has(path)) {
      assert.ok(e.lfs, `${path} should be an LFS entry (has \`lfs\`)`);
      assert.equal(e.lfs.oid, sha256Hex(bytes), `${path}: lfs.oid should be the sha256 of the content`);
      assert.equal(e.lfs.size, bytes.length, `${path}: lfs.size should be the content size`);
    } else {
      assert.equal(e.lfs, undefined, `${path} should be a regular (non-LFS) entry`);
      assert.equal(e.oid, gitBlobSha1(bytes), `${path}: oid of a regular file should be its git blob sha1`);
    }
  }

  if (TREE_PAGE_SIZE) {
    const minPages = Math.ceil(entries.length / TREE_PAGE_SIZE);
    assert.ok(
      pages >= minPages,
      `with tree page size ${TREE_PAGE_SIZE} and ${entries.length} entries the client should fetch >= ${minPages} pages, fetched ${pages}`,
    );
  } else {
    t.diagnostic("HUBD_TREE_PAGE_SIZE not set: pagination count not checked");
  }
});

test("downloadFile: whole regular and LFS files, and ranged reads via Blob.slice", { timeout: TEST_TIMEOUT_MS }, async () => {
  await needCommit();
  const before = await getStats();
  const dl = (path) => downloadFile({ repo: REPO, path, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });

  // Whole regular file.
  const cfgBlob = await dl("config.json");
  assert.ok(cfgBlob, "downloadFile(config.json) should not return null");
  assert.equal(cfgBlob.size, CONFIG_JSON.length, "config.json: blob size");
  assert.equal(sha256Hex(await blobBytes(cfgBlob)), sha256Hex(CONFIG_JSON), "config.json: whole-file bytes");
  assert.equal(
    (await blobBytes(cfgBlob.slice(5, 17))).toString("hex"),
    CONFIG_JSON.subarray(5, 17).toString("hex"),
    "config.json: ranged read [5,17)",
  );

  // Whole LFS files.
  for (const path of LFS_PATHS) {
    const local = FILES.get(path);
    const blob = await dl(path);
    assert.ok(blob, `downloadFile(${path}) should not return null`);
    assert.equal(blob.size, local.length, `${path}: blob size`);
    const got = await blobBytes(blob);
    assert.equal(got.length, local.length, `${path}: whole-file length`);
    assert.equal(sha256Hex(got), sha256Hex(local), `${path}: whole-file sha256`);
  }

  // Ranged reads of the multipart-uploaded LFS file (crossing part boundaries, last byte, tail).
  const mpPath = "weights/big/model-multipart.bin";
  const mp = FILES.get(mpPath);
  const mpBlob = await dl(mpPath);
  const n = mp.length;
  const ranges = [
    [0, 1],
    [1000, 5096],
    [LFS_PART_SIZE - 10, LFS_PART_SIZE + 10],
    [2 * LFS_PART_SIZE - 1, 2 * LFS_PART_SIZE + 1],
    [n - 4096, n],
    [n - 1, n],
  ];
  for (const [a, b] of ranges) {
    const got = await blobBytes(mpBlob.slice(a, b));
    assert.equal(got.length, b - a, `${mpPath}: range [${a},${b}) length (did the server ignore Range?)`);
    assert.ok(got.equals(mp.subarray(a, b)), `${mpPath}: range [${a},${b}) bytes`);
  }

  const after = await getStats();
  assert.ok(
    statsDelta(before, after, "requests", "cdn") > 0,
    "LFS downloads are expected to be served by the CDN origin (stats requests.cdn did not grow)",
  );
  assert.equal(
    after.cdn_requests_with_authorization,
    0,
    "the Authorization header must never reach the CDN origin (cdn_requests_with_authorization)",
  );
});

test("fileDownloadInfo: size and etag of an LFS file; null for a missing path", { timeout: TEST_TIMEOUT_MS }, async () => {
  await needCommit();
  const path = "weights/model-basic.bin";
  const local = FILES.get(path);
  const info = await fileDownloadInfo({ repo: REPO, path, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  assert.ok(info, `fileDownloadInfo(${path}) should not be null`);
  assert.equal(info.size, local.length, `${path}: size (from Content-Range total of the Range: bytes=0-0 GET)`);
  assert.equal(normEtag(info.etag), sha256Hex(local), `${path}: etag should be the sha256 of the content`);
  assert.equal(info.xet, undefined, `${path}: no xet info is expected`);

  const cfg = await fileDownloadInfo({ repo: REPO, path: "config.json", hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  assert.ok(cfg, "fileDownloadInfo(config.json) should not be null");
  assert.equal(cfg.size, CONFIG_JSON.length, "config.json: size");
  assert.equal(normEtag(cfg.etag), gitBlobSha1(CONFIG_JSON), "config.json: etag should be the git blob sha1");

  const missing = await fileDownloadInfo({
    repo: REPO,
    path: "does/not/exist.bin",
    hubUrl: HUBD_URL,
    accessToken: WRITE_TOKEN,
  });
  assert.equal(missing, null, "missing path should give null (needs 404 + X-Error-Code: EntryNotFound)");
});

test("modelInfo (default revision HEAD) reports the repo and the commit sha", { timeout: TEST_TIMEOUT_MS }, async () => {
  const { result } = await needCommit();
  const info = await modelInfo({
    name: REPO_NAME,
    hubUrl: HUBD_URL,
    accessToken: WRITE_TOKEN,
    additionalFields: ["sha"],
  });
  assert.equal(info.name, REPO_NAME, "modelInfo name (API field `id`)");
  assert.equal(typeof info.id, "string", "modelInfo id (API field `_id`) should be a string");
  assert.ok(info.id.length > 0, "modelInfo id (API field `_id`) should not be empty");
  assert.equal(info.private, false, "modelInfo private (repo was created without visibility → public)");
  assert.equal(info.sha, result.commit.oid, "modelInfo sha (expand=sha) should be the commit made by uploadFiles");
  assert.ok(!Number.isNaN(info.updatedAt.getTime()), "modelInfo updatedAt (API field `lastModified`) should be a date");
});

test("unauthorized writes are rejected", { timeout: TEST_TIMEOUT_MS }, async () => {
  await needCommit();
  const bobPath = "bob-was-here.txt";
  const err = await expectHubError(
    commit({
      repo: REPO,
      hubUrl: HUBD_URL,
      accessToken: READ_TOKEN,
      title: "bob tries to write",
      operations: [{ operation: "addOrUpdate", path: bobPath, content: new Blob(["nope\n"]) }],
    }),
    [401, 403],
    "commit to alice's repo with bob's read token",
  );
  assert.ok(err.message.length > 0, "the error should carry a message");
  const info = await fileDownloadInfo({ repo: REPO, path: bobPath, hubUrl: HUBD_URL, accessToken: WRITE_TOKEN });
  assert.equal(info, null, "the rejected commit must not have added bob's file");

  // No token at all: the client then sends `Authorization: Bearer undefined`.
  await expectHubError(
    createRepo({ repo: { type: "model", name: `alice/js-anon-${randomBytes(4).toString("hex")}` }, hubUrl: HUBD_URL, accessToken: undefined }),
    [401, 403],
    "createRepo without a token",
  );
});
