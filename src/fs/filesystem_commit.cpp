// SPDX-License-Identifier: Apache-2.0
// Commits (DESIGN.md §6): what each writable view has pending becomes ONE Hub commit, on fsync,
// after a quiet period, and at unmount; the journal brings back what a crash left pending.

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/hex.h"
#include "fs/change_record.h"
#include "fs/filesystem.h"
#include "fs/filesystem_internal.h"

namespace hfm::fs {

namespace {

constexpr std::chrono::seconds kRetryAfterFailure{30};
constexpr std::size_t kRecentCommits = 30;
constexpr int kCommitAttempts = 4;
constexpr std::chrono::milliseconds kCommitRetryPause{500};
constexpr std::string_view kCommitIdLabel = "hf-mount-commit-id: ";
// The generation of a staged file reopened from the journal, before any write of this run.
constexpr std::uint64_t kReopenedGeneration = 1;

std::string randomHex(std::size_t bytes) {
  std::random_device rd;
  std::string raw(bytes, '\0');
  for (auto& c : raw) {
    c = static_cast<char>(rd() & 0xFFu);
  }
  return common::toHex(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
}

common::Result<std::string> readAll(int fd, std::uint64_t size, const std::filesystem::path& path) {
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return common::makeError(common::ErrorKind::kIo,
                               common::errnoMessage("read staging file", path, n < 0 ? errno : EIO));
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

common::Result<std::string> hashFile(int fd, std::uint64_t size, const std::filesystem::path& path) {
  common::Digest d(common::Digest::Algorithm::kSha256);
  std::vector<char> buf(1u << 20);
  for (std::uint64_t off = 0; off < size;) {
    ssize_t n = ::pread(fd, buf.data(), std::min<std::uint64_t>(buf.size(), size - off),
                        static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return common::makeError(common::ErrorKind::kIo,
                               common::errnoMessage("hash staging file", path, n < 0 ? errno : EIO));
    }
    d.update(buf.data(), static_cast<std::size_t>(n));
    off += static_cast<std::uint64_t>(n);
  }
  return d.finishHex();
}

std::size_t countFiles(const std::filesystem::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) {
      ++n;
    }
  }
  return n;
}

// One path of a commit, as frozen when the commit started.
struct Planned {
  enum class Kind { kStaged, kMoved, kDeleteFile, kDeleteFolder };
  Kind kind = Kind::kStaged;
  std::string path;
  std::shared_ptr<StagedFile> staged;
  FrozenContent frozen;
  std::optional<RemoteContent> remote;
};

}  // namespace

FsResult<std::unique_ptr<WriteState>> Filesystem::openWriteState(const common::RepoId& repo,
                                                                 const std::string& revision) {
  if (options_.write_dir.empty()) {
    return fsError(FsErrorKind::kReadOnly, "no folder for staging files configured");
  }
  std::string id =
      common::sha256Hex(options_.endpoint + "\n" + repo.key() + "\n" + revision).substr(0, 32);
  std::filesystem::path root(options_.write_dir);
  auto ws = std::make_unique<WriteState>();
  ws->staging_dir = root / "staging" / id;
  if (auto ok = common::makeDirs(ws->staging_dir); !ok) {
    return fsError(FsErrorKind::kIo, ok.error().message);
  }
  auto journal = cache::Journal::open(cache::JournalOptions{(root / "journal" / id).string()});
  if (!journal) {
    spdlog::error("{}@{}: writes are refused: {}", repo.key(), revision, journal.error().message);
    return fsError(journal.error().kind == cache::CacheErrorKind::kBusy ? FsErrorKind::kReadOnly
                                                                         : FsErrorKind::kIo);
  }
  ws->journal = std::move(*journal);
  ws->session = randomHex(4);
  std::string meta = options_.endpoint + "\n" + repo.key() + "\n" + revision;
  const bool is_new_journal = !ws->journal->get("view").has_value();
  if (ws->journal->get("view") != meta) {
    if (auto ok = ws->journal->put("view", meta); !ok) {
      return fsError(FsErrorKind::kIo, ok.error().message);
    }
  }
  ws->base_commit = ws->journal->get("base").value_or("");
  std::set<std::string> referenced;
  // Staging files no record names are normally leftovers of edits that never reached a close;
  // but when the journal is new (it was lost) or some of its records are unreadable, they may be
  // pending changes: they are kept, and reported.
  bool keep_unreferenced = is_new_journal;
  for (const auto& [key, value] : ws->journal->list(kChangePrefix)) {
    auto entry = splitChangeEntry(key, value);
    if (!entry) {
      spdlog::error("{}@{}: a malformed journal entry is kept and skipped", repo.key(), revision);
      keep_unreferenced = true;
      continue;
    }
    const std::string& path = entry->first;
    std::string error;
    auto change = decodeChange(entry->second, ws->staging_dir, error);
    if (!change) {
      // Kept in the journal: a later version or a repaired staging folder may still use it.
      spdlog::error("{}@{}: a pending change to {} cannot be restored: {}", repo.key(), revision,
                    path, error);
      continue;
    }
    if (change->staged) {
      referenced.insert(change->staged->name());
    }
    ws->overlay.mutableChanges()[path] = std::move(*change);
  }
  keep_unreferenced = keep_unreferenced || ws->journal->corruptValues() > 0;
  std::error_code ec;
  std::size_t kept = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ws->staging_dir, ec)) {
    if (referenced.count(entry.path().filename().string()) != 0) {
      continue;
    }
    if (keep_unreferenced) {
      ++kept;
    } else {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  if (kept > 0) {
    std::string message =
        (is_new_journal ? "the pending-changes journal was lost (a new one was started)"
                        : "the pending-changes journal has damaged records") +
        std::string("; ") + std::to_string(kept) + " staging files in " +
        ws->staging_dir.string() +
        " may hold changes that are not committed; they are kept, not deleted (DESIGN.md §6)";
    spdlog::error("{}@{}: {}", repo.key(), revision, message);
    std::lock_guard lock(problems_mu_);
    bool known = false;
    for (auto& p : journal_problems_) {
      if (p.view == ws->staging_dir.string()) {
        p.last_error = message;
        known = true;
      }
    }
    if (!known) {
      journal_problems_.push_back(PendingInfo{ws->staging_dir.string(), kept, "", message});
    }
  }
  if (!ws->overlay.empty()) {
    spdlog::info("{}@{}: {} pending changes from an earlier run will be committed", repo.key(),
                 revision, ws->overlay.changes().size());
  }
  ws->last_change = std::chrono::steady_clock::now();
  return ws;
}

std::vector<std::shared_ptr<Filesystem::View>> Filesystem::writableViews() const {
  std::vector<std::shared_ptr<View>> out;
  std::lock_guard lock(table_mu_);
  for (const auto& [key, v] : views_) {
    if (v->writable) {
      out.push_back(v);
    }
  }
  return out;
}

void Filesystem::recoverPending() {
  if (options_.write_dir.empty()) {
    return;
  }
  const std::filesystem::path root(options_.write_dir);
  const std::filesystem::path dir = root / "journal";
  std::error_code ec;
  auto report = [&](const std::filesystem::path& where, std::size_t files, std::string message) {
    spdlog::error("{}", message);
    std::lock_guard lock(problems_mu_);
    journal_problems_.push_back(PendingInfo{where.string(), files, "", std::move(message)});
  };
  std::size_t taken_up = 0;
  // Staging files whose journal is gone: nothing says which view or paths they belong to.
  for (const auto& entry : std::filesystem::directory_iterator(root / "staging", ec)) {
    std::size_t files = countFiles(entry.path());
    std::error_code exists_ec;
    if (files > 0 && !std::filesystem::exists(dir / entry.path().filename(), exists_ec)) {
      report(entry.path(), files,
             "pending-changes journal " + (dir / entry.path().filename()).string() +
                 " is missing: " + std::to_string(files) + " staging files in " +
                 entry.path().string() +
                 " may hold changes that are not committed; they are kept, not deleted");
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::optional<std::string> meta;
    bool pending = false;
    {
      auto journal = cache::Journal::open(cache::JournalOptions{entry.path().string()});
      if (!journal) {
        if (journal.error().kind != cache::CacheErrorKind::kBusy) {
          report(entry.path(), countFiles(root / "staging" / entry.path().filename()),
                 "pending changes in " + entry.path().string() +
                     " cannot be read, so they are not committed (the journal and the staging "
                     "files are kept): " + journal.error().message);
        }
        continue;
      }
      meta = (*journal)->get("view");
      pending = !(*journal)->list(kChangePrefix).empty() ||
                !(*journal)->list(kInflightPrefix).empty();
      if ((*journal)->corruptValues() > 0) {
        report(entry.path(), countFiles(root / "staging" / entry.path().filename()),
               "pending-changes journal " + entry.path().string() +
                   " has damaged records: the changes they held are not committed (the staging "
                   "files are kept)");
      }
    }
    if (!meta || !pending) {
      continue;
    }
    auto first = meta->find('\n');
    auto second = meta->find('\n', first == std::string::npos ? first : first + 1);
    if (second == std::string::npos || meta->substr(0, first) != options_.endpoint) {
      continue;
    }
    auto repo = common::parseRepoKey(meta->substr(first + 1, second - first - 1));
    std::string revision = meta->substr(second + 1);
    if (!repo || (options_.single_repo &&
                  (*repo != *options_.single_repo || revision != options_.single_revision))) {
      continue;
    }
    auto v = view(*repo, revision);
    if (!v) {
      spdlog::error("{}@{}: pending changes wait: {}", repo->key(), revision, v.error().message);
      continue;
    }
    if (auto ok = ensureWritable(**v); !ok) {
      spdlog::error("{}@{}: pending changes cannot be committed: {}", repo->key(), revision,
                    ok.error().message);
      continue;
    }
    std::lock_guard lock((*v)->mu);
    (*v)->writes->rounds_wanted = (*v)->writes->rounds_started + 1;
    ++taken_up;
  }
  // Tells scripts (crash_test.sh) when an fsync of a view covers what earlier runs left.
  spdlog::info("journals checked: {} views with changes from earlier runs to commit", taken_up);
}

void Filesystem::committerLoop(std::stop_token stop) {
  recoverPending();
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(committer_mu_);
      committer_cv_.wait_for(lock, stop, std::chrono::milliseconds(200), [] { return false; });
    }
    for (const auto& v : writableViews()) {
      bool due = false;
      {
        std::lock_guard lock(v->mu);
        if (!v->writes) {
          continue;
        }
        WriteState& ws = *v->writes;
        auto now = std::chrono::steady_clock::now();
        due = ws.rounds_wanted > ws.rounds_done ||
              (!ws.overlay.empty() && now - ws.last_change >= options_.commit_delay &&
               now >= ws.retry_at);
      }
      if (due) {
        (void)commitRound(v);
      }
    }
  }
}

