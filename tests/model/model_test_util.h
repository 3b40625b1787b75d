// tests/model/model_test_util.h: a GGUF file read, bound and kept in memory whole, for the forward-pass tests
// that serve its weights from a buffer.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tensor/dtype.h"

namespace strata::model::testing_util {

struct Loaded {
  gguf::GgufFile file;
  Model model;
  std::vector<uint8_t> bytes;  // the whole file
};

inline Loaded load(const std::string& path) {
  Loaded l;
  auto f = gguf::read_file(path, gguf_type_lookup());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  l.file = std::move(f).value();
  auto m = bind_model(l.file);
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  l.model = std::move(m).value();
  std::ifstream in(path, std::ios::binary);
  l.bytes.assign(std::istreambuf_iterator<char>(in), {});
  return l;
}

}  // namespace strata::model::testing_util
