// tests/server/model_store_test.cc: where models come from: GGUF files and directories, an Ollama store
// (manifests → blobs, with system and params layers), strata's own store (copy, create, delete,
// blobs with digest checks), and what /api/tags and /api/show derive from a GGUF header.
#include <filesystem>
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

}  // namespace
}  // namespace strata::server
