// Autocast (mixed precision): per-thread libtorch state, entered and left like Python's torch.autocast.
// libtorch 2.4 made the API device-generic and deprecated the CPU/CUDA-specific calls that 1.13 has.
#include "shim.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define PT_AUTOCAST_DEVICE_GENERIC 1
#else
#define PT_AUTOCAST_DEVICE_GENERIC 0
#endif

namespace {
at::DeviceType autocast_device(int32_t device_type) {
  TORCH_CHECK(device_type == 0 || device_type == 1, "autocast: unsupported device type ", device_type);
  return device_type == 0 ? at::kCPU : at::kCUDA;
}

bool is_enabled(at::DeviceType d) {
#if PT_AUTOCAST_DEVICE_GENERIC
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

void set_enabled(at::DeviceType d, bool on) {
#if PT_AUTOCAST_DEVICE_GENERIC
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCPU) at::autocast::set_cpu_enabled(on); else at::autocast::set_enabled(on);
#endif
}

at::ScalarType get_dtype(at::DeviceType d) {
#if PT_AUTOCAST_DEVICE_GENERIC
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

void set_dtype(at::DeviceType d, at::ScalarType t) {
#if PT_AUTOCAST_DEVICE_GENERIC
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == at::kCPU) at::autocast::set_autocast_cpu_dtype(t); else at::autocast::set_autocast_gpu_dtype(t);
#endif
}
}  // namespace

PT_API int32_t pt_autocast_get(int32_t device_type, int32_t* enabled, int32_t* dtype) {
  PT_TRY
  auto d = autocast_device(device_type);
  *enabled = is_enabled(d) ? 1 : 0;
  *dtype = static_cast<int32_t>(get_dtype(d));
  return 0;
  PT_CATCH(-1)
}

// Saves the previous state into prev_*, then enables (or disables) autocast with the given dtype.
PT_API int32_t pt_autocast_enter(int32_t device_type, int32_t enabled, int32_t dtype, int32_t* prev_enabled,
                                 int32_t* prev_dtype) {
  PT_TRY
  auto d = autocast_device(device_type);
  auto t = static_cast<at::ScalarType>(dtype);
  if (d == at::kCPU) {
#if !PT_AUTOCAST_DEVICE_GENERIC
    // Older CPU autocast has kernels for bfloat16 only (Python warns and disables for others).
    TORCH_CHECK(t == at::kBFloat16, "CPU autocast in libtorch ", TORCH_VERSION, " supports only bfloat16, not ", t);
#else
    TORCH_CHECK(t == at::kBFloat16 || t == at::kHalf, "CPU autocast supports bfloat16 and float16, not ", t);
#endif
  } else {
    TORCH_CHECK(t == at::kBFloat16 || t == at::kHalf, "CUDA autocast supports float16 and bfloat16, not ", t);
  }
  *prev_enabled = is_enabled(d) ? 1 : 0;
  *prev_dtype = static_cast<int32_t>(get_dtype(d));
  set_enabled(d, enabled != 0);
  set_dtype(d, t);
  at::autocast::increment_nesting();
  return 0;
  PT_CATCH(-1)
}

// Restores the state saved by pt_autocast_enter; leaving the outermost scope clears the cast cache.
PT_API int32_t pt_autocast_exit(int32_t device_type, int32_t prev_enabled, int32_t prev_dtype) {
  PT_TRY
  auto d = autocast_device(device_type);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(d, prev_enabled != 0);
  set_dtype(d, static_cast<at::ScalarType>(prev_dtype));
  return 0;
  PT_CATCH(-1)
}