FsResult<void> Filesystem::settleInflight(View& v) {
  WriteState& ws = *v.writes;
  auto inflight = ws.journal->list(kInflightPrefix);
  if (inflight.empty()) {
    return {};
  }
  auto recent = hub_->listCommits(v.repo, v.revision, kRecentCommits);
  if (!recent) {
    return common::Unexpected<FsError>(
        fromHubError(recent.error(), "looking for a commit sent by an earlier run"));
  }
  std::size_t newest_landed = recent->size();
  for (const auto& [key, value] : inflight) {
    std::string id = key.substr(kInflightPrefix.size());
    std::size_t landed_at = recent->size();
    for (std::size_t i = 0; i < recent->size() && landed_at == recent->size(); ++i) {
      const auto& c = (*recent)[i];
      if (c.message.find(id) != std::string::npos || c.title.find(id) != std::string::npos) {
        landed_at = i;
      }
    }
    if (landed_at == recent->size()) {
      // Not among the branch's recent commits: it never landed, and its changes stay pending.
      if (auto ok = ws.journal->erase(key); !ok) {
        return fsError(FsErrorKind::kIo, ok.error().message);
      }
      std::lock_guard lock(v.mu);
      ws.inflight_generations.erase(id);
      continue;
    }
    const std::string& landed = (*recent)[landed_at].id;
    auto records = decodeInflight(value);
    if (!records) {
      spdlog::error("{}: the record of commit {} is malformed; its changes stay pending", v.key,
                    landed);
      records.emplace();
    }
    std::vector<std::string> carried;
    {
      std::lock_guard lock(v.mu);
      auto& changes = ws.overlay.mutableChanges();
      // The frozen generations, for a commit of this run; otherwise the files were reopened.
      std::optional<std::map<std::string, std::uint64_t>> generations;
      if (auto g = ws.inflight_generations.find(id); g != ws.inflight_generations.end()) {
        generations = std::move(g->second);
        ws.inflight_generations.erase(g);
      }
      for (const auto& [path, record] : *records) {
        auto it = changes.find(path);
        // The change as it is now, not as the journal has it: the journal lags the overlay
        // (persist() writes after releasing v.mu), and a move onto the path that is not yet
        // persisted must not be taken for the change the commit carried.
        if (it == changes.end() || keyedChange(path, it->second) != record) {
          continue;  // changed again after the commit was sent: still pending
        }
        Change& c = it->second;
        if (c.staged) {
          // An in-place write leaves the record as it was: only the generation tells.
          std::uint64_t generation = kReopenedGeneration;
          if (generations) {
            auto g = generations->find(path);
            if (g == generations->end()) {
              continue;
            }
            generation = g->second;
          }
          auto split = splitChangeEntry(changeKey(path), record);
          if (!split || stagingNameOf(split->second) != c.staged->name() ||
              c.staged->writers() > 0 || !c.staged->markCommitted(generation)) {
            continue;
          }
          changes.erase(it);
        } else if (c.kind == Change::Kind::kDir) {
          c.hides_base = false;  // the commit deleted what the folder replaced
        } else {
          changes.erase(it);
        }
        carried.push_back(path);
      }
      if (landed_at < newest_landed) {
        // Ours is in the branch's history: what came after it is checked like any move of the
        // branch (the commit goes on top unless someone touched the same paths).
        ws.base_commit = landed;
        newest_landed = landed_at;
      }
      ws.last_commit = landed;
      v.checked = {};  // the next access resolves the branch again and finds the commit
    }
    spdlog::info("{}: commit {} sent by an earlier run landed; {} changes it carried are done",
                 v.key, landed, carried.size());
    if (auto ok = persist(v, carried); !ok) {
      return ok;
    }
    if (auto ok = ws.journal->erase(key); !ok) {
      return fsError(FsErrorKind::kIo, ok.error().message);
    }
  }
  return {};
}

