// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/repo_model.h"

#include "common/hash.h"

namespace hfm::hubd {

std::string lfsPointer(const std::string& sha256, std::uint64_t size) {
  return "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256 +
         "\nsize " + std::to_string(size) + "\n";
}

std::string gitCommitOid(const Commit& commit) {
  auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(commit.date.time_since_epoch()).count();
  std::string signature =
      commit.author + " <" + commit.author + "@users.noreply.hf-hubd> " + std::to_string(seconds) +
      " +0000";
  std::string body = "tree " + commit.tree_oid + "\n";
  for (const auto& parent : commit.parents) {
    body += "parent " + parent + "\n";
  }
  body += "author " + signature + "\ncommitter " + signature + "\n\n" + commit.title;
  if (!commit.message.empty()) {
    body += "\n\n" + commit.message;
  }
  body += "\n";
  std::string object = "commit " + std::to_string(body.size());
  object.push_back('\0');
  object += body;
  return common::sha1Hex(object);
}

}  // namespace hfm::hubd
