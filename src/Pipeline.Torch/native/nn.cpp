// torch.nn.functional: layers' forward ops. Each calls the same at:: op that PyTorch's Python
// functional calls, so results and gradients match it.
#include "nn.h"

PT_API PtTensor pt_linear(PtTensor input, PtTensor weight, PtTensor bias) {
  PT_TRY return pt::wrap(at::linear(*input, *weight, pt::opt(bias))); PT_CATCH(nullptr)
}

// stride, padding, dilation: two values each (h, w).
PT_API PtTensor pt_conv2d(PtTensor input, PtTensor weight, PtTensor bias, const int64_t* stride, const int64_t* padding,
                          const int64_t* dilation, int64_t groups) {
  PT_TRY
  return pt::wrap(at::conv2d(*input, *weight, pt::opt(bias), pt::ints(stride, 2), pt::ints(padding, 2), pt::ints(dilation, 2), groups));
  PT_CATCH(nullptr)
}

// Updates running_mean / running_var in place when training (as F.batch_norm does).
PT_API PtTensor pt_batch_norm(PtTensor input, PtTensor running_mean, PtTensor running_var, PtTensor weight, PtTensor bias,
                              int32_t training, double momentum, double eps) {
  PT_TRY
  return pt::wrap(at::batch_norm(*input, pt::opt(weight), pt::opt(bias), pt::opt(running_mean), pt::opt(running_var),
                                 training != 0, momentum, eps, at::globalContext().userEnabledCuDNN()));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_group_norm(PtTensor input, int64_t num_groups, PtTensor weight, PtTensor bias, double eps) {
  PT_TRY
  return pt::wrap(at::group_norm(*input, num_groups, pt::opt(weight), pt::opt(bias), eps, at::globalContext().userEnabledCuDNN()));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_layer_norm(PtTensor input, const int64_t* normalized_shape, int32_t n, PtTensor weight, PtTensor bias, double eps) {
  PT_TRY
  return pt::wrap(at::layer_norm(*input, pt::ints(normalized_shape, n), pt::opt(weight), pt::opt(bias), eps,
                                 at::globalContext().userEnabledCuDNN()));
  PT_CATCH(nullptr)
}

PT_UNARY(silu, at::silu(*a))
PT_API PtTensor pt_gelu(PtTensor a, int32_t tanh_approximation) {
  PT_TRY return pt::wrap(at::gelu(*a, tanh_approximation ? "tanh" : "none")); PT_CATCH(nullptr)
}
PT_API PtTensor pt_leaky_relu(PtTensor a, double negative_slope) {
  PT_TRY return pt::wrap(at::leaky_relu(*a, negative_slope)); PT_CATCH(nullptr)
}

// kernel, stride, padding, dilation: two values each.
PT_API PtTensor pt_max_pool2d(PtTensor input, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                              const int64_t* dilation, int32_t ceil_mode) {
  PT_TRY
  return pt::wrap(at::max_pool2d(*input, pt::ints(kernel, 2), pt::ints(stride, 2), pt::ints(padding, 2), pt::ints(dilation, 2), ceil_mode != 0));
  PT_CATCH(nullptr)
}

// divisor_override <= 0 means none.
PT_API PtTensor pt_avg_pool2d(PtTensor input, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                              int32_t ceil_mode, int32_t count_include_pad, int64_t divisor_override) {
  PT_TRY
  return pt::wrap(at::avg_pool2d(*input, pt::ints(kernel, 2), pt::ints(stride, 2), pt::ints(padding, 2), ceil_mode != 0,
                                 count_include_pad != 0, divisor_override > 0 ? c10::optional<int64_t>(divisor_override) : c10::nullopt));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_adaptive_avg_pool2d(PtTensor input, const int64_t* output_size) {
  PT_TRY return pt::wrap(at::adaptive_avg_pool2d(*input, pt::ints(output_size, 2))); PT_CATCH(nullptr)
}

PT_API PtTensor pt_dropout(PtTensor input, double p, int32_t training) {
  PT_TRY
  TORCH_CHECK(p >= 0.0 && p <= 1.0, "dropout probability has to be between 0 and 1, but got ", p);
  return pt::wrap(at::dropout(*input, p, training != 0));
  PT_CATCH(nullptr)
}

// mode: 0 nearest, 1 bilinear. Exactly one of size (2 values) and scale_factors (2 values) is non-null,
// as F.interpolate passes them on.
PT_API PtTensor pt_interpolate(PtTensor input, const int64_t* size, const double* scale_factors, int32_t mode,
                               int32_t align_corners, int32_t antialias) {
  PT_TRY
  TORCH_CHECK(input->dim() == 4, "interpolate: expected a 4-D (N, C, H, W) input, got ", input->dim(), "-D");
  at::OptionalIntArrayRef osize = size ? at::OptionalIntArrayRef(pt::ints(size, 2)) : c10::nullopt;
  c10::optional<at::ArrayRef<double>> scales =
      scale_factors ? c10::optional<at::ArrayRef<double>>(at::ArrayRef<double>(scale_factors, 2)) : c10::nullopt;
  if (mode == 0) {
    TORCH_CHECK(!antialias, "interpolate: antialias is only supported for bilinear mode");
    return pt::wrap(at::upsample_nearest2d(*input, osize, scales));
  }
  TORCH_CHECK(mode == 1, "interpolate: unknown mode ", mode);
  if (antialias) return pt::wrap(at::_upsample_bilinear2d_aa(*input, osize, align_corners != 0, scales));
  return pt::wrap(at::upsample_bilinear2d(*input, osize, align_corners != 0, scales));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_constant_pad(PtTensor input, const int64_t* pad, int32_t n, PtScalar value) {
  PT_TRY return pt::wrap(at::constant_pad_nd(*input, pt::ints(pad, n), pt::scalar(value))); PT_CATCH(nullptr)
}
