// SPDX-License-Identifier: Apache-2.0
// Checks a repository revision with @huggingface/hub (a client nobody here wrote): every file
// under LOCAL_DIR must be listed by listFiles at REVISION with the same size, and downloadFile
// must return the same bytes.
//
//   usage: node verify_tree.mjs HUB_URL TOKEN NS/NAME REVISION LOCAL_DIR [PREFIX]
//
// PREFIX: where LOCAL_DIR's files are in the repository ("" = the root). Prints one line per
// problem and a summary; exits 1 on any problem.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

import { downloadFile, listFiles } from "@huggingface/hub";

const [hubUrl, accessToken, name, revision, localDir, prefix = ""] = process.argv.slice(2);
if (!localDir) {
  console.error("usage: node verify_tree.mjs HUB_URL TOKEN NS/NAME REVISION LOCAL_DIR [PREFIX]");
  process.exit(2);
}
const repo = { type: "model", name };
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

function walk(dir) {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const listed = new Map();
for await (const e of listFiles({ repo, revision, recursive: true, hubUrl, accessToken })) {
  if (e.type === "file") {
    listed.set(e.path, e.size);
  }
}
let problems = 0;
let checked = 0;
for (const file of walk(localDir)) {
  const path = (prefix ? prefix + "/" : "") + relative(localDir, file);
  const local = readFileSync(file);
  if (listed.get(path) !== local.length) {
    console.log(`listFiles: ${path}: size ${listed.get(path)}, want ${local.length}`);
    problems++;
    continue;
  }
  const blob = await downloadFile({ repo, path, revision, hubUrl, accessToken });
  const got = Buffer.from(await blob.arrayBuffer());
  if (sha256(got) !== sha256(local)) {
    console.log(`downloadFile: ${path}: bytes differ`);
    problems++;
  }
  checked++;
}
console.log(`@huggingface/hub: ${checked} files listed and downloaded, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
