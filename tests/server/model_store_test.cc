// tests/server/model_store_test.cc: where models come from: GGUF files and directories, an Ollama store
// (manifests → blobs, with system and params layers), strata's own store (copy, create, delete,
// blobs with digest checks), and what /api/tags and /api/show derive from a GGUF header.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <fstream>

#include <gtest/gtest.h>

#include "gguf/writer.h"
#include "server/model_store.h"
#include "server/sha256.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::server {
namespace {

namespace fs = std::filesystem;

// A header-only-sized GGUF: metadata plus one small F32 tensor.
std::string write_gguf(const std::string& path, const std::string& chat_template, bool pooling = false) {
  fs::create_directories(fs::path(path).parent_path());
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.set("general.name", gguf::Value::of_string("Tiny Test Model"));
  w.set("general.file_type", gguf::Value::of_u32(15));
  w.set("general.parameter_count", gguf::Value::u64(gguf::ValueType::UINT64, 8030261248ull));
  w.set("llama.context_length", gguf::Value::of_u32(2048));
  w.set("llama.embedding_length", gguf::Value::of_u32(64));
  if (pooling) w.set("llama.pooling_type", gguf::Value::of_u32(1));
  if (!chat_template.empty()) w.set("tokenizer.chat_template", gguf::Value::of_string(chat_template));
  gguf::Array tokens{gguf::ValueType::STRING, {}};
  for (int i = 0; i < 8; ++i) tokens.items.push_back(gguf::Value::of_string(fmt::format("t{}", i)));
  w.set("tokenizer.ggml.tokens", gguf::Value::array(tokens));
  gguf::Array small{gguf::ValueType::INT32, {gguf::Value::of_i32(1), gguf::Value::of_i32(2)}};
  w.set("test.small_array", gguf::Value::array(small));
  w.add_tensor_bytes("token_embd.weight", {4, 2}, 0, std::vector<uint8_t>(32, 0));
  EXPECT_TRUE(w.write(path).is_ok());
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void spit(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

ModelName name(const char* text) { return parse_model_name(text).value(); }

TEST(ModelInfo, SummaryDetailsAndCapabilities) {
  const std::string dir = testing::temp_dir();
  auto file = gguf::read_file(write_gguf(dir + "/t.gguf", "{% if tools %}{{ tools }}{% endif %}<think></think>"),
                              gguf_type_lookup());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto s = summarize_gguf(file.value());
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->architecture, "llama");
  EXPECT_EQ(s->quantization, "Q4_K_M");
  EXPECT_EQ(s->context_length, 2048);
  EXPECT_EQ(s->capabilities, (std::vector<std::string>{"completion", "tools", "thinking"}));
  Json d = details_json(s.value(), "");
  EXPECT_EQ(d["parameter_size"], "8.0B");
  EXPECT_EQ(d["families"], Json::array({"llama"}));

  Json info = model_info_json(file.value(), false);
  EXPECT_FALSE(info.contains("general.name"));
  EXPECT_FALSE(info.contains("tokenizer.chat_template"));
  EXPECT_EQ(info["llama.context_length"], 2048);
  EXPECT_EQ(info["tokenizer.ggml.tokens"], Json::array());
  EXPECT_EQ(info["test.small_array"], Json::array({1, 2}));
  EXPECT_EQ(model_info_json(file.value(), true)["tokenizer.ggml.tokens"].size(), 8u);
  EXPECT_EQ(tensors_json(file.value())[0]["type"], "F32");

  auto emb = gguf::read_file(write_gguf(dir + "/e.gguf", "", /*pooling=*/true), gguf_type_lookup());
  EXPECT_EQ(summarize_gguf(emb.value())->capabilities, std::vector<std::string>{"embedding"});
}

TEST(ModelStore, FilesAndDirectories) {
  const std::string dir = testing::temp_dir();
  write_gguf(dir + "/models/Alpha.gguf", "");
  write_gguf(dir + "/models/beta.GGUF", "");
  spit(dir + "/models/notes.txt", "not a model");
  write_gguf(dir + "/single.gguf", "");
  ModelStore store({{dir + "/models", dir + "/single.gguf", dir + "/missing.gguf"}, "", ""});
  ASSERT_TRUE(store.init().is_ok());
  std::vector<std::string> names;
  for (const auto& e : store.list()) names.push_back(e.name.display());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"alpha:latest", "beta:latest", "single:latest"}));
  auto alpha = store.find(name("ALPHA"));
  ASSERT_TRUE(alpha.has_value());
  EXPECT_EQ(alpha->source, ModelSource::File);
  EXPECT_EQ(alpha->digest.size(), 64u);
  EXPECT_EQ(alpha->size_bytes, fs::file_size(dir + "/models/Alpha.gguf"));
  EXPECT_FALSE(store.find(name("alpha:v2")).has_value());
  EXPECT_FALSE(store.writable());
  EXPECT_FALSE(store.copy(*alpha, name("x")).is_ok());
}