FsResult<void> Filesystem::commitRound(const std::shared_ptr<View>& v) {
  if (auto settled = settleInflight(*v); !settled) {
    spdlog::error("{}: commit postponed: {}", v->key, settled.error().message);
    std::lock_guard lock(v->mu);
    WriteState& ws = *v->writes;
    std::uint64_t round = ++ws.rounds_started;
    ws.rounds_done = round;
    ws.last_failed_round = round;
    ws.last_error = settled.error();
    ws.retry_at = std::chrono::steady_clock::now() + kRetryAfterFailure;
    ws.done_cv.notify_all();
    return settled;
  }
  std::vector<Planned> plan;
  std::vector<std::string> settled;
  std::shared_ptr<const Snapshot> snap;
  std::string parent;
  std::string summary;
  std::uint64_t round = 0;
  {
    std::lock_guard lock(v->mu);
    WriteState& ws = *v->writes;
    round = ++ws.rounds_started;
    ws.committing = true;
    snap = v->current;
    parent = !ws.base_commit.empty() ? ws.base_commit : (snap ? snap->commit() : "");
    summary = ws.message;
    for (const auto& [path, change] : ws.overlay.changes()) {
      if (ignored(path)) {
        continue;
      }
      if (change.kind == Change::Kind::kFile && change.staged) {
        if (change.committed_generation != 0 &&
            !change.staged->changedSince(change.committed_generation)) {
          if (change.staged->writers() == 0) {
            settled.push_back(path);  // carried by an earlier commit, and now closed
          }
          continue;
        }
        if (change.staged->writers() > 0 && ws.forced.count(change.staged) == 0) {
          continue;  // still open for writing: the next commit takes it
        }
        // Checked and frozen under the file's lock: a write failing in between is not carried.
        auto frozen = change.staged->freezeUnlessFailed();
        if (!frozen) {
          // A write failed: held back until truncated or removed (SEMANTICS.md, "Full disk").
          spdlog::warn("{}: {} is held back from this commit (a write to it failed)", v->key,
                       path);
          continue;
        }
        plan.push_back(Planned{Planned::Kind::kStaged, path, change.staged, std::move(*frozen),
                               std::nullopt});
      } else if (change.kind == Change::Kind::kFile) {
        plan.push_back(Planned{Planned::Kind::kMoved, path, nullptr, {}, change.remote});
      } else if (change.kind == Change::Kind::kDeleted ||
                 (change.kind == Change::Kind::kDir && change.hides_base)) {
        auto index = snap ? snap->find(path) : std::nullopt;
        if (index) {
          plan.push_back(Planned{snap->entries()[*index].is_dir ? Planned::Kind::kDeleteFolder
                                                                 : Planned::Kind::kDeleteFile,
                                 path, nullptr, {}, std::nullopt});
        }
      }
    }
    ws.forced.clear();
    for (const auto& path : settled) {
      auto it = ws.overlay.mutableChanges().find(path);
      if (it->second.staged->markCommitted(it->second.committed_generation)) {
        ws.overlay.mutableChanges().erase(it);
      }
    }
  }
  if (!settled.empty()) {
    (void)persist(*v, settled);
  }
  auto finish = [&](std::optional<FsError> error) -> FsResult<void> {
    for (const auto& p : plan) {
      if (p.staged) {
        p.staged->thaw(p.frozen.generation);  // nobody uploads it now: no copy at the next write
      }
    }
    std::lock_guard lock(v->mu);
    WriteState& ws = *v->writes;
    ws.rounds_done = round;
    ws.committing = false;
    if (error) {
      ws.last_failed_round = round;
      ws.last_error = error;
      ws.retry_at = std::chrono::steady_clock::now() + kRetryAfterFailure;
    } else if (plan.empty()) {
      ws.retry_at = std::chrono::steady_clock::now() + options_.commit_delay;
    }
    ws.done_cv.notify_all();
    if (error) {
      return common::Unexpected<FsError>(*error);
    }
    return {};
  };
  if (plan.empty()) {
    return finish(std::nullopt);
  }
  auto fail = [&](FsErrorKind kind, const std::string& message) {
    spdlog::error("{}: commit failed; the changes stay staged: {}", v->key, message);
    return finish(FsError{kind, v->key + ": commit failed: " + message});
  };

  // Sizes, hashes and the first bytes, for preupload.
  std::vector<hub::PreuploadFile> files;
  for (auto& p : plan) {
    if (p.kind != Planned::Kind::kStaged) {
      continue;
    }
    if (!p.frozen.sha256) {
      auto sha = hashFile(p.frozen.blob->fd(), p.frozen.size, p.frozen.blob->path());
      if (!sha) {
        return fail(FsErrorKind::kIo, sha.error().message);
      }
      p.frozen.sha256 = *sha;
    }
    std::string sample(std::min<std::uint64_t>(512, p.frozen.size), '\0');
    if (!sample.empty() && ::pread(p.frozen.blob->fd(), sample.data(), sample.size(), 0) !=
                               static_cast<ssize_t>(sample.size())) {
      return fail(FsErrorKind::kIo, "cannot read " + p.frozen.blob->path().string());
    }
    files.push_back(hub::PreuploadFile{p.path, p.frozen.size, std::move(sample)});
  }
  std::vector<hub::PreuploadAnswer> modes;
  if (!files.empty()) {
    auto answered = hub_->preupload(v->repo, v->revision, files);
    if (!answered) {
      FsError e = fromHubError(answered.error(), "preupload");
      return fail(e.kind, e.message);
    }
    modes = std::move(*answered);
  }

  hub::CommitRequest request;
  std::string commit_id = randomHex(16);
  request.description = std::string(kCommitIdLabel) + commit_id;
  request.parent_commit = parent;
  std::size_t changed = 0;
  for (const auto& p : plan) {  // deletions first: a folder may be replaced by a file
    if (p.kind == Planned::Kind::kDeleteFile || p.kind == Planned::Kind::kDeleteFolder) {
      hub::CommitOperation op;
      op.kind = p.kind == Planned::Kind::kDeleteFile ? hub::CommitOperation::Kind::kDeletedFile
                                                     : hub::CommitOperation::Kind::kDeletedFolder;
      op.path = p.path;
      request.operations.push_back(std::move(op));
      ++changed;
    }
  }
  std::size_t next_mode = 0;
  for (const auto& p : plan) {
    hub::CommitOperation op;
    op.path = p.path;
    if (p.kind == Planned::Kind::kStaged) {
      const hub::PreuploadAnswer& mode = modes.at(next_mode++);
      if (mode.should_ignore) {
        spdlog::info("{}: the repository ignores {} (.gitignore); not committed", v->key, p.path);
        continue;
      }
      if (mode.mode == hub::UploadMode::kLfs) {
        auto sent = uploader_.upload(v->repo, v->revision, *p.frozen.sha256, p.frozen.size,
                                     p.frozen.blob->path());
        if (!sent) {
          FsError e = fromHubError(sent.error(), "uploading " + p.path);
          return fail(e.kind, e.message);
        }
        op.kind = hub::CommitOperation::Kind::kLfsFile;
        op.sha256 = *p.frozen.sha256;
        op.size = p.frozen.size;
      } else {
        auto content = readAll(p.frozen.blob->fd(), p.frozen.size, p.frozen.blob->path());
        if (!content) {
          return fail(FsErrorKind::kIo, content.error().message);
        }
        op.kind = hub::CommitOperation::Kind::kFile;
        op.content = std::move(*content);
      }
    } else if (p.kind == Planned::Kind::kMoved) {
      const RemoteContent& r = *p.remote;
      if (!r.lfs_sha256.empty()) {
        // Already stored on the Hub: the new path references it, nothing is uploaded again.
        op.kind = hub::CommitOperation::Kind::kLfsFile;
        op.sha256 = r.lfs_sha256;
        op.size = r.size;
      } else {
        std::string content(r.size, '\0');
        ReadState state;
        FileRef ref{v->repo, r.commit, r.path, r.contentId(), r.size, r.xet_hash};
        auto got = r.size == 0 ? hub::HubResult<std::size_t>(std::size_t{0})
                               : engine_->read(ref, 0, std::span<char>(content), &state);
        if (!got || *got != r.size) {
          return fail(FsErrorKind::kIo, "cannot read " + r.path + " to move it to " + p.path);
        }
        op.kind = hub::CommitOperation::Kind::kFile;
        op.content = std::move(content);
      }
    } else {
      continue;
    }
    request.operations.push_back(std::move(op));
    ++changed;
  }
  if (summary.empty()) {
    summary = !options_.commit_message.empty()
                  ? options_.commit_message
                  : "Update " + std::to_string(changed) + (changed == 1 ? " file" : " files") +
                        " with hf-mount";
  }
  request.summary = summary;

  // On disk before the POST: if this process dies before the journal learns the outcome, the next
  // round looks for the commit by its id instead of sending the same changes a second time. The
  // records stored are those of the planned changes, taken from the overlay under v->mu: a path
  // counts only while its change is still the one the plan carries (a path deleted by the plan
  // and made again during the upload, or a file moved onto it, is not carried), and a staged
  // file only while it still names the frozen file at the frozen generation (a write after the
  // freeze goes to a copy, whose bytes this commit does not carry).
  const std::string inflight_key = std::string(kInflightPrefix) + commit_id;
  {
    std::set<std::string> sent;
    for (const auto& op : request.operations) {
      sent.insert(op.path);
    }
    std::vector<std::pair<std::string, std::string>> records;
    std::map<std::string, std::uint64_t> generations;
    std::unique_lock lock(v->mu);
    const auto& changes = v->writes->overlay.changes();
    for (const auto& p : plan) {
      auto it = changes.find(p.path);
      if (sent.count(p.path) == 0 || it == changes.end()) {
        continue;
      }
      const Change& c = it->second;
      bool same = false;
      switch (p.kind) {
        case Planned::Kind::kStaged:
          same = c.kind == Change::Kind::kFile && c.staged == p.staged &&
                 c.staged->name() == p.frozen.blob->path().filename().string() &&
                 !c.staged->changedSince(p.frozen.generation);
          break;
        case Planned::Kind::kMoved: {
          Change planned;
          planned.kind = Change::Kind::kFile;
          planned.remote = p.remote;
          same = c.kind == Change::Kind::kFile && !c.staged && c.remote &&
                 keyedChange(p.path, c) == keyedChange(p.path, planned);
          break;
        }
        case Planned::Kind::kDeleteFile:
        case Planned::Kind::kDeleteFolder:
          same = c.kind == Change::Kind::kDeleted ||
                 (c.kind == Change::Kind::kDir && c.hides_base);
          break;
      }
      if (!same) {
        continue;
      }
      records.emplace_back(p.path, keyedChange(p.path, c));
      if (p.kind == Planned::Kind::kStaged) {
        generations[p.path] = p.frozen.generation;
      }
    }
    v->writes->inflight_generations[commit_id] = std::move(generations);
    lock.unlock();
    if (auto ok = v->writes->journal->put(inflight_key, encodeInflight(records)); !ok) {
      lock.lock();
      v->writes->inflight_generations.erase(commit_id);
      lock.unlock();
      return fail(FsErrorKind::kIo, ok.error().message);
    }
  }
  bool maybe_landed = false;  // an attempt's outcome is unknown: keep the record for the next round
  auto failSent = [&](FsErrorKind kind, const std::string& message) {
    if (!maybe_landed) {
      (void)v->writes->journal->erase(inflight_key);
      std::lock_guard lock(v->mu);
      v->writes->inflight_generations.erase(commit_id);
    }
    return fail(kind, message);
  };

  std::string landed;
  for (int attempt = 0; attempt < kCommitAttempts && landed.empty(); ++attempt) {
    auto done = hub_->commit(v->repo, v->revision, request);
    if (done) {
      landed = done->commit;
      break;
    }
    const hub::HubError& e = done.error();
    if (e.kind == hub::HubErrorKind::kConflict) {
      // The branch moved. Ours goes on top only if nobody touched our paths meanwhile.
      auto head = hub_->revision(v->repo, v->revision);
      if (!head) {
        FsError fe = fromHubError(head.error(), "resolving " + v->revision);
        return failSent(fe.kind, fe.message);
      }
      std::vector<std::string> paths;
      for (const auto& op : request.operations) {
        paths.push_back(op.path);
      }
      auto before = hub_->pathsInfo(v->repo, request.parent_commit, paths);
      auto after = hub_->pathsInfo(v->repo, head->commit, paths);
      if (!before || !after) {
        return failSent(FsErrorKind::kIo, "could not compare the branch with ours after it moved");
      }
      std::map<std::string, std::string> was;
      for (const auto& t : *before) {
        was[t.path] = t.oid;
      }
      bool clash = before->size() != after->size();
      for (const auto& t : *after) {
        auto it = was.find(t.path);
        clash = clash || it == was.end() || it->second != t.oid;
      }
      if (clash) {
        return failSent(FsErrorKind::kIo, "conflict: " + v->revision + " moved to " + head->commit +
                                          " and changed some of the same paths; nothing was "
                                          "overwritten, resolve it and fsync again");
      }
      request.parent_commit = head->commit;
      continue;
    }
    if (e.kind == hub::HubErrorKind::kNetwork || e.kind == hub::HubErrorKind::kTimeout ||
        e.kind == hub::HubErrorKind::kServerError || e.kind == hub::HubErrorKind::kRateLimited) {
      // The answer may be lost while the commit landed: look for our id before deciding. Only
      // when the branch's history shows it did not land is it sent again.
      maybe_landed = true;
      auto recent = hub_->listCommits(v->repo, v->revision, kRecentCommits);
      if (!recent) {
        FsError fe = fromHubError(e, "commit");
        return failSent(fe.kind, fe.message);
      }
      for (const auto& c : *recent) {
        if (c.message.find(commit_id) != std::string::npos ||
            c.title.find(commit_id) != std::string::npos) {
          landed = c.id;
          break;
        }
      }
      if (landed.empty() && attempt + 1 < kCommitAttempts) {
        spdlog::warn("{}: commit failed ({}); it did not land, sending it again", v->key, e.message);
        std::this_thread::sleep_for(kCommitRetryPause * (attempt + 1));
        continue;
      }
      if (landed.empty()) {
        FsError fe = fromHubError(e, "commit");
        return failSent(fe.kind, fe.message);
      }
      break;
    }
    FsError fe = fromHubError(e, "commit");
    return failSent(fe.kind, fe.message);
  }
  if (landed.empty()) {
    return failSent(FsErrorKind::kIo, "the branch kept moving; giving up for now");
  }

  // Show the new commit and drop what it carried, in one step, so nothing flickers.
  auto next = loadSnapshot(v->repo, landed, std::nullopt);
  std::vector<std::string> touched;
  {
    std::lock_guard lock(v->mu);
    WriteState& ws = *v->writes;
    if (next) {
      v->current = *next;
      v->checked = std::chrono::steady_clock::now();
      ++v->epoch;  // a refresh that resolved the branch before this must not undo it
    } else {
      v->checked = {};  // the next access resolves the branch again and finds our commit
    }
    const Snapshot* base = next ? next->get() : nullptr;
    auto& changes = ws.overlay.mutableChanges();
    for (const auto& p : plan) {
      touched.push_back(p.path);
      auto it = changes.find(p.path);
      switch (p.kind) {
        case Planned::Kind::kStaged:
          // markCommitted and a later write agree under the file's own lock: either the write
          // came first (the change stays) or it brings the file back (Filesystem::restage).
          if (it != changes.end() && it->second.staged == p.staged &&
              p.staged->writers() > 0) {
            // Still open: the path keeps this file (and its inode) until it is closed.
            it->second.committed_generation = p.frozen.generation;
          } else if (it != changes.end() && it->second.staged == p.staged &&
                     p.staged->markCommitted(p.frozen.generation)) {
            changes.erase(it);
          } else if (it == changes.end()) {
            ws.overlay.remove(base, p.path);  // renamed or removed during the upload
          }
          break;
        case Planned::Kind::kMoved:
          if (it != changes.end() && !it->second.staged && it->second.remote &&
              it->second.remote->commit == p.remote->commit &&
              it->second.remote->path == p.remote->path) {
            changes.erase(it);
          }
          break;
        case Planned::Kind::kDeleteFile:
        case Planned::Kind::kDeleteFolder:
          if (it != changes.end() && it->second.kind == Change::Kind::kDeleted) {
            changes.erase(it);
          } else if (it != changes.end() && it->second.kind == Change::Kind::kDir) {
            it->second.hides_base = false;
          }
          break;
      }
    }
    ws.base_commit = landed;
    ws.last_commit = landed;
    ws.last_error.reset();
    if (ws.message == summary) {
      ws.message.clear();
    }
  }
  spdlog::info("{}: committed {} ({} changes)", v->key, landed, changed);
  if (auto ok = persist(*v, touched); !ok) {
    return finish(ok.error());
  }
  (void)v->writes->journal->erase(inflight_key);  // if left, the next round finds it landed
  {
    std::lock_guard lock(v->mu);
    v->writes->inflight_generations.erase(commit_id);
  }
  return finish(std::nullopt);
}

