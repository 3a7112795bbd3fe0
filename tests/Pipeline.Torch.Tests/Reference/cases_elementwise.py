"""Parity cases: more element-wise math, fused and in-place ops, matrix products."""
import torch

from parity_lib import case, randn


@case("unary_more")
def _(c):
    a = c.add("a", randn(3, 4) * 2, grad=True)
    return {"log1p": a.abs().log1p(), "expm1": a.expm1(), "sin": a.sin(), "cos": torch.cos(a), "floor": a.floor(),
            "ceil": a.ceil(), "round": a.round(), "trunc": a.trunc(), "sign": a.sign(), "reciprocal": (a.abs() + 0.5).reciprocal(),
            "square": a.square(), "erf": torch.erf(a), "clamp_min": a.clamp_min(0.1), "clamp_max": a.clamp_max(-0.1)}


@case("round_half_even")
def _(c):
    x = c.add("x", torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.51]))
    return {"round": x.round()}


@case("isnan_isfinite")
def _(c):
    x = c.add("x", torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), 0.0]))
    return {"isnan": x.isnan(), "isfinite": x.isfinite(), "isinf": torch.isinf(x)}


@case("remainder_fmod")
def _(c):
    a = c.add("a", randn(3, 4) * 5, grad=True)
    b = c.add("b", randn(3, 4).abs() + 0.5, grad=True)
    i = c.add("i", torch.randint(-10, 10, (8,)))
    return {"remainder": a.remainder(b), "fmod": torch.fmod(a, b), "mod_scalar": a % 1.5, "fmod_scalar": a.fmod(-1.5),
            "int_mod": i % 3, "int_fmod": i.fmod(3), "neg_divisor": torch.remainder(a, -2.0)}


@case("lerp_addc")
def _(c):
    a = c.add("a", randn(3, 4), grad=True)
    b = c.add("b", randn(3, 4), grad=True)
    w = c.add("w", randn(3, 4), grad=True)
    return {"lerp": a.lerp(b, 0.3), "lerp_tensor": torch.lerp(a, b, w), "addcmul": a.addcmul(b, w, value=0.5),
            "addcdiv": torch.addcdiv(a, b, w.abs() + 1, value=-2)}


@case("inplace")
def _(c):
    a = c.add("a", randn(3, 4), grad=True)
    b = c.add("b", randn(3, 4), grad=True)
    w = c.add("w", randn(3, 4), grad=True)
    return {"addcmul_": (a * 1).addcmul_(b, w, value=0.5), "addcdiv_": (a * 1).addcdiv_(b, w.abs() + 1, value=2),
            "sigmoid_": (a * 1).sigmoid_(), "log_": (a.abs() + 0.1).log_(), "abs_": (a * 1).abs_(),
            "pow_": (a.abs() + 0.1).pow_(1.5), "clamp_": (a * 1).clamp_min_(-0.2).clamp_max_(0.4),
            "lerp_": (a * 1).lerp_(b, 0.25), "tanh_": (b * 1).tanh_()}


@case("products")
def _(c):
    a = c.add("a", randn(3, 4), grad=True)
    b = c.add("b", randn(4, 5), grad=True)
    x = c.add("x", randn(2, 3, 4), grad=True)
    y = c.add("y", randn(2, 4, 5), grad=True)
    u = c.add("u", randn(3), grad=True)
    v = c.add("v", randn(4), grad=True)
    return {"mm": a.mm(b), "static_mm": torch.mm(a, b), "bmm": x.bmm(y), "static_bmm": torch.bmm(x, y),
            "outer": u.outer(v), "static_outer": torch.outer(u, v), "matmul": torch.matmul(x, b)}


@case("torch_static_forms")
def _(c):
    a = c.add("a", randn(3, 4), grad=True)
    b = c.add("b", randn(3, 4), grad=True)
    return {"exp": torch.exp(a), "log": torch.log(a.abs() + 0.1), "sum": torch.sum(a), "sum_dim": torch.sum(a, 1),
            "mean": torch.mean(a, 0, keepdim=True), "max": torch.max(a, b), "sqrt": torch.sqrt(b.abs()),
            "sigmoid": torch.sigmoid(a), "tanh": torch.tanh(b), "clamp": torch.clamp(a, -0.5, 0.5), "pow": torch.pow(a, 2)}