TEST(ModelStore, ServesAnOllamaStoreInPlace) {
  const std::string root = testing::temp_dir() + "/ollama";
  const std::string gguf_bytes = slurp(write_gguf(testing::temp_dir() + "/w.gguf", "{{ messages }}"));
  const std::string model_hex = sha256_hex(gguf_bytes);
  const std::string system = "You are a pirate.";
  const std::string params = R"({"stop":["<|eot_id|>"],"temperature":0.7})";
  spit(root + "/blobs/sha256-" + model_hex, gguf_bytes);
  spit(root + "/blobs/sha256-" + sha256_hex(system), system);
  spit(root + "/blobs/sha256-" + sha256_hex(params), params);
  auto layer = [](const char* media, const std::string& bytes) {
    return Json{{"mediaType", media}, {"digest", "sha256:" + sha256_hex(bytes)}, {"size", bytes.size()}};
  };
  Json manifest{{"schemaVersion", 2},
                {"layers", Json::array({layer("application/vnd.ollama.image.model", gguf_bytes),
                                        layer("application/vnd.ollama.image.template", "{{ .Prompt }}"),
                                        layer("application/vnd.ollama.image.system", system),
                                        layer("application/vnd.ollama.image.params", params)})}};
  const std::string manifest_text = manifest.dump();
  spit(root + "/manifests/registry.ollama.ai/library/tiny/7b", manifest_text);
  // A manifest whose model blob is missing is not listed.
  Json broken{{"layers", Json::array({Json{{"mediaType", "application/vnd.ollama.image.model"},
                                           {"digest", "sha256:" + std::string(64, 'a')}, {"size", 1}}})}};
  spit(root + "/manifests/registry.ollama.ai/library/broken/latest", broken.dump());
  spit(root + "/manifests/registry.ollama.ai/someone/custom/q4", manifest_text);

  ModelStore store({{}, "", root});
  auto e = store.find(name("registry.ollama.ai/library/TINY:7b"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->name.display(), "tiny:7b");
  EXPECT_EQ(e->source, ModelSource::Ollama);
  EXPECT_EQ(e->gguf_path, root + "/blobs/sha256-" + model_hex);
  EXPECT_EQ(e->system.value_or(""), system);
  EXPECT_EQ(e->parameters["temperature"], 0.7);
  EXPECT_EQ(e->digest, sha256_hex(manifest_text));
  EXPECT_EQ(e->size_bytes, gguf_bytes.size() + 13 + system.size() + params.size());
  EXPECT_FALSE(store.find(name("broken")).has_value());
  EXPECT_TRUE(store.find(name("someone/custom:q4")).has_value());
  EXPECT_EQ(store.list().size(), 2u);
  // The Go template layer is not used: the summary carries the GGUF's Jinja template.
  EXPECT_EQ(store.summary(*e)->chat_template, "{{ messages }}");
  EXPECT_FALSE(store.remove(*e).is_ok());  // strata never deletes from the user's Ollama store
}

TEST(ModelStore, CopyCreateDeleteAndBlobs) {
  const std::string dir = testing::temp_dir();
  const std::string file = write_gguf(dir + "/base.gguf", "");
  ModelStore store({{file}, dir + "/store", ""});
  ASSERT_TRUE(store.init().is_ok());
  auto base = store.find(name("base"));
  ASSERT_TRUE(base.has_value());

  ASSERT_TRUE(store.copy(*base, name("ns/alias:v1")).is_ok());
  auto alias = store.find(name("ns/alias:v1"));
  ASSERT_TRUE(alias.has_value());
  EXPECT_EQ(alias->source, ModelSource::Store);
  EXPECT_EQ(alias->gguf_path, base->gguf_path);
  EXPECT_FALSE(store.remove(*base).is_ok());  // a command-line file is not the store's to delete

  // Blobs: a wrong digest is refused and leaves nothing behind; the right one lands.
  const std::string bytes = slurp(file);
  const std::string hex = sha256_hex(bytes);
  {
    auto w = ModelStore::BlobWriter::open(store, std::string(64, '0'));
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE(w.value()->write(bytes).is_ok());
    Status s = w.value()->commit();
    ASSERT_FALSE(s.is_ok());
    EXPECT_EQ(s.message().rfind("digest mismatch", 0), 0u) << s.message();
  }
  EXPECT_FALSE(store.has_blob(std::string(64, '0')));
  {
    auto w = ModelStore::BlobWriter::open(store, hex);
    ASSERT_TRUE(w.value()->write(std::string_view(bytes).substr(0, 100)).is_ok());
    ASSERT_TRUE(w.value()->write(std::string_view(bytes).substr(100)).is_ok());
    ASSERT_TRUE(w.value()->commit().is_ok());
  }
  EXPECT_TRUE(store.has_blob(hex));
  EXPECT_EQ(fs::directory_iterator(dir + "/store/blobs")->path().filename().string(), "sha256-" + hex);

  CreateSpec spec;
  spec.name = name("uploaded");
  spec.gguf_blob = hex;
  auto up = store.create(spec);
  ASSERT_TRUE(up.is_ok()) << up.status().message();
  CreateSpec derived;
  derived.name = name("pirate");
  derived.base = up.value();
  derived.system = "Arr.";
  derived.chat_template = "{{ messages[0]['content'] }}";
  derived.parameters = Json{{"temperature", 0.1}};
  auto p = store.create(derived);
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->system.value_or(""), "Arr.");
  EXPECT_EQ(p->parent_model, "uploaded:latest");
  EXPECT_EQ(store.summary(*p)->chat_template, "{{ messages[0]['content'] }}");
  EXPECT_EQ(store.summary(*up)->chat_template, "");

  // A store alias shadows a file of the same name; deleting the alias shows the file again.
  ASSERT_TRUE(store.copy(*p, name("base")).is_ok());
  EXPECT_EQ(store.find(name("base"))->source, ModelSource::Store);
  ASSERT_TRUE(store.remove(*store.find(name("base"))).is_ok());
  EXPECT_EQ(store.find(name("base"))->source, ModelSource::File);

  // The blob stays while a model names it, and goes with the last one.
  ASSERT_TRUE(store.remove(*store.find(name("uploaded"))).is_ok());
  EXPECT_TRUE(store.has_blob(hex));
  ASSERT_TRUE(store.remove(*store.find(name("pirate"))).is_ok());
  EXPECT_FALSE(store.has_blob(hex));

  CreateSpec not_gguf;
  not_gguf.name = name("junk");
  {
    auto w = ModelStore::BlobWriter::open(store, sha256_hex("junk"));
    ASSERT_TRUE(w.value()->write("junk").is_ok());
    ASSERT_TRUE(w.value()->commit().is_ok());
  }
  not_gguf.gguf_blob = sha256_hex("junk");
  auto junk = store.create(not_gguf);
  ASSERT_FALSE(junk.is_ok());
  EXPECT_NE(junk.status().message().find("not in GGUF format"), std::string::npos);
  // The list survives a restart (a new store over the same directory).
  ModelStore again({{file}, dir + "/store", ""});
  EXPECT_TRUE(again.find(name("ns/alias:v1")).has_value());
}