FsResult<void> Filesystem::waitForCommit(View& v, std::shared_ptr<StagedFile> forced) {
  std::unique_lock lock(v.mu);
  WriteState& ws = *v.writes;
  if (forced) {
    ws.forced.insert(std::move(forced));
  }
  // A round already running froze its content before this call: wait for the next one.
  std::uint64_t target = ws.rounds_started + 1;
  ws.rounds_wanted = std::max(ws.rounds_wanted, target);
  committer_cv_.notify_all();
  ws.done_cv.wait(lock, [&] { return ws.rounds_done >= target; });
  if (ws.last_failed_round >= target) {
    return common::Unexpected<FsError>(
        ws.last_error.value_or(FsError{FsErrorKind::kIo, v.key + ": commit failed"}));
  }
  return {};
}

bool Filesystem::commitAll(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool ok = true;
  for (const auto& v : writableViews()) {
    std::unique_lock lock(v->mu);
    if (!v->writes || v->writes->overlay.empty()) {
      continue;
    }
    WriteState& ws = *v->writes;
    for (const auto& [path, change] : ws.overlay.changes()) {
      if (change.staged) {
        ws.forced.insert(change.staged);
      }
    }
    std::uint64_t target = ws.rounds_started + 1;
    ws.rounds_wanted = std::max(ws.rounds_wanted, target);
    committer_cv_.notify_all();
    if (!ws.done_cv.wait_until(lock, deadline, [&] { return ws.rounds_done >= target; })) {
      spdlog::warn("{}: pending changes not committed in time; the next mount commits them",
                   v->key);
      ok = false;
    } else if (ws.last_failed_round >= target) {
      ok = false;
    }
  }
  return ok;
}

std::vector<PendingInfo> Filesystem::pending() const {
  std::vector<PendingInfo> out;
  for (const auto& v : writableViews()) {
    std::lock_guard lock(v->mu);
    if (!v->writes) {
      continue;
    }
    PendingInfo info;
    info.view = v->key;
    for (const auto& [path, change] : v->writes->overlay.changes()) {
      // Local folders and ignored names stay local, and a file an earlier commit carried while
      // open has nothing new: none of these is waiting for a commit.
      bool carried = change.committed_generation != 0 && change.staged &&
                     !change.staged->changedSince(change.committed_generation);
      if ((change.kind != Change::Kind::kDir || change.hides_base) && !ignored(path) && !carried) {
        ++info.changes;
      }
    }
    info.last_commit = v->writes->last_commit;
    info.last_error = v->writes->last_error ? v->writes->last_error->message : "";
    out.push_back(std::move(info));
  }
  std::lock_guard lock(problems_mu_);
  out.insert(out.end(), journal_problems_.begin(), journal_problems_.end());
  return out;
}

}  // namespace hfm::fs
