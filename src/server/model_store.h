// server/model_store.h: the models the server can name: GGUF files and directories given on the command
// line, strata's own store (aliases, created models, uploaded blobs) and an existing Ollama store
// (manifests → blobs, read in place). Lists, lookups, header summaries, and the store's mutations.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/json_util.h"
#include "server/model_info.h"
#include "server/model_name.h"

namespace strata::server {

enum class ModelSource { File, Store, Ollama };

struct ModelEntry {
  ModelName name;
  std::string gguf_path;  // the weights
  std::string digest;     // 64 hex characters
  uint64_t size_bytes = 0;
  std::chrono::system_clock::time_point modified_at;
  ModelSource source = ModelSource::File;
  // Overrides carried by the model (Ollama layers or /api/create).
  std::optional<std::string> system;
  std::optional<std::string> chat_template;  // a Jinja template replacing the GGUF's
  Json parameters = Json::object();          // default options ({"stop":[...],"temperature":0.7})
  std::string license;
  std::string parent_model;
};

struct StoreOptions {
  std::vector<std::string> paths;  // GGUF files, or directories whose *.gguf files are served
  std::string store_dir;           // strata's own store; "" disables create/copy/delete/blobs
  std::string ollama_dir;          // an Ollama models directory (manifests/, blobs/); "" for none
};

// What /api/create asks for, parsed at the edge.
struct CreateSpec {
  ModelName name;
  std::optional<ModelEntry> base;        // "from": the model this one derives from
  std::optional<std::string> gguf_blob;  // a blob digest (hex) holding a GGUF file
  std::optional<std::string> system;
  std::optional<std::string> chat_template;
  Json parameters = Json::object();
  std::optional<std::string> license;
};

class ModelStore {
 public:
  explicit ModelStore(StoreOptions options);

  // Creates the store directory if one is configured.
  Status init();

  // Every model, newest first. Where names collide, the store wins over files, files over Ollama.
  std::vector<ModelEntry> list() const;
  std::optional<ModelEntry> find(const ModelName& name) const;

  // The header summary of an entry's GGUF (cached by path, size and mtime; never reads weights).
  Result<GgufSummary> summary(const ModelEntry& entry) const;
  // What /api/show prints of the header: model_info (cached with the summary unless verbose) and, when
  // verbose, the tensor list.
  struct ShowInfo {
    Json model_info;
    Json tensors;
  };
  Result<ShowInfo> show_info(const ModelEntry& entry, bool verbose) const;

  // Mutations of strata's store. Errors name the model; `copy` and `create` replace an existing alias.
  Status copy(const ModelEntry& source, const ModelName& destination);
  Status remove(const ModelEntry& entry);
  Result<ModelEntry> create(const CreateSpec& spec);

  bool writable() const { return !options_.store_dir.empty(); }
  // Blobs, by 64-hex digest.
  std::string blob_path(std::string_view hex) const;
  bool has_blob(std::string_view hex) const;
  // A writer that hashes as it goes; commit() checks the digest and moves the file into place.
  class BlobWriter;

 private:
  struct StoreRecord;  // one entry of the store's models.json
  std::vector<ModelEntry> scan_files() const;
  std::vector<ModelEntry> scan_ollama() const;
  std::vector<ModelEntry> scan_store() const;
  Result<std::vector<Json>> read_records() const;
  Status write_records(const std::vector<Json>& records) const;
  Json record_of(const ModelEntry& e) const;

  // The header of a GGUF, parsed once per file version.
  struct HeaderInfo {
    GgufSummary summary;
    Json model_info;  // non-verbose (arrays over kShownArrayItems print as [])
  };
  Result<std::shared_ptr<const HeaderInfo>> header_info(const std::string& path) const;
  std::vector<ModelEntry> entries_of(const std::vector<Json>& records) const;
  bool is_store_blob(const std::string& path) const;  // files the store wrote: never opened through links
  void drop_blob_if_unused(const std::string& ref, const std::vector<Json>& records) const;

  static constexpr uint64_t kShownArrayItems = 5;
  static constexpr size_t kMaxCachedHeaders = 4096;

  StoreOptions options_;
  mutable std::mutex mutex_;  // guards summaries_, store_cache_ and the store's models.json and blob deletion
  struct CachedHeader {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    std::shared_ptr<const HeaderInfo> info;
  };
  mutable std::map<std::string, CachedHeader> summaries_;
  struct StoreCache {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    std::vector<ModelEntry> entries;  // models.json parsed (sizes filled in per call)
  };
  mutable std::optional<StoreCache> store_cache_;
};

class ModelStore::BlobWriter {
 public:
  static Result<std::unique_ptr<BlobWriter>> open(const ModelStore& store, std::string hex);
  ~BlobWriter();
  Status write(std::string_view data);
  // Verifies the digest ("digest mismatch, expected …, got …" on failure) and renames into blobs/.
  Status commit();

 private:
  BlobWriter() = default;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace strata::server
