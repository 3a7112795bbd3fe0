// Reductions, scans, softmax, and sorting. Ops returning (values, indices) write two owned handles
// through out-parameters and return 0, or -1 with neither written.
#include "shim.h"

namespace {
int32_t pair(std::tuple<at::Tensor, at::Tensor> r, PtTensor* values, PtTensor* indices) {
  *values = pt::wrap(std::move(std::get<0>(r)));
  *indices = pt::wrap(std::move(std::get<1>(r)));
  return 0;
}
c10::optional<at::ScalarType> dtype_opt(int32_t dtype) {
  return dtype < 0 ? c10::optional<at::ScalarType>() : c10::optional<at::ScalarType>(static_cast<at::ScalarType>(dtype));
}
// ndims == 0 means "every dimension" (PyTorch's dim=None).
at::OptionalIntArrayRef dims_opt(const int64_t* dims, int32_t ndims) {
  return ndims == 0 ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(pt::ints(dims, ndims));
}
}  // namespace

PT_UNARY(max_all, at::max(*a))
PT_UNARY(min_all, at::min(*a))
PT_API int32_t pt_max_dim(PtTensor a, int64_t dim, int32_t keepdim, PtTensor* values, PtTensor* indices) {
  PT_TRY return pair(at::max(*a, dim, keepdim != 0), values, indices); PT_CATCH(-1)
}
PT_API int32_t pt_min_dim(PtTensor a, int64_t dim, int32_t keepdim, PtTensor* values, PtTensor* indices) {
  PT_TRY return pair(at::min(*a, dim, keepdim != 0), values, indices); PT_CATCH(-1)
}
PT_API PtTensor pt_argmax(PtTensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
  PT_TRY return pt::wrap(at::argmax(*a, has_dim ? c10::optional<int64_t>(dim) : c10::nullopt, keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_argmin(PtTensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
  PT_TRY return pt::wrap(at::argmin(*a, has_dim ? c10::optional<int64_t>(dim) : c10::nullopt, keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_amax(PtTensor a, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  PT_TRY return pt::wrap(at::amax(*a, pt::ints(dims, ndims), keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_amin(PtTensor a, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  PT_TRY return pt::wrap(at::amin(*a, pt::ints(dims, ndims), keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_prod(PtTensor a, int64_t dim, int32_t has_dim, int32_t keepdim, int32_t dtype) {
  PT_TRY
  return pt::wrap(has_dim ? at::prod(*a, dim, keepdim != 0, dtype_opt(dtype)) : at::prod(*a, dtype_opt(dtype)));
  PT_CATCH(nullptr)
}
PT_API PtTensor pt_std(PtTensor a, const int64_t* dims, int32_t ndims, int32_t unbiased, int32_t keepdim) {
  PT_TRY return pt::wrap(at::std(*a, dims_opt(dims, ndims), unbiased != 0, keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_var(PtTensor a, const int64_t* dims, int32_t ndims, int32_t unbiased, int32_t keepdim) {
  PT_TRY return pt::wrap(at::var(*a, dims_opt(dims, ndims), unbiased != 0, keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_norm(PtTensor a, double p, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  PT_TRY
  if (ndims == 0 && !keepdim) return pt::wrap(at::norm(*a, at::Scalar(p)));
  // Every dimension named explicitly: what an empty dim list means has changed across libtorch versions.
  std::vector<int64_t> all;
  if (ndims == 0) {
    for (int64_t d = 0; d < a->dim(); ++d) all.push_back(d);
  } else {
    all.assign(dims, dims + ndims);
  }
  return pt::wrap(at::norm(*a, c10::optional<at::Scalar>(at::Scalar(p)), all, keepdim != 0));
  PT_CATCH(nullptr)
}
PT_API PtTensor pt_logsumexp(PtTensor a, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  PT_TRY return pt::wrap(at::logsumexp(*a, pt::ints(dims, ndims), keepdim != 0)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_cumsum(PtTensor a, int64_t dim, int32_t dtype) { PT_TRY return pt::wrap(at::cumsum(*a, dim, dtype_opt(dtype))); PT_CATCH(nullptr) }
PT_API PtTensor pt_cumprod(PtTensor a, int64_t dim, int32_t dtype) { PT_TRY return pt::wrap(at::cumprod(*a, dim, dtype_opt(dtype))); PT_CATCH(nullptr) }
PT_API PtTensor pt_any(PtTensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
  PT_TRY return pt::wrap(has_dim ? at::any(*a, dim, keepdim != 0) : at::any(*a)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_all(PtTensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
  PT_TRY return pt::wrap(has_dim ? at::all(*a, dim, keepdim != 0) : at::all(*a)); PT_CATCH(nullptr)
}
PT_API PtTensor pt_softmax(PtTensor a, int64_t dim, int32_t dtype) { PT_TRY return pt::wrap(at::softmax(*a, dim, dtype_opt(dtype))); PT_CATCH(nullptr) }
PT_API PtTensor pt_log_softmax(PtTensor a, int64_t dim, int32_t dtype) { PT_TRY return pt::wrap(at::log_softmax(*a, dim, dtype_opt(dtype))); PT_CATCH(nullptr) }

PT_API int32_t pt_topk(PtTensor a, int64_t k, int64_t dim, int32_t largest, int32_t sorted, PtTensor* values, PtTensor* indices) {
  PT_TRY return pair(at::topk(*a, k, dim, largest != 0, sorted != 0), values, indices); PT_CATCH(-1)
}
PT_API int32_t pt_sort(PtTensor a, int64_t dim, int32_t descending, int32_t stable, PtTensor* values, PtTensor* indices) {
  PT_TRY return pair(at::sort(*a, c10::optional<bool>(stable != 0), dim, descending != 0), values, indices); PT_CATCH(-1)
}
PT_API PtTensor pt_argsort(PtTensor a, int64_t dim, int32_t descending) { PT_TRY return pt::wrap(at::argsort(*a, dim, descending != 0)); PT_CATCH(nullptr) }
