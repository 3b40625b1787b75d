// tests/planner/model_shapes.h: real model shapes as header-only GGUF descriptions, and hardware profiles, for tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "core/units.h"
#include "gguf/gguf_file.h"
#include "hw/hardware_profile.h"
#include "tensor/dtype.h"

namespace strata::planner::testing {

struct ShapeSpec {
  std::string arch = "llama";
  int n_layer = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int n_expert = 0, n_expert_used = 0, n_ff_expert = 0;
  int n_vocab = 0, ctx_train = 0;
  DType weight = DType::Q4_K;  // most matrices
  DType heavy = DType::Q6_K;   // attn_v, ffn_down, output (the Q4_K_M recipe's larger type)
};

inline ShapeSpec llama3_8b() { return {"llama", 32, 4096, 14336, 32, 8, 128, 0, 0, 0, 128256, 131072}; }
inline ShapeSpec llama3_70b() { return {"llama", 80, 8192, 28672, 64, 8, 128, 0, 0, 0, 128256, 131072}; }
// Mixtral at Q5_K (Hypura's Q5_K_M file, 30.9 GB): the SEED's expert-streaming case.
inline ShapeSpec mixtral_8x7b() {
  return {"llama", 32, 4096, 0, 32, 8, 128, 8, 2, 14336, 32000, 32768, DType::Q5_K, DType::Q6_K};
}
// Qwen3-30B-A3B's shape: 128 experts, 8 used, head_dim 128 > n_embd / n_head.
inline ShapeSpec moe_128x8() { return {"qwen3moe", 48, 2048, 0, 32, 4, 128, 128, 8, 768, 151936, 40960}; }

// Builds the parsed description directly (no bytes): tensor sizes from the dtype table, aligned offsets.
inline gguf::GgufFile make_gguf(const ShapeSpec& s) {
  gguf::GgufFile f;
  f.path = s.arch + "-shape.gguf";
  auto set = [&](const std::string& k, gguf::Value v) {
    f.key_index[k] = f.metadata.size();
    f.metadata.emplace_back(k, std::move(v));
  };
  const std::string a = s.arch + ".";
  set("general.architecture", gguf::Value::of_string(s.arch));
  set(a + "block_count", gguf::Value::of_u32(s.n_layer));
  set(a + "embedding_length", gguf::Value::of_u32(s.n_embd));
  if (s.n_ff) set(a + "feed_forward_length", gguf::Value::of_u32(s.n_ff));
  set(a + "attention.head_count", gguf::Value::of_u32(s.n_head));
  set(a + "attention.head_count_kv", gguf::Value::of_u32(s.n_head_kv));
  set(a + "attention.key_length", gguf::Value::of_u32(s.head_dim));
  set(a + "context_length", gguf::Value::of_u32(s.ctx_train));
  if (s.n_expert) {
    set(a + "expert_count", gguf::Value::of_u32(s.n_expert));
    set(a + "expert_used_count", gguf::Value::of_u32(s.n_expert_used));
    set(a + "expert_feed_forward_length", gguf::Value::of_u32(s.n_ff_expert));
  }
  uint64_t offset = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> dims, DType type) {
    gguf::TensorInfo t;
    t.name = name;
    t.dims = std::move(dims);
    t.type_id = static_cast<uint32_t>(type);
    const DTypeTraits& tr = dtype_traits(type);
    t.size_bytes = tr.row_bytes(t.dims[0]) * static_cast<uint64_t>(t.n_elements() / t.dims[0]);
    t.offset = offset;
    offset = (offset + t.size_bytes + f.alignment - 1) / f.alignment * f.alignment;
    f.tensor_index[t.name] = f.tensors.size();
    f.tensors.push_back(std::move(t));
  };
  const int64_t e = s.n_embd, q = static_cast<int64_t>(s.n_head) * s.head_dim,
                kv = static_cast<int64_t>(s.n_head_kv) * s.head_dim;
  add("token_embd.weight", {e, s.n_vocab}, s.weight);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {e}, DType::F32);
    add(b + "attn_q.weight", {e, q}, s.weight);
    add(b + "attn_k.weight", {e, kv}, s.weight);
    add(b + "attn_v.weight", {e, kv}, s.heavy);
    add(b + "attn_output.weight", {q, e}, s.weight);
    add(b + "ffn_norm.weight", {e}, DType::F32);
    if (s.n_expert) {
      add(b + "ffn_gate_inp.weight", {e, s.n_expert}, DType::F32);
      add(b + "ffn_gate_exps.weight", {e, s.n_ff_expert, s.n_expert}, s.weight);
      add(b + "ffn_up_exps.weight", {e, s.n_ff_expert, s.n_expert}, s.weight);
      add(b + "ffn_down_exps.weight", {s.n_ff_expert, e, s.n_expert}, s.weight);
    } else {
      add(b + "ffn_gate.weight", {e, s.n_ff}, s.weight);
      add(b + "ffn_up.weight", {e, s.n_ff}, s.weight);
      add(b + "ffn_down.weight", {s.n_ff, e}, s.heavy);
    }
  }
  add("output_norm.weight", {e}, DType::F32);
  add("output.weight", {e, s.n_vocab}, s.heavy);
  f.data_offset = 0;  // set by header serialisation when written to disk
  for (auto& t : f.tensors) t.file_offset = t.offset;
  f.file_size = offset;
  return f;
}

