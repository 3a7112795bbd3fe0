// Element-wise arithmetic, comparisons and matrix products.
#include "shim.h"

PT_BINARY(add, *a + *b)
PT_BINARY(sub, *a - *b)
PT_BINARY(mul, *a * *b)
PT_BINARY(div, *a / *b)
PT_BINARY(matmul, at::matmul(*a, *b))
PT_BINARY(pow, at::pow(*a, *b))
PT_BINARY(maximum, at::maximum(*a, *b))
PT_BINARY(minimum, at::minimum(*a, *b))
PT_BINARY(eq, at::eq(*a, *b))
PT_BINARY(ne, at::ne(*a, *b))
PT_BINARY(lt, at::lt(*a, *b))
PT_BINARY(le, at::le(*a, *b))
PT_BINARY(gt, at::gt(*a, *b))
PT_BINARY(ge, at::ge(*a, *b))
PT_BINARY(logical_and, at::logical_and(*a, *b))
PT_BINARY(logical_or, at::logical_or(*a, *b))

PT_SCALAR(add_scalar, *a + pt::scalar(s))
PT_SCALAR(sub_scalar, *a - pt::scalar(s))
PT_SCALAR(rsub_scalar, at::rsub(*a, pt::scalar(s)))
PT_SCALAR(mul_scalar, *a * pt::scalar(s))
PT_SCALAR(div_scalar, *a / pt::scalar(s))
PT_SCALAR(rdiv_scalar, at::reciprocal(*a) * pt::scalar(s))
PT_SCALAR(pow_scalar, at::pow(*a, pt::scalar(s)))
PT_SCALAR(eq_scalar, at::eq(*a, pt::scalar(s)))
PT_SCALAR(ne_scalar, at::ne(*a, pt::scalar(s)))
PT_SCALAR(lt_scalar, at::lt(*a, pt::scalar(s)))
PT_SCALAR(le_scalar, at::le(*a, pt::scalar(s)))
PT_SCALAR(gt_scalar, at::gt(*a, pt::scalar(s)))
PT_SCALAR(ge_scalar, at::ge(*a, pt::scalar(s)))

PT_BINARY_(add_, a->add_(*b))
PT_BINARY_(sub_, a->sub_(*b))
PT_BINARY_(mul_, a->mul_(*b))
PT_BINARY_(div_, a->div_(*b))
PT_SCALAR_(add_scalar_, a->add_(pt::scalar(s)))
PT_SCALAR_(sub_scalar_, a->sub_(pt::scalar(s)))
PT_SCALAR_(mul_scalar_, a->mul_(pt::scalar(s)))
PT_SCALAR_(div_scalar_, a->div_(pt::scalar(s)))
PT_SCALAR_(fill_, a->fill_(pt::scalar(s)))
PT_UNARY_(zero_, a->zero_())

// a + alpha * b, the fused form optimizers use.
PT_API PtTensor pt_add_alpha(PtTensor a, PtTensor b, PtScalar alpha) { PT_TRY return pt::wrap(at::add(*a, *b, pt::scalar(alpha))); PT_CATCH(nullptr) }
PT_API int32_t pt_add_alpha_(PtTensor a, PtTensor b, PtScalar alpha) { PT_TRY a->add_(*b, pt::scalar(alpha)); return 0; PT_CATCH(-1) }

PT_UNARY(neg, at::neg(*a))
PT_UNARY(abs, at::abs(*a))
PT_UNARY(exp, at::exp(*a))
PT_UNARY(log, at::log(*a))
PT_UNARY(sqrt, at::sqrt(*a))
PT_UNARY(rsqrt, at::rsqrt(*a))
PT_UNARY(sigmoid, at::sigmoid(*a))
PT_UNARY(tanh, at::tanh(*a))
PT_UNARY(relu, at::relu(*a))
PT_UNARY(logical_not, at::logical_not(*a))
PT_UNARY_(relu_, at::relu_(*a))
PT_UNARY_(neg_, a->neg_())
PT_UNARY_(exp_, a->exp_())
PT_UNARY_(sqrt_, a->sqrt_())

PT_API PtTensor pt_clamp(PtTensor a, PtScalar lo, int32_t has_lo, PtScalar hi, int32_t has_hi) {
  PT_TRY
  return pt::wrap(at::clamp(*a, has_lo ? c10::optional<at::Scalar>(pt::scalar(lo)) : c10::nullopt,
                            has_hi ? c10::optional<at::Scalar>(pt::scalar(hi)) : c10::nullopt));
  PT_CATCH(nullptr)
}
PT_API int32_t pt_clamp_(PtTensor a, PtScalar lo, int32_t has_lo, PtScalar hi, int32_t has_hi) {
  PT_TRY
  at::clamp_(*a, has_lo ? c10::optional<at::Scalar>(pt::scalar(lo)) : c10::nullopt,
             has_hi ? c10::optional<at::Scalar>(pt::scalar(hi)) : c10::nullopt);
  return 0;
  PT_CATCH(-1)
}

// ---- reductions (dims == nullptr with ndims == 0 reduces over everything) ----
PT_API PtTensor pt_sum(PtTensor a, const int64_t* dims, int32_t ndims, int32_t keepdim, int32_t dtype) {
  PT_TRY
  auto dt = dtype < 0 ? c10::optional<at::ScalarType>() : c10::optional<at::ScalarType>(static_cast<at::ScalarType>(dtype));
  return pt::wrap(ndims == 0 ? at::sum(*a, dt) : at::sum(*a, pt::ints(dims, ndims), keepdim != 0, dt));
  PT_CATCH(nullptr)
}
PT_API PtTensor pt_mean(PtTensor a, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  PT_TRY return pt::wrap(ndims == 0 ? at::mean(*a) : at::mean(*a, pt::ints(dims, ndims), keepdim != 0)); PT_CATCH(nullptr)
}
