// Views and shape operations.
#include "shim.h"

PT_API PtTensor pt_reshape(PtTensor a, const int64_t* shape, int32_t n) { PT_TRY return pt::wrap(a->reshape(pt::ints(shape, n))); PT_CATCH(nullptr) }
PT_API PtTensor pt_view(PtTensor a, const int64_t* shape, int32_t n) { PT_TRY return pt::wrap(a->view(pt::ints(shape, n))); PT_CATCH(nullptr) }
PT_API PtTensor pt_flatten(PtTensor a, int64_t start, int64_t end) { PT_TRY return pt::wrap(a->flatten(start, end)); PT_CATCH(nullptr) }
PT_API PtTensor pt_transpose(PtTensor a, int64_t d0, int64_t d1) { PT_TRY return pt::wrap(a->transpose(d0, d1)); PT_CATCH(nullptr) }
PT_API PtTensor pt_permute(PtTensor a, const int64_t* dims, int32_t n) { PT_TRY return pt::wrap(a->permute(pt::ints(dims, n))); PT_CATCH(nullptr) }
PT_API PtTensor pt_contiguous(PtTensor a) { PT_TRY return pt::wrap(a->contiguous()); PT_CATCH(nullptr) }
PT_API PtTensor pt_squeeze(PtTensor a, int64_t dim, int32_t all) { PT_TRY return pt::wrap(all ? a->squeeze() : a->squeeze(dim)); PT_CATCH(nullptr) }
PT_API PtTensor pt_unsqueeze(PtTensor a, int64_t dim) { PT_TRY return pt::wrap(a->unsqueeze(dim)); PT_CATCH(nullptr) }
PT_API PtTensor pt_cat(PtTensor const* list, int32_t n, int64_t dim) { PT_TRY return pt::wrap(at::cat(pt::tensors(list, n), dim)); PT_CATCH(nullptr) }
PT_API PtTensor pt_stack(PtTensor const* list, int32_t n, int64_t dim) { PT_TRY return pt::wrap(at::stack(pt::tensors(list, n), dim)); PT_CATCH(nullptr) }
