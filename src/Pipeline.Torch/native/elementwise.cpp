// More element-wise math (unary, binary, fused, in-place) and matrix products.
#include "shim.h"

PT_UNARY(log1p, at::log1p(*a))
PT_UNARY(expm1, at::expm1(*a))
PT_UNARY(sin, at::sin(*a))
PT_UNARY(cos, at::cos(*a))
PT_UNARY(floor, at::floor(*a))
PT_UNARY(ceil, at::ceil(*a))
PT_UNARY(round, at::round(*a))
PT_UNARY(trunc, at::trunc(*a))
PT_UNARY(sign, at::sign(*a))
PT_UNARY(reciprocal, at::reciprocal(*a))
PT_UNARY(square, at::square(*a))
PT_UNARY(erf, at::erf(*a))
PT_UNARY(isnan, at::isnan(*a))
PT_UNARY(isinf, at::isinf(*a))
PT_UNARY(isfinite, at::isfinite(*a))

PT_BINARY(remainder, at::remainder(*a, *b))
PT_BINARY(fmod, at::fmod(*a, *b))
PT_SCALAR(remainder_scalar, at::remainder(*a, pt::scalar(s)))
PT_SCALAR(fmod_scalar, at::fmod(*a, pt::scalar(s)))
PT_SCALAR(clamp_min, at::clamp_min(*a, pt::scalar(s)))
PT_SCALAR(clamp_max, at::clamp_max(*a, pt::scalar(s)))
PT_BINARY(mm, at::mm(*a, *b))
PT_BINARY(bmm, at::bmm(*a, *b))
PT_BINARY(outer, at::outer(*a, *b))

PT_API PtTensor pt_lerp(PtTensor a, PtTensor end, PtScalar weight) { PT_TRY return pt::wrap(at::lerp(*a, *end, pt::scalar(weight))); PT_CATCH(nullptr) }
PT_API PtTensor pt_lerp_tensor(PtTensor a, PtTensor end, PtTensor weight) { PT_TRY return pt::wrap(at::lerp(*a, *end, *weight)); PT_CATCH(nullptr) }
PT_API int32_t pt_lerp_(PtTensor a, PtTensor end, PtScalar weight) { PT_TRY a->lerp_(*end, pt::scalar(weight)); return 0; PT_CATCH(-1) }

PT_API PtTensor pt_addcmul(PtTensor a, PtTensor t1, PtTensor t2, PtScalar value) { PT_TRY return pt::wrap(at::addcmul(*a, *t1, *t2, pt::scalar(value))); PT_CATCH(nullptr) }
PT_API PtTensor pt_addcdiv(PtTensor a, PtTensor t1, PtTensor t2, PtScalar value) { PT_TRY return pt::wrap(at::addcdiv(*a, *t1, *t2, pt::scalar(value))); PT_CATCH(nullptr) }
PT_API int32_t pt_addcmul_(PtTensor a, PtTensor t1, PtTensor t2, PtScalar value) { PT_TRY a->addcmul_(*t1, *t2, pt::scalar(value)); return 0; PT_CATCH(-1) }
PT_API int32_t pt_addcdiv_(PtTensor a, PtTensor t1, PtTensor t2, PtScalar value) { PT_TRY a->addcdiv_(*t1, *t2, pt::scalar(value)); return 0; PT_CATCH(-1) }

PT_UNARY_(sigmoid_, a->sigmoid_())
PT_UNARY_(log_, a->log_())
PT_UNARY_(abs_, a->abs_())
PT_UNARY_(tanh_, a->tanh_())
PT_SCALAR_(pow_scalar_, a->pow_(pt::scalar(s)))
PT_SCALAR_(clamp_min_, a->clamp_min_(pt::scalar(s)))
PT_SCALAR_(clamp_max_, a->clamp_max_(pt::scalar(s)))
