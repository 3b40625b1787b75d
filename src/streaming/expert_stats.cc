// streaming/expert_stats.cc: counting routes and successors, predicting, and the statistics file.
#include "streaming/expert_stats.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

namespace strata::streaming {

static_assert(std::endian::native == std::endian::little, "the statistics file is written in host byte order");

namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'A', 'X', 'S', 'T', '1'};
constexpr uint32_t kVersion = 1;
struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t n_layer;
  uint32_t n_expert;
  uint32_t n_successors;
  uint64_t identity;
};
static_assert(sizeof(FileHeader) == 32);

uint64_t fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

constexpr uint64_t kMinObservations = 4;

// The lower end of the 95% Wilson score interval of k successes in n: the probability k / n supports once its
// sampling noise is allowed for. Raw ratios of a few observations look like co-activation where routing is
// near uniform (2 of 4 is "0.5"), and every guess they trigger is an expert slice read for nothing.
double wilson_lower(uint64_t k, uint64_t n) {
  constexpr double z = 1.96;
  const double nn = static_cast<double>(n), p = static_cast<double>(k) / nn;
  const double centre = p + z * z / (2 * nn);
  const double margin = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
  return std::max(0.0, (centre - margin) / (1 + z * z / nn));
}

int successors_for(int n_expert, int n_used) { return std::min(n_expert, std::max(8, 2 * n_used)); }

}  // namespace

uint64_t model_identity(const model::Model& m) {
  uint64_t h = 1469598103934665603ull;
  for (const gguf::TensorInfo& t : m.tensors) {
    h = fnv(h, t.name.data(), t.name.size());
    h = fnv(h, t.dims.data(), t.dims.size() * sizeof(int64_t));
    h = fnv(h, &t.type_id, sizeof(t.type_id));
    h = fnv(h, &t.offset, sizeof(t.offset));
  }
  return h;
}

std::string default_stats_path(const model::Model& m, std::string_view model_path, std::string_view xdg_state_home,
                               std::string_view home) {
  const std::string base = !xdg_state_home.empty() ? std::string(xdg_state_home)
                                                  : std::string(home.empty() ? "." : home) + "/.local/state";
  const std::string stem = std::filesystem::path(std::string(model_path)).stem().string();
  return fmt::format("{}/strata/expert-stats/{}-{:016x}.bin", base, stem, model_identity(m));
}

ExpertStats::ExpertStats(int n_layer, int n_expert, int n_used)
    : n_layer_(n_layer),
      n_expert_(n_expert),
      n_used_(n_used),
      n_successors_(successors_for(n_expert, n_used)),
      counts_(static_cast<size_t>(n_layer) * n_expert, 0),
      followed_(counts_.size(), 0),
      successors_(counts_.size() * n_successors_) {}

void ExpertStats::record(int layer, std::span<const int32_t> experts) {
  if (layer < 0 || layer >= n_layer_) return;
  for (int32_t e : experts)
    if (e >= 0 && e < n_expert_) ++counts_[index(layer, e)];
  const bool single = !experts.empty() && experts.size() <= static_cast<size_t>(n_used_);
  if (single && prev_layer_ >= 0 && prev_layer_ == layer - 1 && !prev_.empty()) {
    for (int32_t from : prev_) {
      ++followed_[index(prev_layer_, from)];
      for (int32_t to : experts)
        if (to >= 0 && to < n_expert_) count_successor(prev_layer_, from, to);
    }
  }
  prev_layer_ = single ? layer : -1;
  prev_.assign(experts.begin(), experts.end());
}

// Space-saving: a full table gives its least counted slot to the newcomer, which inherits that count.
void ExpertStats::count_successor(int layer, int32_t from, int32_t to) {
  Successor* row = &successors_[index(layer, from) * n_successors_];
  Successor* least = row;
  for (int i = 0; i < n_successors_; ++i) {
    if (row[i].expert == static_cast<uint32_t>(to)) {
      if (row[i].count < UINT32_MAX) ++row[i].count;
      return;
    }
    if (row[i].count < least->count) least = &row[i];
  }
  least->expert = static_cast<uint32_t>(to);
  if (least->count < UINT32_MAX) ++least->count;
}

