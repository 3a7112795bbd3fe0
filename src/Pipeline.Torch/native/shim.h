// Shared by every shim source file: the C ABI conventions.
//  - Tensors cross the ABI as owned `at::Tensor*` (C# wraps each in a SafeHandle and frees it once).
//  - No C++ exception crosses the ABI: every export catches, records the message in a thread-local
//    slot, and returns nullptr / -1; C# then takes the message and throws.
#pragma once
#include <torch/torch.h>
#include <cstdint>
#include <string>
#include <vector>

#define PT_API extern "C" __attribute__((visibility("default")))

typedef at::Tensor* PtTensor;

// A scalar with its kind, so that `int_tensor + 1` stays integral as in PyTorch.
struct PtScalar {
  double d;
  int64_t i;
  int32_t kind;  // 0 = floating, 1 = integral, 2 = boolean
};

namespace pt {
void set_error(const char* message);
void set_error(const std::string& message);

inline PtTensor wrap(at::Tensor t) { return new at::Tensor(std::move(t)); }

inline at::Scalar scalar(const PtScalar& s) {
  switch (s.kind) {
    case 1: return at::Scalar(s.i);
    case 2: return at::Scalar(s.i != 0);
    default: return at::Scalar(s.d);
  }
}

inline at::IntArrayRef ints(const int64_t* data, int32_t n) { return at::IntArrayRef(data, static_cast<size_t>(n)); }

inline at::Device device(int32_t type, int32_t index) {
  return type == 1 ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index)) : at::Device(at::kCPU);
}

inline at::TensorOptions options(int32_t dtype, int32_t dev_type, int32_t dev_index, bool requires_grad = false) {
  return at::TensorOptions()
      .dtype(static_cast<at::ScalarType>(dtype))
      .device(device(dev_type, dev_index))
      .requires_grad(requires_grad);
}

// Builds a std::vector<at::Tensor> from an array of handles (for cat, stack, ...).
inline std::vector<at::Tensor> tensors(PtTensor const* handles, int32_t n) {
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (int32_t k = 0; k < n; ++k) out.push_back(*handles[k]);
  return out;
}

// Returns a list of tensors as a malloc'ed array of owned handles; C# frees it with pt_free_array.
PtTensor* wrap_list(const std::vector<at::Tensor>& list, int32_t* count);
}  // namespace pt

#define PT_TRY try {
#define PT_CATCH(ret)                                   \
  }                                                     \
  catch (const c10::Error& e) {                         \
    pt::set_error(e.what_without_backtrace());          \
    return ret;                                         \
  }                                                     \
  catch (const std::exception& e) {                     \
    pt::set_error(e.what());                            \
    return ret;                                         \
  }                                                     \
  catch (...) {                                         \
    pt::set_error("unknown native error in libtorch");  \
    return ret;                                         \
  }

// One-line definitions for the many ops of the same shape.
#define PT_UNARY(name, expr) \
  PT_API PtTensor pt_##name(PtTensor a) { PT_TRY return pt::wrap(expr); PT_CATCH(nullptr) }
#define PT_UNARY_(name, expr) \
  PT_API int32_t pt_##name(PtTensor a) { PT_TRY expr; return 0; PT_CATCH(-1) }
#define PT_BINARY(name, expr) \
  PT_API PtTensor pt_##name(PtTensor a, PtTensor b) { PT_TRY return pt::wrap(expr); PT_CATCH(nullptr) }
#define PT_BINARY_(name, expr) \
  PT_API int32_t pt_##name(PtTensor a, PtTensor b) { PT_TRY expr; return 0; PT_CATCH(-1) }
#define PT_SCALAR(name, expr) \
  PT_API PtTensor pt_##name(PtTensor a, PtScalar s) { PT_TRY return pt::wrap(expr); PT_CATCH(nullptr) }
#define PT_SCALAR_(name, expr) \
  PT_API int32_t pt_##name(PtTensor a, PtScalar s) { PT_TRY expr; return 0; PT_CATCH(-1) }
