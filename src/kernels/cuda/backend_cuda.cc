// kernels/cuda/backend_cuda.cc: the CUDA backend (backend_cuda.h) over the launchers of kernels/cuda/, and
// its row in the backend registry.
#include "kernels/cuda/backend_cuda.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/log.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"

namespace strata::kernels {

namespace {

// Owns a cudaMalloc or cudaMallocHost allocation; null data only for size 0.
class CudaBuffer final : public Buffer {
 public:
  CudaBuffer(void* p, uint64_t size, BufferUse use, Device d) : p_(p), size_(size), use_(use), device_(d) {}
  ~CudaBuffer() override {
    if (!p_) return;
    if (use_ == BufferUse::Staging)
      STRATA_CUDA_CHECK(cudaFreeHost(p_));
    else
      STRATA_CUDA_CHECK(cudaFree(p_));
  }
  uint8_t* data() override { return static_cast<uint8_t*>(p_); }
  uint64_t size_bytes() const override { return size_; }
  BufferUse use() const override { return use_; }
  Device device() const override { return device_; }

 private:
  void* p_;
  uint64_t size_;
  BufferUse use_;
  Device device_;
};

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(cudaStream_t s) { event_.record(s); }
  bool query() const override { return event_.done(); }
  void synchronize() override { event_.synchronize(); }
  cudaEvent_t get() const { return event_.get(); }

 private:
  cuda::Event event_;
};

}  // namespace

void* CudaBackend::Scratch::get(uint64_t bytes, std::vector<cuda::DeviceBuffer>* retired) {
  if (buf.size_bytes() >= bytes) return buf.data();
  if (retired != nullptr) retired->push_back(std::move(buf));
  buf = cuda::DeviceBuffer(bytes + bytes / 2);  // otherwise the old one's cudaFree waits for its users
  return buf.data();
}

namespace {
// Makes the device current before the members that allocate on it (the stream) are built.
int select_device(int index) {
  STRATA_CUDA_CHECK(cudaSetDevice(index));
  return index;
}
}  // namespace

CudaBackend::CudaBackend(int device_index, bool batch_invariant)
    : batch_invariant_(batch_invariant),
      index_(select_device(device_index)),
      device_{DeviceKind::Cuda, device_index},
      name_("cuda" + std::to_string(device_index)),
      gemm_(stream_.get()) {}

CudaBackend::~CudaBackend() { (void)cudaStreamSynchronize(stream_.get()); }

std::string CudaBackend::describe() const { return name_ + ": " + cuda::describe_device(index_); }

std::unique_ptr<Buffer> CudaBackend::alloc(uint64_t size_bytes, BufferUse use) {
  forget_q8();  // a new buffer may take a freed one's address
  void* p = nullptr;
  if (size_bytes > 0) {
    const cudaError_t err = use == BufferUse::Staging ? cudaMallocHost(&p, size_bytes) : cudaMalloc(&p, size_bytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // out of memory is an answer here, not a fault
      return nullptr;
    }
    STRATA_CUDA_CHECK(err);
  }
  const Device d = use == BufferUse::Staging ? kHostDevice : device_;
  return std::make_unique<CudaBuffer>(p, size_bytes, use, d);
}

EventPtr CudaBackend::record() {
  // A recorded event would complete at each replay, not when the caller expects, so recording breaks the
  // capture: it is discarded and nothing in it runs. The caller gets an event that is already complete (what
  // it would order after never runs), never one inside the discarded graph, which another stream waiting on
  // it later (a staging upload behind its reader) could not use.
  if (capture_breaks(true, "an event recorded")) return completed_event();
  return std::make_shared<CudaEvent>(stream_.get());
}

void CudaBackend::wait(const Event& e) {
  if (capture_breaks(true, "a wait on an event")) return;  // a recording cannot wait on work outside it
  if (const auto* ce = dynamic_cast<const CudaEvent*>(&e)) {
    STRATA_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), ce->get(), 0));
  } else if (!e.query()) {
    const_cast<Event&>(e).synchronize();  // another kind of backend: the host waits, then enqueues
  }
}

void CudaBackend::synchronize() {
  if (capture_breaks(true, "a synchronize")) return;
  stream_.synchronize();
}

void CudaBackend::copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) {
  STRATA_CHECK_MSG((src_device == device_ || src_device.is_host()) && (dst_device == device_ || dst_device.is_host()),
                   "a CUDA copy has this GPU or host memory on each side");
  forget_q8();
  if (bytes == 0) return;
  if (capture_breaks(src_device.is_host() || dst_device.is_host(), "a copy to or from the host")) return;
  // Unified addressing tells the direction. Pageable host memory is staged by the runtime before the call
  // returns (host to device) or waited for (device to host), so the caller may reuse it at once.
  STRATA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_.get()));
}

bool CudaBackend::pin_host(void* p, uint64_t bytes) {
  const cudaError_t err = cudaHostRegister(p, bytes, cudaHostRegisterDefault);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // refused (locked-memory limits, an unsupported mapping): copies stay pageable
    return false;
  }
  return true;
}

void CudaBackend::unpin_host(void* p) { STRATA_CUDA_CHECK(cudaHostUnregister(p)); }

// ---- recorded decode steps

CudaBackend::StepGraph::~StepGraph() {
  if (exec) (void)cudaGraphExecDestroy(exec);
}

