// tests/streaming/arch_enumeration_test.cc: the one tensor enumeration drives synth (what it writes), binding
// (what the model holds, in which order) and the streamer's pass order, for dense, tied and MoE models.
#include <gtest/gtest.h>

#include "arch/tensors.h"
#include "streaming/schedule.h"
#include "stream_test_util.h"

namespace strata::streaming {
namespace {

using test::Loaded;
using test::load_model;
using test::write_synth;

std::vector<model::SynthSpec> specs() {
  model::SynthSpec dense;
  dense.layers = 3;
  dense.heads = 4;
  dense.kv_heads = 2;
  dense.vocab = 320;
  model::SynthSpec tied = dense;
  tied.tied = true;
  model::SynthSpec moe = dense;
  moe.experts = 4;
  moe.experts_used = 2;
  return {dense, tied, moe};
}

TEST(ArchEnumeration, DrivesSynthBindingAndPassOrder) {
  const std::string dir = testing::temp_dir();
  for (const model::SynthSpec& spec : specs()) {
    SCOPED_TRACE(spec.experts ? "moe" : spec.tied ? "tied" : "dense");
    Loaded l = load_model(write_synth(spec, dir, "enum.gguf"));
    ASSERT_FALSE(l.model.bound.empty());
    const std::vector<arch::TensorSpec> all = arch::list_tensors(l.model.hp);

    // Binding: every listed tensor the file has, in the enumeration's order, with its own id.
    std::vector<std::string> want_bound, got_bound;
    for (const arch::TensorSpec& s : all) {
      if (l.file.find_tensor(s.name) || (s.tied_to_embedding && spec.tied)) want_bound.push_back(s.name);
      if (s.required) EXPECT_NE(l.file.find_tensor(s.name), nullptr) << "synth skipped " << s.name;
    }
    for (const model::BoundTensor& b : l.model.bound) {
      got_bound.push_back(b.spec.name);
      const std::string& file_name = l.model.tensors[b.id].name;
      EXPECT_EQ(file_name, b.spec.tied_to_embedding && spec.tied ? "token_embd.weight" : b.spec.name);
      EXPECT_EQ(l.model.tensors[b.id].dims, b.spec.shape) << b.spec.name;
    }
    EXPECT_EQ(got_bound, want_bound);
    // Synth wrote nothing the enumeration does not list.
    EXPECT_EQ(l.file.tensors.size(), want_bound.size() - (spec.tied ? 1 : 0));

    // Pass order: the bound tensors minus expert slices, at the enumeration's positions.
    std::vector<std::pair<int, model::TensorId>> want_reads, got_reads;
    for (const model::BoundTensor& b : l.model.bound)
      if (!b.spec.expert_stacked) want_reads.emplace_back(b.spec.position, b.id);
    for (const PassRead& r : pass_reads(l.model)) got_reads.emplace_back(r.position, r.tensor);
    EXPECT_EQ(got_reads, want_reads);
    EXPECT_EQ(got_reads.front().second, l.model.token_embd);
    EXPECT_EQ(got_reads.back().second, l.model.output);
    EXPECT_EQ(got_reads.back().first, static_cast<int>(l.model.hp.n_layer) + 1);
    for (const model::LayerTensors& L : l.model.layers)
      for (model::TensorId e : L.ffn_exps)
        for (const auto& [pos, id] : got_reads) EXPECT_NE(id, e) << "expert slices are read through the expert source";
  }
}

}  // namespace
}  // namespace strata::streaming
