// tensor/dtype_id.h: the DType enumeration alone, so CUDA sources (which cannot include the table's
// headers) name the same types.
#pragma once

#include <cstdint>

namespace strata {

// Values are the GGUF/ggml type ids, kept verbatim.
enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  BF16 = 30,
  MXFP4 = 39,  // llama.cpp's id (ik_llama.cpp uses the same for its files)
};

}  // namespace strata
