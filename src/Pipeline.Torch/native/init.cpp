// torch.nn.init's in-place fills (the same generator calls as PyTorch's), and in-place data swaps for
// Module.to().
#include "nn.h"

// No graph is recorded, as torch.nn.init does under torch.no_grad().
PT_API int32_t pt_uniform_(PtTensor t, double from, double to) {
  PT_TRY at::NoGradGuard guard; t->uniform_(from, to); return 0; PT_CATCH(-1)
}
PT_API int32_t pt_normal_(PtTensor t, double mean, double std) {
  PT_TRY at::NoGradGuard guard; t->normal_(mean, std); return 0; PT_CATCH(-1)
}
PT_API int32_t pt_fill_no_grad_(PtTensor t, PtScalar value) {
  PT_TRY at::NoGradGuard guard; t->fill_(pt::scalar(value)); return 0; PT_CATCH(-1)
}
PT_API int32_t pt_copy_no_grad_(PtTensor dst, PtTensor src) {
  PT_TRY at::NoGradGuard guard; dst->copy_(*src); return 0; PT_CATCH(-1)
}

// Replaces t's data (dtype, device, storage) keeping the same tensor object, autograd identity and
// requires_grad, as `param.data = new` does in PyTorch: references held elsewhere stay valid.
PT_API int32_t pt_set_data(PtTensor t, PtTensor data) {
  PT_TRY t->set_data(*data); return 0; PT_CATCH(-1)
}
