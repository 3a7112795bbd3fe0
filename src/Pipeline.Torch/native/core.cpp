// Errors, start-up settings, tensor lifetime, creation, properties, data copy and autograd.
#include "shim.h"

#include <dlfcn.h>
#include <malloc.h>
#include <cstdlib>
#include <cstring>

namespace {
thread_local std::string last_error;
thread_local bool has_error = false;
}  // namespace

namespace pt {
void set_error(const char* message) {
  last_error = message ? message : "";
  has_error = true;
}
void set_error(const std::string& message) {
  last_error = message;
  has_error = true;
}
PtTensor* wrap_list(const std::vector<at::Tensor>& list, int32_t* count) {
  auto* out = static_cast<PtTensor*>(std::malloc(sizeof(PtTensor) * (list.empty() ? 1 : list.size())));
  for (size_t k = 0; k < list.size(); ++k) out[k] = new at::Tensor(list[k]);
  *count = static_cast<int32_t>(list.size());
  return out;
}
}  // namespace pt

// Copies the pending error message (if any) into buf and clears it. Returns the message length,
// or -1 when no error is pending.
PT_API int32_t pt_take_error(char* buf, int32_t capacity) {
  if (!has_error) return -1;
  has_error = false;
  int32_t n = static_cast<int32_t>(last_error.size());
  if (buf && capacity > 0) {
    int32_t m = n < capacity - 1 ? n : capacity - 1;
    std::memcpy(buf, last_error.data(), static_cast<size_t>(m));
    buf[m] = 0;
  }
  return n;
}

// Start-up settings, applied once per process (DESIGN.md, measured facts): intra-op threads, and
// glibc kept from returning large blocks to the kernel after each free (a page-fault storm otherwise).
PT_API int32_t pt_init(int32_t intra_op_threads, int32_t tune_allocator) {
  PT_TRY
  if (tune_allocator) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 256 << 20);
  }
  if (intra_op_threads > 0) {
    at::set_num_threads(intra_op_threads);
    // Debian's libtorch does its GEMMs in OpenBLAS, whose own thread pool ignores set_num_threads and spins
    // (measured: 1 "thread" used 1.5 cores); cap it too when it is loaded (not with MKL/CUDA builds).
    if (void* blas = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD)) {
      using SetThreads = void (*)(int);
      if (auto set = reinterpret_cast<SetThreads>(dlsym(blas, "openblas_set_num_threads"))) set(intra_op_threads);
      dlclose(blas);
    }
  }
  return 0;
  PT_CATCH(-1)
}

PT_API int32_t pt_get_num_threads() { return at::get_num_threads(); }
PT_API int32_t pt_set_num_threads(int32_t n) { PT_TRY at::set_num_threads(n); return 0; PT_CATCH(-1) }

PT_API int32_t pt_version(char* buf, int32_t capacity) {
  std::string v = TORCH_VERSION;
  std::snprintf(buf, static_cast<size_t>(capacity), "%s", v.c_str());
  return static_cast<int32_t>(v.size());
}

PT_API void pt_tensor_free(PtTensor t) { delete t; }
PT_API void pt_free_array(PtTensor* list) { std::free(list); }

// ---- devices, seeds, determinism ----
PT_API int32_t pt_cuda_is_available() { return torch::cuda::is_available() ? 1 : 0; }
PT_API int32_t pt_cuda_device_count() { return static_cast<int32_t>(torch::cuda::device_count()); }
PT_API int32_t pt_cuda_synchronize(int32_t index) {
  PT_TRY
  if (torch::cuda::is_available()) torch::cuda::synchronize(static_cast<int64_t>(index));
  return 0;
  PT_CATCH(-1)
}
PT_API int32_t pt_manual_seed(int64_t seed) { PT_TRY torch::manual_seed(static_cast<uint64_t>(seed)); return 0; PT_CATCH(-1) }
PT_API int32_t pt_set_deterministic(int32_t on) {
  PT_TRY at::globalContext().setDeterministicAlgorithms(on != 0, /*warn_only=*/false); return 0; PT_CATCH(-1)
}

// The CPU generator's full state (Philox/MT state as bytes), for exact resume.
PT_API PtTensor pt_get_rng_state() { PT_TRY return pt::wrap(at::detail::getDefaultCPUGenerator().get_state()); PT_CATCH(nullptr) }
PT_API int32_t pt_set_rng_state(PtTensor state) {
  PT_TRY
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(*state);
  return 0;
  PT_CATCH(-1)
}

