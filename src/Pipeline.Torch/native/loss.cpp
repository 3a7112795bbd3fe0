// torch.nn.functional losses. reduction: 0 none, 1 mean, 2 sum (at::Reduction's values).
#include "nn.h"

PT_API PtTensor pt_cross_entropy(PtTensor input, PtTensor target, PtTensor weight, int64_t reduction, int64_t ignore_index,
                                 double label_smoothing) {
  PT_TRY
  return pt::wrap(at::cross_entropy_loss(*input, *target, pt::opt(weight), reduction, ignore_index, label_smoothing));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_nll_loss(PtTensor input, PtTensor target, PtTensor weight, int64_t reduction, int64_t ignore_index) {
  PT_TRY return pt::wrap(at::nll_loss_nd(*input, *target, pt::opt(weight), reduction, ignore_index)); PT_CATCH(nullptr)
}

PT_API PtTensor pt_binary_cross_entropy_with_logits(PtTensor input, PtTensor target, PtTensor weight, PtTensor pos_weight,
                                                    int64_t reduction) {
  PT_TRY
  TORCH_CHECK(target->sizes() == input->sizes(), "Target size (", target->sizes(), ") must be the same as input size (",
              input->sizes(), ")");
  return pt::wrap(at::binary_cross_entropy_with_logits(*input, *target, pt::opt(weight), pt::opt(pos_weight), reduction));
  PT_CATCH(nullptr)
}

// The element-wise losses broadcast input and target first, as F.mse_loss and friends do.
PT_API PtTensor pt_mse_loss(PtTensor input, PtTensor target, int64_t reduction) {
  PT_TRY
  auto b = at::broadcast_tensors({*input, *target});
  return pt::wrap(at::mse_loss(b[0], b[1], reduction));
  PT_CATCH(nullptr)
}

PT_API PtTensor pt_l1_loss(PtTensor input, PtTensor target, int64_t reduction) {
  PT_TRY
  auto b = at::broadcast_tensors({*input, *target});
  return pt::wrap(at::l1_loss(b[0], b[1], reduction));
  PT_CATCH(nullptr)
}

// beta == 0 is plain L1, which F.smooth_l1_loss special-cases the same way.
PT_API PtTensor pt_smooth_l1_loss(PtTensor input, PtTensor target, int64_t reduction, double beta) {
  PT_TRY
  auto b = at::broadcast_tensors({*input, *target});
  return pt::wrap(beta == 0.0 ? at::l1_loss(b[0], b[1], reduction) : at::smooth_l1_loss(b[0], b[1], reduction, beta));
  PT_CATCH(nullptr)
}
