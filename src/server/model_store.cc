// server/model_store.cc: scanning the three sources, the header-summary cache, strata's models.json and
// blob files.
#include "server/model_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/log.h"
#include "gguf/gguf_file.h"
#include "server/sha256.h"
#include "tensor/dtype.h"

namespace strata::server {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxLayerTextBytes = 1 << 20;  // system/license/params layers of an Ollama manifest

struct FileStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// A regular file at `path`; with follow_links false a symbolic link there counts as no file (the store's
// own files are never links, so one found there was planted).
std::optional<FileStat> stat_file(const std::string& path, bool follow_links = true) {
  struct stat st {};
  if ((follow_links ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0 || !S_ISREG(st.st_mode))
    return std::nullopt;
  return FileStat{static_cast<uint64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::chrono::system_clock::time_point from_ns(int64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}

int64_t to_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::optional<std::string> read_small_file(const std::string& path, size_t limit) {
  auto st = stat_file(path);
  if (!st || st->size > limit) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Creates `base` + a unique suffix exclusively, never through a link (O_EXCL refuses any existing name,
// a planted link included). Returns the fd and fills `path`.
Result<int> create_exclusive(const std::string& base, std::string& path) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 16; ++attempt) {
    path = fmt::format("{}.{}-{}-{:x}", base, ::getpid(), counter.fetch_add(1), std::random_device{}());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    if (errno != EEXIST) return error("{}: cannot create: {}", path, std::strerror(errno));
  }
  return error("{}: cannot create a unique temporary file", base);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return error("{}: write failed: {}", path, std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

bool is_gguf_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".gguf";
}

ModelEntry file_entry(const std::string& path) {
  ModelEntry e;
  std::error_code ec;
  std::string abs = fs::absolute(path, ec).lexically_normal().string();
  e.name.model = model_part_from_stem(fs::path(path).stem().string());
  e.gguf_path = abs;
  auto st = stat_file(abs);
  e.size_bytes = st ? st->size : 0;
  e.modified_at = from_ns(st ? st->mtime_ns : 0);
  e.source = ModelSource::File;
  // A manifest-like identity (hashing a multi-GiB file would make /api/tags slow).
  e.digest = sha256_hex(fmt::format("strata-file\n{}\n{}\n{}", abs, e.size_bytes, st ? st->mtime_ns : 0));
  return e;
}

// "sha256:<hex>" or "sha256-<hex>" → hex; nullopt when malformed.
std::optional<std::string> digest_hex(std::string_view digest) {
  if (digest.size() != 71 || digest.substr(0, 6) != "sha256" || (digest[6] != ':' && digest[6] != '-')) return std::nullopt;
  std::string hex(digest.substr(7));
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return hex;
}

}  // namespace

ModelStore::ModelStore(StoreOptions options) : options_(std::move(options)) {}

Status ModelStore::init() {
  if (options_.store_dir.empty()) return Status::ok();
  std::error_code ec;
  fs::create_directories(fs::path(options_.store_dir) / "blobs", ec);
  if (ec) return error("{}: cannot create the model store: {}", options_.store_dir, ec.message());
  // Uploads cut off by a crash or a stop leave *.partial-* files: nobody will finish them.
  for (const auto& de : fs::directory_iterator(fs::path(options_.store_dir) / "blobs", ec)) {
    if (de.path().filename().string().find(".partial-") == std::string::npos) continue;
    std::error_code rm;
    fs::remove(de.path(), rm);  // removes a link itself, never its target
    if (!rm) log(LogLevel::Info, "strata serve: removed the unfinished upload {}", de.path().string());
  }
  return Status::ok();
}

std::vector<ModelEntry> ModelStore::scan_files() const {
  std::vector<ModelEntry> out;
  for (const auto& p : options_.paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> files;
      for (const auto& de : fs::directory_iterator(p, ec))
        if (de.is_regular_file(ec) && is_gguf_name(de.path())) files.push_back(de.path().string());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) out.push_back(file_entry(f));
    } else if (fs::is_regular_file(p, ec)) {
      out.push_back(file_entry(p));
    }
  }
  return out;
}

std::vector<ModelEntry> ModelStore::scan_ollama() const {
  std::vector<ModelEntry> out;
  if (options_.ollama_dir.empty()) return out;
  const fs::path root = fs::path(options_.ollama_dir) / "manifests";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  // manifests/<host>/<namespace>/<model>/<tag>
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it.depth() > 3) {
      it.disable_recursion_pending();
      continue;
    }
    if (it.depth() != 3 || !it->is_regular_file(ec)) continue;
    const fs::path rel = fs::relative(it->path(), root, ec);
    std::vector<std::string> parts;
    for (const auto& part : rel) parts.push_back(part.string());
    if (parts.size() != 4) continue;
    auto name = parse_model_name(fmt::format("{}/{}/{}:{}", parts[0], parts[1], parts[2], parts[3]));
    auto text = read_small_file(it->path().string(), kMaxLayerTextBytes);
    if (!name || !text) continue;
    Json manifest = Json::parse(*text, nullptr, false);
    if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array()) continue;
    ModelEntry e;
    e.name = name.value();
    e.source = ModelSource::Ollama;
    e.digest = sha256_hex(*text);
    auto st = stat_file(it->path().string());
    e.modified_at = from_ns(st ? st->mtime_ns : 0);
    bool ok = true;
    for (const auto& layer : manifest["layers"]) {
      if (!layer.is_object()) continue;
      std::string media = layer.value("mediaType", "");
      auto hex = digest_hex(layer.value("digest", ""));
      if (!hex) continue;
      const std::string blob = (fs::path(options_.ollama_dir) / "blobs" / ("sha256-" + *hex)).string();
      if (layer.contains("size") && layer["size"].is_number_unsigned()) e.size_bytes += layer["size"].get<uint64_t>();
      if (media == "application/vnd.ollama.image.model") {
        if (!e.gguf_path.empty()) continue;  // a projector or second model layer: the first is the LLM
        if (!stat_file(blob)) ok = false;
        e.gguf_path = blob;
      } else if (media == "application/vnd.ollama.image.system") {
        e.system = read_small_file(blob, kMaxLayerTextBytes);
      } else if (media == "application/vnd.ollama.image.license") {
        e.license = read_small_file(blob, kMaxLayerTextBytes).value_or("");
      } else if (media == "application/vnd.ollama.image.params") {
        if (auto p = read_small_file(blob, kMaxLayerTextBytes)) {
          Json params = Json::parse(*p, nullptr, false);
          if (params.is_object()) e.parameters = params;
        }
      }
      // Template layers hold Go templates; strata renders the GGUF's Jinja template instead.
    }
    if (ok && !e.gguf_path.empty()) out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<Json>> ModelStore::read_records() const {
  std::vector<Json> records;
  if (options_.store_dir.empty()) return records;
  const std::string path = (fs::path(options_.store_dir) / "models.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return records;
  auto text = read_small_file(path, 64u << 20);
  if (!text) return error(ErrorKind::Io, "{}: cannot read", path);
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array()) return error("{}: not a strata model list", path);
  for (auto& r : j["models"])
    if (r.is_object() && r.contains("name") && r["name"].is_string() && r.contains("gguf") && r["gguf"].is_string())
      records.push_back(r);
  return records;
}

Status ModelStore::write_records(const std::vector<Json>& records) const {
  const fs::path dir(options_.store_dir);
  const std::string path = (dir / "models.json").string();
  // A record whose blob is gone (deleted, or a link) is dropped rather than kept pointing at nothing.
  std::vector<Json> kept;
  for (const auto& r : records) {
    const std::string gguf = r["gguf"].get<std::string>();
    if (gguf.rfind("blob:", 0) == 0 && !stat_file(blob_path(gguf.substr(5)), false)) continue;
    kept.push_back(r);
  }
  std::string tmp;
  STRATA_ASSIGN_OR_RETURN(int fd, create_exclusive(path + ".tmp", tmp));
  Status w = write_all(fd, dump_json(Json{{"models", kept}}) + "\n", tmp);
  if (::close(fd) != 0 && w.is_ok()) w = error(ErrorKind::Io, "{}: cannot write: {}", tmp, std::strerror(errno));
  std::error_code ec;
  if (w.is_ok()) fs::rename(tmp, path, ec);  // atomic replace (of a link at the name, not its target)
  if (!w.is_ok() || ec) {
    fs::remove(tmp, ec);
    return w.is_ok() ? error(ErrorKind::Io, "{}: cannot replace: {}", path, ec.message()) : w;
  }
  store_cache_.reset();
  return Status::ok();
}

std::vector<ModelEntry> ModelStore::scan_store() const {
  std::vector<ModelEntry> parsed;
  {
    std::lock_guard lock(mutex_);
    // The list is parsed again only when models.json changed (it is read on every request).
    const auto st = options_.store_dir.empty()
                        ? std::optional<FileStat>()
                        : stat_file((fs::path(options_.store_dir) / "models.json").string(), false);
    if (store_cache_ && st && store_cache_->size == st->size && store_cache_->mtime_ns == st->mtime_ns) {
      parsed = store_cache_->entries;
    } else {
      auto r = read_records();
      if (!r) {
        log(LogLevel::Warn, "strata serve: {}", r.status().message());
        return {};
      }
      parsed = entries_of(r.value());
      if (st) store_cache_ = StoreCache{st->size, st->mtime_ns, parsed};
    }
  }
  std::vector<ModelEntry> out;
  for (auto& e : parsed) {
    auto st = stat_file(e.gguf_path, !is_store_blob(e.gguf_path));
    if (!st) continue;  // the file it names is gone
    e.size_bytes = st->size;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ModelEntry> ModelStore::entries_of(const std::vector<Json>& records) const {
  std::vector<ModelEntry> out;
  for (const auto& r : records) {
    auto name = parse_model_name(r["name"].get<std::string>());
    if (!name) continue;
    ModelEntry e;
    e.name = name.value();
    e.source = ModelSource::Store;
    std::string gguf = r["gguf"].get<std::string>();
    e.gguf_path = gguf.rfind("blob:", 0) == 0 ? blob_path(gguf.substr(5)) : gguf;
    e.modified_at = from_ns(r.value("modified_ns", int64_t{0}));
    e.digest = sha256_hex(dump_json(r));
    if (r.contains("system") && r["system"].is_string()) e.system = r["system"].get<std::string>();
    if (r.contains("template") && r["template"].is_string()) e.chat_template = r["template"].get<std::string>();
    if (r.contains("parameters") && r["parameters"].is_object()) e.parameters = r["parameters"];
    if (r.contains("license") && r["license"].is_string()) e.license = r["license"].get<std::string>();
    if (r.contains("parent") && r["parent"].is_string()) e.parent_model = r["parent"].get<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

bool ModelStore::is_store_blob(const std::string& path) const {
  if (options_.store_dir.empty()) return false;
  const std::string blobs = (fs::path(options_.store_dir) / "blobs").string() + "/";
  return path.rfind(blobs, 0) == 0;
}

std::vector<ModelEntry> ModelStore::list() const {
  std::vector<ModelEntry> all;
  std::set<std::string> seen;
  for (auto& source : {scan_store(), scan_files(), scan_ollama()})
    for (const auto& e : source)
      if (seen.insert(e.name.key()).second) all.push_back(e);
  std::stable_sort(all.begin(), all.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.modified_at > b.modified_at; });
  return all;
}

std::optional<ModelEntry> ModelStore::find(const ModelName& name) const {
  const std::string key = name.key();
  for (const auto& e : scan_store())
    if (e.name.key() == key) return e;
  for (const auto& e : scan_files())
    if (e.name.key() == key) return e;
  for (const auto& e : scan_ollama())
    if (e.name.key() == key) return e;
  return std::nullopt;
}

Result<std::shared_ptr<const ModelStore::HeaderInfo>> ModelStore::header_info(const std::string& path) const {
  const bool follow = !is_store_blob(path);
  auto st = stat_file(path, follow);
  if (!st) return error("{}: model file is missing", path);
  {
    std::lock_guard lock(mutex_);
    auto it = summaries_.find(path);
    if (it != summaries_.end() && it->second.size == st->size && it->second.mtime_ns == st->mtime_ns) return it->second.info;
  }
  // Parsed once per file version. Arrays longer than /api/show prints are counted, not kept: the
  // summary and the non-verbose model_info need only their lengths.
  gguf::ParseLimits limits;
  limits.max_kept_array_items = kShownArrayItems;
  limits.follow_links = follow;
  STRATA_ASSIGN_OR_RETURN(auto file, gguf::read_file(path, gguf_type_lookup(), limits));
  auto info = std::make_shared<HeaderInfo>();
  STRATA_ASSIGN_OR_RETURN(info->summary, summarize_gguf(file));
  info->model_info = model_info_json(file, /*verbose=*/false);
  std::lock_guard lock(mutex_);
  // A bounded cache: forget everything when it grows past what any real store holds.
  if (summaries_.size() >= kMaxCachedHeaders) summaries_.clear();
  summaries_[path] = CachedHeader{st->size, st->mtime_ns, info};
  return std::shared_ptr<const HeaderInfo>(info);
}

Result<GgufSummary> ModelStore::summary(const ModelEntry& entry) const {
  STRATA_ASSIGN_OR_RETURN(auto info, header_info(entry.gguf_path));
  GgufSummary s = info->summary;
  if (entry.chat_template) {
    s.chat_template = *entry.chat_template;
    s.capabilities = derive_capabilities(s);
  }
  return s;
}

Result<ModelStore::ShowInfo> ModelStore::show_info(const ModelEntry& entry, bool verbose) const {
  ShowInfo out;
  if (!verbose) {
    STRATA_ASSIGN_OR_RETURN(auto info, header_info(entry.gguf_path));
    out.model_info = info->model_info;
    return out;
  }
  // Verbose prints every array in full: a parse of its own, under the reader's memory limit.
  gguf::ParseLimits limits;
  limits.follow_links = !is_store_blob(entry.gguf_path);
  STRATA_ASSIGN_OR_RETURN(auto file, gguf::read_file(entry.gguf_path, gguf_type_lookup(), limits));
  out.model_info = model_info_json(file, /*verbose=*/true);
  out.tensors = tensors_json(file);
  return out;
}

Json ModelStore::record_of(const ModelEntry& e) const {
  Json r{{"name", e.name.host + "/" + e.name.space + "/" + e.name.model + ":" + e.name.tag}};
  const std::string blobs = (fs::path(options_.store_dir) / "blobs").string() + "/sha256-";
  r["gguf"] = e.gguf_path.rfind(blobs, 0) == 0 ? "blob:" + e.gguf_path.substr(blobs.size()) : e.gguf_path;
  if (e.system) r["system"] = *e.system;
  if (e.chat_template) r["template"] = *e.chat_template;
  r["parameters"] = e.parameters;
  if (!e.license.empty()) r["license"] = e.license;
  if (!e.parent_model.empty()) r["parent"] = e.parent_model;
  r["modified_ns"] = to_ns(std::chrono::system_clock::now());
  return r;
}

Status ModelStore::copy(const ModelEntry& source, const ModelName& destination) {
  if (!writable()) return error("model store is read-only (no --store directory)");
  ModelEntry e = source;
  e.name = destination;
  std::lock_guard lock(mutex_);
  // Checked under the lock that remove() deletes blobs under, so a record never points at a blob that a
  // concurrent delete has just removed.
  if (is_store_blob(e.gguf_path) && !stat_file(e.gguf_path, false))
    return error("model file of '{}' was deleted meanwhile ({})", source.name.display(), e.gguf_path);
  STRATA_ASSIGN_OR_RETURN(auto records, read_records());
  std::vector<Json> replaced;
  std::erase_if(records, [&](const Json& r) {
    auto n = parse_model_name(r["name"].get<std::string>());
    const bool same = n && n.value().key() == destination.key();
    if (same) replaced.push_back(r);
    return same;
  });
  records.push_back(record_of(e));
  STRATA_RETURN_IF_ERROR(write_records(records));
  // A replaced alias may have been the last one naming its blob.
  for (const auto& r : replaced) drop_blob_if_unused(r["gguf"].get<std::string>(), records);
  return Status::ok();
}

void ModelStore::drop_blob_if_unused(const std::string& ref, const std::vector<Json>& records) const {
  if (ref.rfind("blob:", 0) != 0) return;
  if (std::any_of(records.begin(), records.end(), [&](const Json& r) { return r["gguf"] == ref; })) return;
  std::error_code ec;
  fs::remove(blob_path(ref.substr(5)), ec);
}

Status ModelStore::remove(const ModelEntry& entry) {
  if (entry.source == ModelSource::File)
    return error("model '{}' is a file given to the server; remove {} instead", entry.name.display(), entry.gguf_path);
  if (entry.source == ModelSource::Ollama)
    return error("model '{}' belongs to the Ollama store; remove it with `ollama rm`", entry.name.display());
  std::lock_guard lock(mutex_);
  STRATA_ASSIGN_OR_RETURN(auto records, read_records());
  std::vector<Json> removed;
  std::erase_if(records, [&](const Json& r) {
    auto n = parse_model_name(r["name"].get<std::string>());
    const bool same = n && n.value().key() == entry.name.key();
    if (same) removed.push_back(r);
    return same;
  });
  STRATA_RETURN_IF_ERROR(write_records(records));
  // Drop the blob once no model refers to it.
  for (const auto& r : removed) drop_blob_if_unused(r["gguf"].get<std::string>(), records);
  return Status::ok();
}

Result<ModelEntry> ModelStore::create(const CreateSpec& spec) {
  if (!writable()) return error("model store is read-only (no --store directory)");
  ModelEntry e;
  if (spec.base) {
    e = *spec.base;
    e.parent_model = spec.base->name.display();
  }
  if (spec.gguf_blob) {
    e.gguf_path = blob_path(*spec.gguf_blob);
    if (!has_blob(*spec.gguf_blob)) return error("blob sha256:{} not found", *spec.gguf_blob);
    // Never through a link: a planted one would make the error quote another file's first bytes.
    gguf::ParseLimits limits;
    limits.follow_links = false;
    limits.max_kept_array_items = kShownArrayItems;
    auto header = gguf::read_file(e.gguf_path, gguf_type_lookup(), limits);
    if (!header) return error(ErrorKind::Corruption, "supplied file was not in GGUF format: {}", header.status().message());
  }
  if (e.gguf_path.empty()) return error("neither 'from' or 'files' was specified");
  e.name = spec.name;
  e.source = ModelSource::Store;
  if (spec.system) e.system = spec.system;
  if (spec.chat_template) e.chat_template = spec.chat_template;
  for (const auto& [k, v] : spec.parameters.items()) e.parameters[k] = v;
  if (spec.license) e.license = *spec.license;
  STRATA_RETURN_IF_ERROR(copy(e, spec.name));
  auto found = find(spec.name);
  if (!found) return error(ErrorKind::Internal, "model '{}' was written but cannot be read back", spec.name.display());
  return *found;
}

std::string ModelStore::blob_path(std::string_view hex) const {
  return (fs::path(options_.store_dir) / "blobs" / ("sha256-" + std::string(hex))).string();
}

bool ModelStore::has_blob(std::string_view hex) const {
  return writable() && stat_file(blob_path(hex), /*follow_links=*/false).has_value();
}

struct ModelStore::BlobWriter::State {
  std::string hex, tmp_path, final_path;
  int fd = -1;
  Sha256 hash;
  bool committed = false;
};

Result<std::unique_ptr<ModelStore::BlobWriter>> ModelStore::BlobWriter::open(const ModelStore& store, std::string hex) {
  if (!store.writable()) return error("model store is read-only (no --store directory)");
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->state_ = std::make_unique<State>();
  auto& s = *w->state_;
  s.hex = std::move(hex);
  s.final_path = store.blob_path(s.hex);
  STRATA_ASSIGN_OR_RETURN(s.fd, create_exclusive(s.final_path + ".partial", s.tmp_path));
  return w;
}

ModelStore::BlobWriter::~BlobWriter() {
  if (!state_) return;
  if (state_->fd >= 0) ::close(state_->fd);
  if (!state_->committed) {
    std::error_code ec;
    fs::remove(state_->tmp_path, ec);
  }
}

Status ModelStore::BlobWriter::write(std::string_view data) {
  state_->hash.update(data);
  return write_all(state_->fd, data, state_->tmp_path);
}

Status ModelStore::BlobWriter::commit() {
  auto& s = *state_;
  const int fd = s.fd;
  s.fd = -1;
  if (::close(fd) != 0) return error(ErrorKind::Io, "{}: write failed: {}", s.tmp_path, std::strerror(errno));
  std::string got = s.hash.hex_digest();
  if (got != s.hex)
    return error(ErrorKind::Corruption, "digest mismatch, expected \"sha256:{}\", got \"sha256:{}\"", s.hex, got);
  std::error_code ec;
  fs::rename(s.tmp_path, s.final_path, ec);  // replaces a link at the name, never writes through it
  if (ec) return error(ErrorKind::Io, "{}: cannot store blob: {}", s.final_path, ec.message());
  s.committed = true;
  return Status::ok();
}

}  // namespace strata::server
