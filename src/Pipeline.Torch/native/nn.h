// Helpers shared by the torch.nn shim files (nn.cpp, loss.cpp, init.cpp).
#pragma once
#include "shim.h"

namespace pt {
// A nullable handle (bias, weight, running stats) as libtorch's optional tensor.
inline c10::optional<at::Tensor> opt(PtTensor t) { return t ? c10::optional<at::Tensor>(*t) : c10::nullopt; }
}  // namespace pt