// Uploads `bytes` as a blob; returns its hex digest.
std::string upload(ModelStore& store, const std::string& bytes) {
  const std::string hex = sha256_hex(bytes);
  auto w = ModelStore::BlobWriter::open(store, hex);
  EXPECT_TRUE(w.is_ok());
  EXPECT_TRUE(w.value()->write(bytes).is_ok());
  EXPECT_TRUE(w.value()->commit().is_ok());
  return hex;
}

std::string models_json(const std::string& store_dir) { return slurp(store_dir + "/models.json"); }

// The last step of /api/create (or /api/copy) racing /api/delete: the entry it holds names a blob that
// the delete has just removed. The record must not be written (it would point at nothing, could not be
// deleted, and would come back when the blob is uploaded again).
TEST(ModelStore, CreateRacingDeleteLeavesNoDanglingRecord) {
  const std::string dir = testing::temp_dir();
  const std::string store_dir = dir + "/store";
  ModelStore store({{}, store_dir, ""});
  ASSERT_TRUE(store.init().is_ok());
  const std::string bytes = slurp(write_gguf(dir + "/m.gguf", ""));
  const std::string hex = upload(store, bytes);
  CreateSpec spec;
  spec.name = name("victim");
  spec.gguf_blob = hex;
  auto victim = store.create(spec);
  ASSERT_TRUE(victim.is_ok()) << victim.status().message();
  const ModelEntry stale = *victim;  // what a concurrent create/copy resolved before the delete
  ASSERT_TRUE(store.remove(stale).is_ok());
  EXPECT_FALSE(store.has_blob(hex));
  EXPECT_FALSE(store.copy(stale, name("ghost")).is_ok());
  EXPECT_EQ(models_json(store_dir).find("ghost"), std::string::npos) << models_json(store_dir);
  upload(store, bytes);
  EXPECT_FALSE(store.find(name("ghost")).has_value()) << "a dangling record came back with the blob";

  // And for real, on threads: every record always names a blob that exists.
  for (int round = 0; round < 30; ++round) {
    upload(store, bytes);
    spec.name = name("victim");
    auto v = store.create(spec);
    ASSERT_TRUE(v.is_ok());
    CreateSpec other = spec;
    other.name = name("newcomer");
    std::thread creator([&] { (void)store.create(other); });
    std::thread deleter([&] { (void)store.remove(*v); });
    creator.join();
    deleter.join();
    const bool named = store.find(name("newcomer")).has_value();
    EXPECT_EQ(named, store.has_blob(hex)) << "round " << round;
    EXPECT_EQ(models_json(store_dir).find("newcomer") != std::string::npos, named) << models_json(store_dir);
    if (named) {
      ASSERT_TRUE(store.remove(*store.find(name("newcomer"))).is_ok());
    }
  }
}