std::vector<std::pair<int32_t, double>> ExpertStats::predict(int layer, std::span<const int32_t> experts,
                                                             double min_probability, size_t max_n) const {
  std::vector<std::pair<int32_t, double>> out;
  if (layer < 0 || layer + 1 >= n_layer_) return out;
  std::vector<double> best(n_expert_, 0.0);
  for (int32_t from : experts) {
    if (from < 0 || from >= n_expert_) continue;
    // A handful of observations is not a probability: predicting from one would read experts at random.
    const uint64_t seen = followed_[index(layer, from)];
    if (seen < kMinObservations) continue;
    const Successor* row = &successors_[index(layer, from) * n_successors_];
    for (int i = 0; i < n_successors_; ++i)
      if (row[i].expert != kNone)
        best[row[i].expert] = std::max(best[row[i].expert], wilson_lower(std::min<uint64_t>(row[i].count, seen), seen));
  }
  for (int32_t e = 0; e < n_expert_; ++e)
    if (best[e] > 0 && best[e] >= min_probability) out.emplace_back(e, best[e]);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  if (out.size() > max_n) out.resize(max_n);
  return out;
}

std::vector<ExpertKey> ExpertStats::hottest(size_t max_n) const {
  std::vector<size_t> idx;
  for (size_t i = 0; i < counts_.size(); ++i)
    if (counts_[i] > 0) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return counts_[a] > counts_[b]; });
  if (idx.size() > max_n) idx.resize(max_n);
  std::vector<ExpertKey> out;
  for (size_t i : idx) out.push_back({static_cast<int>(i / n_expert_), static_cast<int32_t>(i % n_expert_)});
  return out;
}

uint64_t ExpertStats::total() const {
  uint64_t t = 0;
  for (uint64_t c : counts_) t += c;
  return t;
}

Status ExpertStats::save(const std::string& path, uint64_t identity) const {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return error("cannot create '{}': {}", p.parent_path().string(), ec.message());
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.n_layer = static_cast<uint32_t>(n_layer_);
  h.n_expert = static_cast<uint32_t>(n_expert_);
  h.n_successors = static_cast<uint32_t>(n_successors_);
  h.identity = identity;
  // Written beside the target and renamed over it: a crash never leaves half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&h), sizeof(h));
    out.write(reinterpret_cast<const char*>(counts_.data()), counts_.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(followed_.data()), followed_.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(successors_.data()), successors_.size() * sizeof(Successor));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return error("cannot write expert statistics to '{}'", tmp);
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return error("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  return Status::ok();
}

Result<ExpertStats> ExpertStats::load(const std::string& path, uint64_t identity, int n_layer, int n_expert,
                                      int n_used) {
  ExpertStats s(n_layer, n_expert, n_used);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return s;  // no statistics yet
  const uint64_t want = sizeof(FileHeader) + s.counts_.size() * sizeof(uint64_t) * 2 +
                        s.successors_.size() * sizeof(Successor);
  std::ifstream in(path, std::ios::binary);
  FileHeader h{};
  if (size < sizeof(FileHeader) || !in.read(reinterpret_cast<char*>(&h), sizeof(h)))
    return error("'{}' is too short to hold expert statistics", path);
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.version != kVersion)
    return error("'{}' is not an expert statistics file of version {}", path, kVersion);
  if (h.identity != identity || h.n_layer != static_cast<uint32_t>(n_layer) ||
      h.n_expert != static_cast<uint32_t>(n_expert) || h.n_successors != static_cast<uint32_t>(s.n_successors_))
    return error("'{}' holds statistics of another model ({:016x}, {} layers × {} experts)", path, h.identity,
                 h.n_layer, h.n_expert);
  if (size != want) return error("'{}' has {} bytes; statistics of this model take {}", path, size, want);
  std::vector<char> bytes(want - sizeof(FileHeader));
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    return error("cannot read expert statistics from '{}'", path);
  const char* p = bytes.data();
  std::memcpy(s.counts_.data(), p, s.counts_.size() * sizeof(uint64_t));
  p += s.counts_.size() * sizeof(uint64_t);
  std::memcpy(s.followed_.data(), p, s.followed_.size() * sizeof(uint64_t));
  p += s.followed_.size() * sizeof(uint64_t);
  std::memcpy(s.successors_.data(), p, s.successors_.size() * sizeof(Successor));
  for (const Successor& x : s.successors_)
    if (x.expert != kNone && x.expert >= static_cast<uint32_t>(n_expert))
      return error("'{}' names expert {} of a model with {} experts", path, x.expert, n_expert);
  return s;
}

}  // namespace strata::streaming
