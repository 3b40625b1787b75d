// kernels/cuda/cublas_gemm.cc: the cuBLAS handle and the one GEMM call the prompt products make. cuBLAS is
// opened with dlopen the first time a CUDA backend asks for it, not linked: its libraries would add about
// 100 MiB of resident memory to every strata process, CPU-only runs included, and a machine without them
// keeps strata's own tensor-core kernel.
#include "kernels/cuda/cublas_gemm.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/check.h"

#if STRATA_HAVE_CUBLAS_HEADERS
#include <cublas_v2.h>

namespace strata::cuda {
namespace {

// The entry points strata calls, found in the library that matches the headers' major version.
struct CublasApi {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  // cublasGemmEx is overloaded in C++ (a legacy-type form): name the C one's type.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

const CublasApi* cublas_api() {
  static const CublasApi* api = []() -> const CublasApi* {
    const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process's life
    if (lib == nullptr) return nullptr;
    static CublasApi a;
    a.create = reinterpret_cast<decltype(a.create)>(dlsym(lib, "cublasCreate_v2"));
    a.destroy = reinterpret_cast<decltype(a.destroy)>(dlsym(lib, "cublasDestroy_v2"));
    a.set_stream = reinterpret_cast<decltype(a.set_stream)>(dlsym(lib, "cublasSetStream_v2"));
    a.gemm_ex = reinterpret_cast<decltype(a.gemm_ex)>(dlsym(lib, "cublasGemmEx"));
    a.status_string = reinterpret_cast<decltype(a.status_string)>(dlsym(lib, "cublasGetStatusString"));
    if (!a.create || !a.destroy || !a.set_stream || !a.gemm_ex || !a.status_string) return nullptr;
    return &a;
  }();
  return api;
}

[[noreturn]] void cublas_failed(cublasStatus_t st, const char* file, int line, const char* expr) {
  std::fprintf(stderr, "strata: cuBLAS error at %s:%d: %s: %s\n", file, line, expr, cublas_api()->status_string(st));
  std::fflush(stderr);
  std::abort();
}

#define STRATA_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                     \
    const cublasStatus_t strata_cublas_st_ = (expr);                                       \
    if (strata_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                        \
      cublas_failed(strata_cublas_st_, __FILE__, __LINE__, #expr);                          \
  } while (0)

}  // namespace

bool have_cublas() { return cublas_api() != nullptr; }

CublasGemm::CublasGemm(cudaStream_t stream) : stream_(stream) {}

CublasGemm::~CublasGemm() {
  if (handle_ != nullptr) cublas_api()->destroy(static_cast<cublasHandle_t>(handle_));
}

bool CublasGemm::ok() {
  if (!tried_) {
    tried_ = true;
    const CublasApi* api = cublas_api();
    cublasHandle_t h = nullptr;
    if (api == nullptr || api->create(&h) != CUBLAS_STATUS_SUCCESS) return false;  // the own GEMM runs instead
    STRATA_CUBLAS_CHECK(api->set_stream(h, static_cast<cudaStream_t>(stream_)));
    handle_ = h;
  }
  return handle_ != nullptr;
}

void CublasGemm::run(const uint16_t* w16, int64_t rows, int64_t k, const uint16_t* x16, int64_t n_tok, float* y,
                     int64_t ld_y) {
  STRATA_CHECK(ok() && w16 != nullptr && x16 != nullptr && y != nullptr);
  STRATA_CHECK(rows > 0 && k > 0 && n_tok > 0 && ld_y >= rows && rows <= 0x7fffffff && k <= 0x7fffffff &&
               n_tok <= 0x7fffffff && ld_y <= 0x7fffffff);
  // Column-major view: W is [k, rows] (ld k), x is [k, n_tok] (ld k), y is [rows, n_tok] (ld ld_y):
  // y = W^T x.
  const float alpha = 1.0f, beta = 0.0f;
  STRATA_CUBLAS_CHECK(cublas_api()->gemm_ex(static_cast<cublasHandle_t>(handle_), CUBLAS_OP_T, CUBLAS_OP_N,
                                            static_cast<int>(rows), static_cast<int>(n_tok), static_cast<int>(k),
                                            &alpha, w16, CUDA_R_16F, static_cast<int>(k), x16, CUDA_R_16F,
                                            static_cast<int>(k), &beta, y, CUDA_R_32F, static_cast<int>(ld_y),
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace strata::cuda

#else

namespace strata::cuda {

bool have_cublas() { return false; }
CublasGemm::CublasGemm(cudaStream_t stream) : stream_(stream) {}
CublasGemm::~CublasGemm() = default;
bool CublasGemm::ok() { return false; }
void CublasGemm::run(const uint16_t*, int64_t, int64_t, const uint16_t*, int64_t, float*, int64_t) {
  STRATA_CHECK_MSG(false, "this build has no cuBLAS headers");
}

}  // namespace strata::cuda

#endif