// Links planted in the store directory are never followed: not at the model list's temp name, not as a blob.
TEST(ModelStore, LinksInTheStoreAreNotFollowed) {
  const std::string dir = testing::temp_dir();
  const std::string store_dir = dir + "/store";
  ModelStore store({{write_gguf(dir + "/base.gguf", "")}, store_dir, ""});
  ASSERT_TRUE(store.init().is_ok());
  spit(dir + "/precious.txt", "SECRET precious bytes");
  fs::create_symlink(dir + "/precious.txt", store_dir + "/models.json.tmp");
  ASSERT_TRUE(store.copy(*store.find(name("base")), name("alias")).is_ok());
  EXPECT_EQ(slurp(dir + "/precious.txt"), "SECRET precious bytes");
  EXPECT_TRUE(store.find(name("alias")).has_value());
  // A blob that is a link to another file: not a blob at all, and its bytes never appear in an error.
  const std::string hex = sha256_hex("whatever");
  fs::create_symlink(dir + "/precious.txt", store_dir + "/blobs/sha256-" + hex);
  EXPECT_FALSE(store.has_blob(hex));
  CreateSpec spec;
  spec.name = name("leak");
  spec.gguf_blob = hex;
  auto r = store.create(spec);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().find("0x52434553"), std::string::npos) << r.status().message();  // "SECR"
  EXPECT_EQ(r.status().message().find("SECR"), std::string::npos) << r.status().message();
}

