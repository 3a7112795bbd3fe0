// Optimizer steps and gradient clipping: one call per parameter group, PyTorch 1.13's single-tensor
// algorithms op for op (same kernels, same scalar math in double), so results match torch.optim.
//
// State arrays are in/out: an entry that is nullptr is created here (for a parameter with a gradient)
// and handed back as a new owned handle; C# adopts those even when the call fails part-way.
// Parameters without a gradient are skipped, their state untouched, as in PyTorch.
#include "shim.h"

#include <cmath>

namespace {
at::Tensor grad_of(const at::Tensor& p, bool maximize) {
  const auto& g = p.grad();
  TORCH_CHECK(!g.is_sparse(), "optimizers here do not support sparse gradients");
  return maximize ? g.neg() : g;
}
}  // namespace

PT_API int32_t pt_sgd_step(PtTensor const* params, int32_t n, PtTensor* momentum_bufs, double lr, double momentum,
                           double dampening, double weight_decay, int32_t nesterov, int32_t maximize) {
  PT_TRY
  at::NoGradGuard no_grad;
  for (int32_t k = 0; k < n; ++k) {
    auto& p = *params[k];
    if (!p.grad().defined()) continue;
    auto d_p = grad_of(p, maximize != 0);
    if (weight_decay != 0) d_p = d_p.add(p, weight_decay);
    if (momentum != 0) {
      if (momentum_bufs[k] == nullptr) {
        // First step: the buffer is the (decayed) gradient itself, without dampening.
        momentum_bufs[k] = pt::wrap(d_p.clone().detach());
      } else {
        momentum_bufs[k]->mul_(momentum).add_(d_p, 1 - dampening);
      }
      const auto& buf = *momentum_bufs[k];
      d_p = nesterov ? d_p.add(buf, momentum) : buf;
    }
    p.add_(d_p, -lr);
  }
  return 0;
  PT_CATCH(-1)
}

// Adam (decoupled == 0: L2 penalty added to the gradient) and AdamW (decoupled == 1: the parameter
// itself decays by lr * weight_decay). steps[k] is the per-parameter step count, incremented here.
PT_API int32_t pt_adam_step(PtTensor const* params, int32_t n, PtTensor* exp_avgs, PtTensor* exp_avg_sqs,
                            PtTensor* max_exp_avg_sqs, int64_t* steps, double lr, double beta1, double beta2,
                            double eps, double weight_decay, int32_t amsgrad, int32_t maximize, int32_t decoupled) {
  PT_TRY
  at::NoGradGuard no_grad;
  for (int32_t k = 0; k < n; ++k) {
    auto& p = *params[k];
    if (!p.grad().defined()) continue;
    auto grad = grad_of(p, maximize != 0);
    if (exp_avgs[k] == nullptr) exp_avgs[k] = pt::wrap(at::zeros_like(p, at::MemoryFormat::Preserve));
    if (exp_avg_sqs[k] == nullptr) exp_avg_sqs[k] = pt::wrap(at::zeros_like(p, at::MemoryFormat::Preserve));
    if (amsgrad && max_exp_avg_sqs[k] == nullptr) max_exp_avg_sqs[k] = pt::wrap(at::zeros_like(p, at::MemoryFormat::Preserve));
    auto& exp_avg = *exp_avgs[k];
    auto& exp_avg_sq = *exp_avg_sqs[k];

    const double step = static_cast<double>(++steps[k]);
    if (decoupled) {
      p.mul_(1 - lr * weight_decay);
    } else if (weight_decay != 0) {
      grad = grad.add(p, weight_decay);
    }
    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);

    const double bias_correction1 = 1 - std::pow(beta1, step);
    const double bias_correction2 = 1 - std::pow(beta2, step);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    at::Tensor denom;
    if (amsgrad) {
      auto& max_sq = *max_exp_avg_sqs[k];
      at::maximum_out(max_sq, max_sq, exp_avg_sq);
      denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps);
    } else {
      denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps);
    }
    p.addcdiv_(exp_avg, denom, -step_size);
  }
  return 0;
  PT_CATCH(-1)
}

// torch.nn.utils.clip_grad_norm_: the norm of all gradients as one vector; each gradient is scaled by
// min(1, max_norm / (total + 1e-6)). norm_type = +inf gives the max-abs norm. *total receives the norm.
PT_API int32_t pt_clip_grad_norm_(PtTensor const* params, int32_t n, double max_norm, double norm_type,
                                  int32_t error_if_nonfinite, double* total) {
  PT_TRY
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (int32_t k = 0; k < n; ++k) {
    const auto& g = params[k]->grad();
    if (g.defined()) grads.push_back(g.detach());
  }
  if (grads.empty()) {
    *total = 0.0;
    return 0;
  }
  const auto device = grads[0].device();
  at::Tensor total_norm;
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  if (std::isinf(norm_type) && norm_type > 0) {
    for (const auto& g : grads) norms.push_back(g.abs().max().to(device));
    total_norm = norms.size() == 1 ? norms[0] : at::stack(norms).max();
  } else {
    for (const auto& g : grads) norms.push_back(at::linalg_vector_norm(g, norm_type).to(device));
    total_norm = at::linalg_vector_norm(at::stack(norms), norm_type);
  }
  if (error_if_nonfinite && (total_norm.isnan().item<bool>() || total_norm.isinf().item<bool>())) {
    TORCH_CHECK(false, "The total norm of order ", norm_type, " for gradients from `parameters` is non-finite, so it "
                "cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
                "set `error_if_nonfinite=False`");
  }
  // Python's `max_norm / tensor` is reciprocal() * max_norm: the same ops keep results bit-identical.
  auto clip_coef = at::reciprocal(total_norm + 1e-6) * max_norm;
  auto clip_coef_clamped = at::clamp(clip_coef, c10::optional<at::Scalar>(), c10::optional<at::Scalar>(1.0));
  for (auto& g : grads) g.mul_(clip_coef_clamped.to(g.device()));
  *total = total_norm.item<double>();
  return 0;
  PT_CATCH(-1)
}

PT_API int32_t pt_clip_grad_value_(PtTensor const* params, int32_t n, double clip_value) {
  PT_TRY
  at::NoGradGuard no_grad;
  for (int32_t k = 0; k < n; ++k) {
    const auto& g = params[k]->grad();
    if (g.defined()) g.detach().clamp_(-clip_value, clip_value);
  }
  return 0;
  PT_CATCH(-1)
}

// torch.nn.utils.parameters_to_vector: differentiable, like PyTorch (views, then cat).
PT_API PtTensor pt_parameters_to_vector(PtTensor const* params, int32_t n) {
  PT_TRY
  TORCH_CHECK(n > 0, "parameters_to_vector: no parameters given");
  std::vector<at::Tensor> flat;
  flat.reserve(static_cast<size_t>(n));
  for (int32_t k = 0; k < n; ++k) {
    TORCH_CHECK(params[k]->device() == params[0]->device(), "parameters_to_vector: parameter ", k, " is on ",
                params[k]->device(), " but parameter 0 is on ", params[0]->device());
    flat.push_back(params[k]->view(-1));
  }
  return pt::wrap(at::cat(flat));
  PT_CATCH(nullptr)
}
