#include "queue/groups.h"

#include <algorithm>

#include "format/segment_name.h"

namespace ironbus::queue {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not ours: names are written lowercase only
}

std::optional<std::string> DecodeHex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

std::optional<std::string> Groups::ParseGroupFileName(std::string_view file_name) {
  constexpr std::string_view kSuffix = ".ckpt";
  for (std::string_view prefix : {std::string_view("cursor-"), std::string_view("attempts-")}) {
    if (file_name.size() <= prefix.size() + kSuffix.size()) continue;
    if (file_name.substr(0, prefix.size()) != prefix) continue;
    if (file_name.substr(file_name.size() - kSuffix.size()) != kSuffix) continue;
    auto name = DecodeHex(file_name.substr(prefix.size(), file_name.size() - prefix.size() - kSuffix.size()));
    if (!name || !format::IsValidGroupName(*name)) return std::nullopt;
    // The maker is the authority on the spelling: accept only what it would produce.
    if (format::CursorFileName(*name) != file_name && format::AttemptsFileName(*name) != file_name) {
      return std::nullopt;
    }
    return name;
  }
  return std::nullopt;
}

Groups::Groups(io::FileSystem* fs, std::string data_dir, storage::Log* log, QueueOptions options)
    : fs_(fs), data_dir_(std::move(data_dir)), log_(log), options_(std::move(options)) {}

Groups::~Groups() = default;

Result<std::unique_ptr<Groups>> Groups::Open(io::FileSystem* fs, std::string data_dir, storage::Log* log,
                                             std::unique_ptr<storage::Log> dlq_log, QueueOptions options,
                                             Clock* clock) {
  RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Groups> g(new Groups(fs, std::move(data_dir), log, std::move(options)));
  // Dead letters are evidence: never reaped, and stored verbatim (no writer-side compression).
  storage::LogOptions dlq_options = log->options();
  dlq_options.retention = storage::RetentionOptions();
  dlq_options.compression = format::Compression::kNone;
  ASSIGN_OR_RETURN(g->dlq_, DeadLetterLog::Open(fs, g->data_dir_, std::move(dlq_log), dlq_options, clock));

  std::vector<std::string> names = {""};
  ASSIGN_OR_RETURN(auto entries, fs->List(g->data_dir_));
  for (const io::DirEntry& e : entries) {
    if (auto name = ParseGroupFileName(e.name)) names.push_back(*name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::lock_guard<std::mutex> lock(g->mu_);
  for (const std::string& name : names) {
    // Groups found on disk are loaded even past max_groups: they exist already; the cap only
    // refuses new ones.
    Group::Env env{fs, g->data_dir_, log, g->dlq_.get(), &g->options_};
    ASSIGN_OR_RETURN(auto group, Group::Open(env, name, g->DeclaredMode(name)));
    g->groups_.emplace(name, std::move(group));
  }
  return g;
}

GroupMode Groups::DeclaredMode(std::string_view name) const {
  const auto& ks = options_.key_shared_groups;
  if (std::find(ks.begin(), ks.end(), name) != ks.end()) return GroupMode::kKeyShared;
  const auto& bc = options_.broadcast_groups;
  if (std::find(bc.begin(), bc.end(), name) != bc.end()) return GroupMode::kBroadcast;
  return GroupMode::kCompeting;
}

Result<Group*> Groups::GetOrCreate(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = groups_.find(name); it != groups_.end()) return it->second.get();
  return CreateLocked(name);
}

Result<Group*> Groups::CreateLocked(std::string_view name) {
  if (!name.empty() && !format::IsValidGroupName(name)) {
    return CodedError(StatusCode::kInvalidArgument, kErrInvalidGroupName,
                      "a group name is 1 to 128 graphic ASCII bytes");
  }
  if (!name.empty() && options_.max_groups != 0) {
    const size_t named = groups_.size() - groups_.count("");
    if (named >= options_.max_groups) {
      return CodedError(StatusCode::kFailedPrecondition, kErrTooManyGroups,
                        "the broker already has " + std::to_string(named) + " named groups");
    }
  }
  Group::Env env{fs_, data_dir_, log_, dlq_.get(), &options_};
  ASSIGN_OR_RETURN(auto group, Group::Open(env, std::string(name), DeclaredMode(name)));
  Group* raw = group.get();
  groups_.emplace(std::string(name), std::move(group));
  if (auto it = evicted_.find(name); it != evicted_.end()) evicted_.erase(it);  // reloaded
  return raw;
}

Group* Groups::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Groups::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_) out.push_back(name);
  return out;
}

size_t Groups::named_group_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size() - groups_.count("");
}

uint64_t Groups::RetentionFloor() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t floor = UINT64_MAX;
  for (const auto& [name, g] : groups_) floor = std::min(floor, g->committed_floor());
  for (const auto& [name, committed] : evicted_) floor = std::min(floor, committed);
  return floor;
}

Result<bool> Groups::EvictIfIdle(std::string_view name, int64_t now_ns) {
  Group* g = Find(name);
  const int64_t idle_ns = static_cast<int64_t>(std::min<uint64_t>(options_.group_idle_evict_ms, INT64_MAX / 1'000'000)) *
                          1'000'000;
  if (g == nullptr || options_.group_idle_evict_ms == 0 || !g->EvictableAt(now_ns, idle_ns)) return false;
  // Outside mu_ (never held while calling into a Group): the cursor must be on disk before the
  // group leaves memory, or a reload would resume from an older checkpoint (redeliveries).
  RETURN_IF_ERROR(g->Checkpoint());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(name);
  if (it == groups_.end() || it->second.get() != g) return false;
  evicted_[std::string(name)] = g->committed();
  groups_.erase(it);
  return true;
}

uint64_t Groups::evicted_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evicted_.size();
}

Status Groups::CheckpointAll() {
  std::vector<Group*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, g] : groups_) all.push_back(g.get());
  }
  Status first;
  for (Group* g : all) {
    Status st = g->Checkpoint();
    if (first.ok() && !st.ok()) first = st.WithContext("group '" + g->name() + "'");
  }
  return first;
}

Status Groups::Close() { return dlq_->Close(); }

}  // namespace ironbus::queue