// Replacing a model frees the blob nobody names any more; unfinished uploads are removed at start.
TEST(ModelStore, ReplacedBlobsAndUnfinishedUploadsAreCleanedUp) {
  const std::string dir = testing::temp_dir();
  const std::string store_dir = dir + "/store";
  ModelStore store({{}, store_dir, ""});
  ASSERT_TRUE(store.init().is_ok());
  const std::string a = upload(store, slurp(write_gguf(dir + "/a.gguf", "")));
  const std::string b = upload(store, slurp(write_gguf(dir + "/b.gguf", "{{ x }}")));
  CreateSpec spec;
  spec.name = name("m");
  spec.gguf_blob = a;
  ASSERT_TRUE(store.create(spec).is_ok());
  spec.gguf_blob = b;
  ASSERT_TRUE(store.create(spec).is_ok());
  EXPECT_FALSE(store.has_blob(a)) << "the replaced model's blob is orphaned";
  EXPECT_TRUE(store.has_blob(b));
  spit(store_dir + "/blobs/sha256-" + std::string(64, 'c') + ".partial-1234", "half an upload");
  ModelStore restarted({{}, store_dir, ""});
  ASSERT_TRUE(restarted.init().is_ok());
  for (const auto& de : fs::directory_iterator(store_dir + "/blobs"))
    EXPECT_EQ(de.path().filename().string().find(".partial"), std::string::npos) << de.path();
  EXPECT_TRUE(restarted.find(name("m")).has_value());
}

// The model list is parsed when models.json changes, not on every request.
TEST(ModelStore, TheModelListIsParsedOnlyWhenItChanges) {
  const std::string dir = testing::temp_dir();
  const std::string store_dir = dir + "/store";
  ModelStore store({{write_gguf(dir + "/base.gguf", "")}, store_dir, ""});
  ASSERT_TRUE(store.init().is_ok());
  Json records = Json::array();
  for (int i = 0; i < 2000; ++i)
    records.push_back({{"name", fmt::format("registry.ollama.ai/library/a{:04}:latest", i)},
                       {"gguf", dir + "/base.gguf"}, {"parameters", Json::object()}, {"modified_ns", i}});
  spit(store_dir + "/models.json", dump_json(Json{{"models", records}}));
  EXPECT_EQ(store.list().size(), 2001u);
  // Same size and time stamp, different names: a list that is not re-read still shows the old names.
  const std::string path = store_dir + "/models.json";
  std::string text = models_json(store_dir);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  for (size_t at = text.find("a0000"); at != std::string::npos; at = text.find("a0000", at + 1)) text[at] = 'b';
  spit(path, text);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  EXPECT_TRUE(store.find(name("a0000")).has_value());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) (void)store.list();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10;
  std::printf("list() of 2001 models: %.1f ms\n", ms);
  // A real change (a new time stamp) is picked up.
  times[1].tv_sec += 1;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  EXPECT_TRUE(store.find(name("b0000")).has_value());
  EXPECT_FALSE(store.find(name("a0000")).has_value());
}

// /api/show of a header with 200k keys and a 2^24-element array: parsed once, cheap to repeat.
TEST(ModelStore, ShowInfoOfAHugeHeaderIsParsedOnceAndBounded) {
  const std::string dir = testing::temp_dir();
  const std::string path = dir + "/wide.gguf";
  {
    std::string b;
    auto put = [&](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    auto key = [&](const std::string& k) { put(uint64_t{k.size()}); b += k; };
    put(uint32_t{0x46554747});
    put(uint32_t{3});
    put(uint64_t{0});
    put(uint64_t{200'001});
    for (int i = 0; i < 200'000; ++i) {
      key(fmt::format("test.key{:06}", i));
      put(uint32_t{4});
      put(uint32_t(i));
    }
    key("test.big");
    put(uint32_t{9});
    put(uint32_t{0});
    put(uint64_t{1} << 24);
    b.append(size_t{1} << 24, '\0');
    spit(path, b);
  }
  ModelStore store({{path}, "", ""});
  auto e = store.find(name("wide"));
  ASSERT_TRUE(e.has_value());
  auto t0 = std::chrono::steady_clock::now();
  auto first = store.show_info(*e, false);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_EQ(first->model_info.size(), 200'001u);
  EXPECT_EQ(first->model_info["test.key000007"], 7);
  EXPECT_TRUE(first->model_info["test.big"].empty());
  auto second = store.show_info(*e, false);
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(second.is_ok());
  const double first_s = std::chrono::duration<double>(t1 - t0).count(), second_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("show_info of 200k keys: first %.2f s, cached %.2f s\n", first_s, second_s);
  EXPECT_LT(first_s, 10.0);
  EXPECT_LT(second_s, 2.0);
  // Verbose prints arrays in full, so it parses under the reader's memory limit: a clean error here.
  auto verbose = store.show_info(*e, true);
  EXPECT_FALSE(verbose.is_ok());
}

}  // namespace
}  // namespace strata::server