// ---- creation ----
PT_API PtTensor pt_empty(const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::empty(pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_zeros(const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::zeros(pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_ones(const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::ones(pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_full(const int64_t* shape, int32_t ndim, PtScalar value, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::full(pt::ints(shape, ndim), pt::scalar(value), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_rand(const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::rand(pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_randn(const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::randn(pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_randint(int64_t low, int64_t high, const int64_t* shape, int32_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  PT_TRY return pt::wrap(torch::randint(low, high, pt::ints(shape, ndim), pt::options(dtype, dev_type, dev_index))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_randperm(int64_t n, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  PT_TRY return pt::wrap(torch::randperm(n, pt::options(dtype, dev_type, dev_index))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_arange(PtScalar start, PtScalar end, PtScalar step, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t requires_grad) {
  PT_TRY return pt::wrap(torch::arange(pt::scalar(start), pt::scalar(end), pt::scalar(step), pt::options(dtype, dev_type, dev_index, requires_grad))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_linspace(double start, double end, int64_t steps, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  PT_TRY return pt::wrap(torch::linspace(start, end, steps, pt::options(dtype, dev_type, dev_index))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_eye(int64_t n, int64_t m, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  PT_TRY return pt::wrap(torch::eye(n, m, pt::options(dtype, dev_type, dev_index))); PT_CATCH(nullptr)
}
// Copies `bytes` bytes from managed memory into a new CPU tensor of the given shape and dtype.
PT_API PtTensor pt_from_data(const void* data, int64_t bytes, const int64_t* shape, int32_t ndim, int32_t dtype) {
  PT_TRY
  auto t = torch::empty(pt::ints(shape, ndim), at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
  TORCH_CHECK(static_cast<int64_t>(t.nbytes()) == bytes, "from_data: ", bytes, " bytes given for a tensor of shape ",
              t.sizes(), " and dtype ", t.dtype(), " which needs ", t.nbytes());
  if (bytes > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(bytes));
  return pt::wrap(std::move(t));
  PT_CATCH(nullptr)
}
PT_API PtTensor pt_scalar_tensor(PtScalar value, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  PT_TRY return pt::wrap(torch::scalar_tensor(pt::scalar(value), pt::options(dtype, dev_type, dev_index))); PT_CATCH(nullptr)
}
PT_API PtTensor pt_zeros_like(PtTensor a) { PT_TRY return pt::wrap(torch::zeros_like(*a)); PT_CATCH(nullptr) }
PT_API PtTensor pt_ones_like(PtTensor a) { PT_TRY return pt::wrap(torch::ones_like(*a)); PT_CATCH(nullptr) }
PT_API PtTensor pt_empty_like(PtTensor a) { PT_TRY return pt::wrap(torch::empty_like(*a)); PT_CATCH(nullptr) }
PT_API PtTensor pt_full_like(PtTensor a, PtScalar v) { PT_TRY return pt::wrap(torch::full_like(*a, pt::scalar(v))); PT_CATCH(nullptr) }
PT_API PtTensor pt_rand_like(PtTensor a) { PT_TRY return pt::wrap(torch::rand_like(*a)); PT_CATCH(nullptr) }
PT_API PtTensor pt_randn_like(PtTensor a) { PT_TRY return pt::wrap(torch::randn_like(*a)); PT_CATCH(nullptr) }

// ---- properties ----
PT_API int32_t pt_dim(PtTensor t) { return static_cast<int32_t>(t->dim()); }
PT_API int32_t pt_shape(PtTensor t, int64_t* out, int32_t capacity) {
  auto n = static_cast<int32_t>(t->dim());
  for (int32_t k = 0; k < n && k < capacity; ++k) out[k] = t->size(k);
  return n;
}
PT_API int32_t pt_strides(PtTensor t, int64_t* out, int32_t capacity) {
  auto n = static_cast<int32_t>(t->dim());
  for (int32_t k = 0; k < n && k < capacity; ++k) out[k] = t->stride(k);
  return n;
}
PT_API int64_t pt_numel(PtTensor t) { return t->numel(); }
PT_API int32_t pt_dtype(PtTensor t) { return static_cast<int32_t>(t->scalar_type()); }
PT_API int32_t pt_device_type(PtTensor t) { return t->device().is_cuda() ? 1 : 0; }
PT_API int32_t pt_device_index(PtTensor t) { return t->device().has_index() ? t->device().index() : 0; }
PT_API int32_t pt_is_contiguous(PtTensor t) { return t->is_contiguous() ? 1 : 0; }
PT_API int32_t pt_defined(PtTensor t) { return t->defined() ? 1 : 0; }
PT_API int64_t pt_element_size(PtTensor t) { return static_cast<int64_t>(t->element_size()); }

// Copies the tensor's elements (any device, any layout) into managed memory, in row-major order.
PT_API int32_t pt_copy_to(PtTensor t, void* dst, int64_t bytes) {
  PT_TRY
  auto c = t->detach().to(at::kCPU).contiguous();
  TORCH_CHECK(static_cast<int64_t>(c.nbytes()) == bytes, "copy_to: destination holds ", bytes, " bytes but the tensor has ", c.nbytes());
  if (bytes > 0) std::memcpy(dst, c.data_ptr(), static_cast<size_t>(bytes));
  return 0;
  PT_CATCH(-1)
}
PT_API int32_t pt_item_double(PtTensor t, double* out) { PT_TRY *out = t->item<double>(); return 0; PT_CATCH(-1) }
PT_API int32_t pt_item_long(PtTensor t, int64_t* out) { PT_TRY *out = t->item<int64_t>(); return 0; PT_CATCH(-1) }

// A C string describing the tensor (as printed by libtorch); buf receives at most capacity-1 chars.
PT_API int32_t pt_to_string(PtTensor t, char* buf, int32_t capacity) {
  PT_TRY
  std::ostringstream os;
  os << *t;
  auto s = os.str();
  std::snprintf(buf, static_cast<size_t>(capacity), "%s", s.c_str());
  return static_cast<int32_t>(s.size());
  PT_CATCH(-1)
}

// ---- conversion ----
PT_API PtTensor pt_to(PtTensor t, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t non_blocking, int32_t copy) {
  PT_TRY
  auto dt = dtype < 0 ? t->scalar_type() : static_cast<at::ScalarType>(dtype);
  auto dev = dev_type < 0 ? t->device() : pt::device(dev_type, dev_index);
  return pt::wrap(t->to(dev, dt, non_blocking != 0, copy != 0));
  PT_CATCH(nullptr)
}
PT_API PtTensor pt_clone(PtTensor t) { PT_TRY return pt::wrap(t->clone()); PT_CATCH(nullptr) }
PT_API PtTensor pt_alias(PtTensor t) { PT_TRY return pt::wrap(*t); PT_CATCH(nullptr) }
PT_API int32_t pt_copy_(PtTensor dst, PtTensor src) { PT_TRY dst->copy_(*src); return 0; PT_CATCH(-1) }

// ---- autograd ----
PT_API int32_t pt_requires_grad(PtTensor t) { return t->requires_grad() ? 1 : 0; }
PT_API int32_t pt_set_requires_grad(PtTensor t, int32_t on) { PT_TRY t->set_requires_grad(on != 0); return 0; PT_CATCH(-1) }
PT_API int32_t pt_is_leaf(PtTensor t) { return t->is_leaf() ? 1 : 0; }
// Returns the gradient, or nullptr with no error pending when the tensor has none.
PT_API PtTensor pt_grad(PtTensor t) {
  PT_TRY
  const auto& g = t->grad();
  return g.defined() ? pt::wrap(g) : nullptr;
  PT_CATCH(nullptr)
}
PT_API int32_t pt_set_grad(PtTensor t, PtTensor g) {
  PT_TRY t->mutable_grad() = g ? *g : at::Tensor(); return 0; PT_CATCH(-1)
}
// Zeroes the gradient in place (set_to_none=1 drops it instead, as PyTorch's default does).
PT_API int32_t pt_zero_grad(PtTensor t, int32_t set_to_none) {
  PT_TRY
  auto& g = t->mutable_grad();
  if (g.defined()) {
    if (set_to_none) {
      g = at::Tensor();
    } else {
      g = g.detach();
      g.zero_();
    }
  }
  return 0;
  PT_CATCH(-1)
}
PT_API int32_t pt_backward(PtTensor t, PtTensor grad, int32_t retain_graph, int32_t create_graph) {
  PT_TRY
  t->backward(grad ? *grad : at::Tensor(), retain_graph ? c10::optional<bool>(true) : c10::nullopt, create_graph != 0);
  return 0;
  PT_CATCH(-1)
}
PT_API PtTensor pt_detach(PtTensor t) { PT_TRY return pt::wrap(t->detach()); PT_CATCH(nullptr) }
PT_API int32_t pt_detach_(PtTensor t) { PT_TRY t->detach_(); return 0; PT_CATCH(-1) }
PT_API int32_t pt_retain_grad(PtTensor t) { PT_TRY t->retain_grad(); return 0; PT_CATCH(-1) }
PT_API int32_t pt_is_grad_enabled() { return at::GradMode::is_enabled() ? 1 : 0; }
PT_API void pt_set_grad_enabled(int32_t on) { at::GradMode::set_enabled(on != 0); }
