// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/importer.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/repo_path.h"

namespace hfm::hubd {

namespace {

constexpr std::size_t kBinaryProbe = 8000;  // what git looks at to call a file binary

ApiResult<FileEntry> importFile(const ObjectStore& objects, const std::filesystem::path& file,
                                std::uint64_t lfs_threshold) {
  auto fd = common::openFile(file, O_RDONLY);
  if (!fd) {
    return internalError(fd.error());
  }
  auto size = common::fileSize(fd->get());
  if (!size) {
    return internalError(size.error());
  }
  std::vector<char> buf(4u << 20);
  std::size_t head = 0;
  while (head < std::min<std::uint64_t>(*size, kBinaryProbe)) {
    ssize_t n = ::read(fd->get(), buf.data() + head, kBinaryProbe - head);
    if (n <= 0) {
      break;
    }
    head += static_cast<std::size_t>(n);
  }
  bool binary = std::string_view(buf.data(), head).find('\0') != std::string_view::npos;
  bool lfs = *size > 0 && (*size > lfs_threshold || binary);
  auto writer = objects.create(*size, !lfs);
  if (!writer) {
    return internalError(writer.error());
  }
  if (auto st = writer->write(std::string_view(buf.data(), head)); !st) {
    return internalError(st.error());
  }
  while (true) {
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0) {
      return apiError(500, "InternalError", common::errnoMessage("read", file, errno));
    }
    if (n == 0) {
      break;
    }
    if (auto st = writer->write(std::string_view(buf.data(), static_cast<std::size_t>(n))); !st) {
      return apiError(500, "InternalError", file.string() + " changed while it was imported");
    }
  }
  auto info = writer->finish();
  if (!info) {
    return internalError(info.error());
  }
  std::string oid = lfs ? common::gitBlobOid(lfsPointer(info->sha256, info->size)) : info->git_oid;
  return FileEntry{info->sha256, info->size, lfs, oid, {}, {}};
}

}  // namespace

ApiResult<ImportResult> importFolder(RepoStore& repos, const common::RepoId& id,
                                     const std::filesystem::path& source,
                                     const ImportOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(source, ec)) {
    return badRequest("source is not a folder: " + source.string());
  }
  if (!repos.meta(id)) {
    CreateRepoOptions create;
    create.is_private = options.is_private;
    create.gated = options.is_gated ? "manual" : "";
    create.author = options.author;
    create.initial_commit = false;
    create.xet_enabled = options.xet != nullptr;
    if (auto created = repos.createRepo(id, create); !created) {
      return common::Unexpected<ApiError>(created.error());
    }
  }
  auto refs = repos.refs(id);
  if (!refs) {
    return common::Unexpected<ApiError>(refs.error());
  }
  if (refs->branches.count(options.branch) == 0) {
    auto head = repos.resolve(id, "HEAD");
    if (!head) {
      return badRequest("cannot create branch " + options.branch + ": the repository is empty");
    }
    if (auto st = repos.createBranch(id, options.branch, head->commit); !st) {
      return common::Unexpected<ApiError>(st.error());
    }
  }

  CommitRequest request;
  request.revision = options.branch;
  request.author = options.author;
  ImportResult result;
  std::filesystem::recursive_directory_iterator it(
      source, std::filesystem::directory_options::none, ec);
  if (ec) {
    return badRequest("cannot read " + source.string() + ": " + ec.message());
  }
  for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return badRequest("cannot read " + source.string() + ": " + ec.message());
    }
    if (it->is_directory() && it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->is_symlink()) {
      continue;
    }
    std::string path = std::filesystem::relative(it->path(), source).generic_string();
    if (!common::isValidRepoPath(path)) {
      return badRequest("not a valid repository path: " + path);
    }
    auto entry = importFile(repos.objects(), it->path(), options.lfs_threshold);
    if (!entry) {
      return common::Unexpected<ApiError>(entry.error());
    }
    if (options.xet != nullptr && entry->is_lfs) {
      auto xet_hash = options.xet->ingestBlob(entry->sha256, id.key());
      if (!xet_hash) {
        return common::Unexpected<ApiError>(xet_hash.error());
      }
      entry->xet_hash = xet_hash->hex();
    }
    ++result.files;
    result.lfs_files += entry->is_lfs ? 1u : 0u;
    result.bytes += entry->size;
    request.operations.push_back(
        CommitOperation{CommitOperation::Kind::kAddFile, path, std::move(*entry)});
  }
  request.title = options.message.empty()
                      ? "Import " + std::to_string(result.files) + " files"
                      : options.message;
  auto committed = repos.applyCommit(id, request);
  if (!committed) {
    return common::Unexpected<ApiError>(committed.error());
  }
  result.commit = committed->commit;
  return result;
}

}  // namespace hfm::hubd
