// tests/arch/arch_test_util.h: GGUF descriptions built in memory (metadata and a tensor directory, no bytes).
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace strata::arch::testing {

// A parsed file with the given metadata; `set` replaces or adds a key, `drop` removes one.
class FakeGguf {
 public:
  explicit FakeGguf(const std::string& arch) : arch_(arch) { set("general.architecture", gguf::Value::of_string(arch)); }

  FakeGguf& set(const std::string& key, gguf::Value v) {
    auto it = f_.key_index.find(key);
    if (it != f_.key_index.end()) {
      f_.metadata[it->second].second = std::move(v);
    } else {
      f_.key_index[key] = f_.metadata.size();
      f_.metadata.emplace_back(key, std::move(v));
    }
    return *this;
  }
  // `<arch>.suffix` = u32 value.
  FakeGguf& u32(const std::string& suffix, uint32_t v) { return set(arch_ + "." + suffix, gguf::Value::of_u32(v)); }
  FakeGguf& f32(const std::string& suffix, float v) { return set(arch_ + "." + suffix, gguf::Value::of_f32(v)); }
  FakeGguf& u32_array(const std::string& suffix, const std::vector<uint32_t>& vs) {
    gguf::Array a{gguf::ValueType::UINT32, {}};
    for (uint32_t v : vs) a.items.push_back(gguf::Value::of_u32(v));
    return set(arch_ + "." + suffix, gguf::Value::array(std::move(a)));
  }
  FakeGguf& drop(const std::string& suffix) {
    f_.key_index.erase(arch_ + "." + suffix);
    return *this;
  }
  FakeGguf& tensor(const std::string& name, std::vector<int64_t> dims) {
    gguf::TensorInfo t;
    t.name = name;
    t.dims = std::move(dims);
    f_.tensor_index[name] = f_.tensors.size();
    f_.tensors.push_back(std::move(t));
    return *this;
  }
  const gguf::GgufFile& file() const { return f_; }

 private:
  std::string arch_;
  gguf::GgufFile f_;
};

// A small model's header: 4 layers, 64 wide, 8 heads (4 kv), ff 160, vocab 300.
inline FakeGguf small(const std::string& arch) {
  FakeGguf g(arch);
  g.u32("block_count", 4).u32("embedding_length", 64).u32("feed_forward_length", 160);
  g.u32("attention.head_count", 8).u32("attention.head_count_kv", 4);
  g.tensor("token_embd.weight", {64, 300});
  return g;
}

}  // namespace strata::arch::testing