bool CudaBackend::begin_capture(uint64_t key, const StepInputs& in) {
  if (cap_.on || in.tokens.empty() || in.tokens.size() != in.pos.size() ||
      in.tokens.size() > static_cast<size_t>(kMaxStepSeqs))
    return false;
  if (step_dev_.data() == nullptr) {
    step_dev_ = cuda::DeviceBuffer(kStepInputBytes);
    step_host_ = cuda::PinnedBuffer(kStepInputBytes);
    step_inputs_free_.record(stream_.get());
  }
  forget_q8();
  STRATA_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeRelaxed));
  cap_ = Capture{};
  cap_.on = true;
  cap_.key = key;
  cap_.pos.assign(in.pos.begin(), in.pos.end());
  cap_.tokens.assign(in.tokens.begin(), in.tokens.end());
  cap_.valid_until = INT64_MAX;
  // The step's first node: this replay's positions and tokens, from pinned memory the host rewrites per replay.
  STRATA_CUDA_CHECK(
      cudaMemcpyAsync(step_dev_.data(), step_host_.data(), kStepInputBytes, cudaMemcpyHostToDevice, stream_.get()));
  return true;
}

template <typename T>
const T* CudaBackend::upload_constant(std::span<const T> host) {
  STRATA_CHECK(cap_.on);
  cuda::DeviceBuffer& d = cap_.consts.emplace_back(std::max<uint64_t>(host.size_bytes(), 1));
  // Another stream, waited for here: the recording's stream must not see this copy (it would be replayed
  // from host memory that is gone by then), and the recorded kernels find the bytes in place from the first
  // replay on.
  if (!host.empty())
    STRATA_CUDA_CHECK(cudaMemcpyAsync(d.data(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice,
                                      consts_stream_.get()));
  consts_stream_.synchronize();
  return static_cast<const T*>(d.data());
}
template const cuda::KvTok* CudaBackend::upload_constant(std::span<const cuda::KvTok>);

bool CudaBackend::end_capture(bool keep) {
  if (!cap_.on) return false;
  cudaGraph_t graph = nullptr;
  const cudaError_t err = cudaStreamEndCapture(stream_.get(), &graph);
  cap_.on = false;
  retired_.clear();  // the recording is closed: freeing (which waits for earlier users) is allowed again
  cudaGraphExec_t exec = nullptr;
  bool ok = err == cudaSuccess && graph != nullptr && keep && !cap_.broken;
  if (ok && cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) ok = false;
  if (graph != nullptr) STRATA_CUDA_CHECK(cudaGraphDestroy(graph));
  if (!ok) {
    (void)cudaGetLastError();  // a refused recording is an answer (run the step directly), not a fault
    if (cap_.broken)  // the caller runs such steps op by op from now on: said once
      log(LogLevel::Warn, "strata: {}: a decode step of {} sequence(s) cannot be recorded as a CUDA graph ({}); "
          "such steps run op by op", name_, cap_.pos.size(), cap_.why);
    cap_.consts.clear();
    forget_q8();
    return false;
  }
  auto g = std::make_unique<StepGraph>();
  g->key = cap_.key;
  g->n_seq = cap_.pos.size();
  g->valid_until = cap_.valid_until;
  g->exec = exec;
  g->consts = std::move(cap_.consts);
  g->xq_of = xq_of_, g->xq_rows = xq_rows_, g->xq_cols = xq_cols_;
  forget_q8();  // nothing ran yet: the quantized input the host logic assumed is not there until a replay
  std::erase_if(graphs_, [&](const auto& o) { return o->key == g->key; });
  if (graphs_.size() >= kMaxStepGraphs)
    graphs_.erase(std::min_element(graphs_.begin(), graphs_.end(),
                                   [](const auto& a, const auto& b) { return a->last_used < b->last_used; }));
  graphs_.push_back(std::move(g));
  return true;
}

bool CudaBackend::replay(uint64_t key, const StepInputs& in) {
  if (cap_.on || in.tokens.size() != in.pos.size()) return false;
  const int64_t last = in.pos.empty() ? 0 : *std::max_element(in.pos.begin(), in.pos.end());
  StepGraph* g = nullptr;
  for (auto& o : graphs_)
    if (o->key == key && o->n_seq == in.pos.size() && last < o->valid_until) g = o.get();
  if (g == nullptr) return false;
  step_inputs_free_.synchronize();  // the previous replay has copied its inputs (at once in the steady state)
  auto* pos = static_cast<int64_t*>(step_host_.data());
  std::copy(in.pos.begin(), in.pos.end(), pos);
  std::copy(in.tokens.begin(), in.tokens.end(), reinterpret_cast<int32_t*>(pos + kMaxStepSeqs));
  STRATA_CUDA_CHECK(cudaGraphLaunch(g->exec, stream_.get()));
  step_inputs_free_.record(stream_.get());
  g->last_used = ++graph_clock_;
  xq_of_ = g->xq_of, xq_rows_ = g->xq_rows, xq_cols_ = g->xq_cols;
  return true;
}

void CudaBackend::check_mine(const ActView& a) const {
  STRATA_CHECK_MSG(a.device == device_, "activation not on this CUDA device");
  STRATA_CHECK(a.data != nullptr || a.n_elements() == 0);
}

void CudaBackend::check_weight(const TensorView& w) const {
  STRATA_CHECK_MSG(w.device == device_, "weight not on this CUDA device (can_read)");
  STRATA_CHECK(w.data != nullptr);
}

// The registry's row (kernels/backend_registry.cc).
extern const BackendKind kCudaBackendKind;
const BackendKind kCudaBackendKind{"cuda", DeviceKind::Cuda, &cuda::device_count,
                                   [](int index, const BackendOptions& o) -> std::unique_ptr<Backend> {
                                     return std::make_unique<CudaBackend>(index, o.batch_invariant);
                                   }};

}  // namespace strata::kernels