// Serialises the header of `f` as GGUF v3 (metadata: u32 and string values only), data section not included.
inline std::vector<uint8_t> header_bytes(const gguf::GgufFile& f) {
  std::vector<uint8_t> out;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  };
  u32(gguf::kMagic);
  u32(3);
  u64(f.tensors.size());
  u64(f.metadata.size());
  for (const auto& [k, v] : f.metadata) {
    str(k);
    u32(static_cast<uint32_t>(v.type()));
    if (v.is_string()) str(*v.as_string());
    else u32(static_cast<uint32_t>(*v.as_int()));
  }
  for (const auto& t : f.tensors) {
    str(t.name);
    u32(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) u64(static_cast<uint64_t>(d));
    u32(t.type_id);
    u64(t.offset);
  }
  while (out.size() % f.alignment) out.push_back(0);
  return out;
}

// Hardware profiles for the acceptance grid.
// Writes the header of a model of this shape and extends the file (sparsely) to its full size, so the
// parser's bounds checks see a real layout while the disk holds only the header.
inline std::string write_sparse_model(const ShapeSpec& spec, const std::string& path) {
  const gguf::GgufFile f = make_gguf(spec);
  const std::vector<uint8_t> header = header_bytes(f);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  }
  const uint64_t total = header.size() + f.file_size;
  EXPECT_EQ(::truncate(path.c_str(), static_cast<off_t>(total)), 0);
  return path;
}

inline GpuInfo gpu(const std::string& name, double total_gib, double free_gib, double bw_gbs, double h2d_gbs,
                   double tflops) {
  GpuInfo g;
  g.name = name;
  g.total_bytes = static_cast<uint64_t>(total_gib * kGiB);
  g.free_bytes = static_cast<uint64_t>(free_gib * kGiB);
  g.device_read_bytes_per_s = bw_gbs * 1e9;
  g.h2d_pinned_bytes_per_s = h2d_gbs * 1e9;
  g.h2d_pageable_bytes_per_s = h2d_gbs * 0.5e9;
  g.d2h_pinned_bytes_per_s = h2d_gbs * 1e9;
  g.d2h_pageable_bytes_per_s = h2d_gbs * 0.5e9;
  g.fp32_tflops_estimate = tflops;
  g.cc_major = 8;
  g.cc_minor = 9;
  return g;
}

inline HardwareProfile host(double ram_gib, double avail_gib, double mem_gbs, double fma_gflops, double disk_gbs,
                            double latency_us) {
  HardwareProfile p;
  p.cpu.model = "test cpu";
  p.cpu.n_logical = p.cpu.n_physical = 16;
  p.cpu.fma_gflops = fma_gflops;
  p.memory.total_bytes = static_cast<uint64_t>(ram_gib * kGiB);
  p.memory.available_bytes = static_cast<uint64_t>(avail_gib * kGiB);
  p.memory.read_bytes_per_s = mem_gbs * 1e9;
  p.gpu_note = "no CUDA GPU: test profile";
  if (disk_gbs > 0) {
    StorageInfo s;
    s.path = "/models";
    s.sequential = {{1 * kMiB, 1, disk_gbs * 0.5e9}, {4 * kMiB, 16, disk_gbs * 1e9}};
    s.random_read_latency_us = latency_us;
    p.storage = s;
  }
  return p;
}

inline HardwareProfile cpu_16g() { return host(16, 14, 40, 800, 3.0, 80); }
inline HardwareProfile gpu_8g() {
  HardwareProfile p = host(32, 29, 50, 1000, 3.5, 80);
  p.gpus.push_back(gpu("RTX 3070", 8, 7.6, 400, 24, 20));
  p.gpu_note.clear();
  return p;
}
inline HardwareProfile gpu_24g() {
  HardwareProfile p = host(64, 60, 70, 1500, 7.0, 60);
  p.gpus.push_back(gpu("RTX 4090", 24, 23.2, 900, 25, 80));
  p.gpu_note.clear();
  return p;
}
inline HardwareProfile gpu_80g() {
  HardwareProfile p = host(256, 240, 200, 3000, 7.0, 60);
  p.gpus.push_back(gpu("H100", 80, 79, 2800, 50, 60));
  p.gpu_note.clear();
  return p;
}
inline HardwareProfile unified_32g() {
  HardwareProfile p = host(32, 28, 200, 1000, 5.0, 50);
  GpuInfo g = gpu("Apple M1 Max", 32, 28, 400, 0, 10);
  g.integrated = true;
  p.gpus.push_back(g);
  p.gpu_note.clear();
  p.unified_memory = true;
  return p;
}

}  // namespace strata::planner::testing
