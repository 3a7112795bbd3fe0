using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Mirrors Reference/cases_elementwise.py.</summary>
[ParityCaseSet]
public static class ElementwiseParityCases
{
    public static Dictionary<string, ParityCases.Case> Cases { get; } = new()
    {
        ["unary_more"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["log1p"] = a.abs().log1p(), ["expm1"] = a.expm1(), ["sin"] = a.sin(), ["cos"] = cos(a), ["floor"] = a.floor(),
                ["ceil"] = a.ceil(), ["round"] = a.round(), ["trunc"] = a.trunc(), ["sign"] = a.sign(), ["reciprocal"] = (a.abs() + 0.5).reciprocal(),
                ["square"] = a.square(), ["erf"] = erf(a), ["clamp_min"] = a.clamp_min(0.1), ["clamp_max"] = a.clamp_max(-0.1),
            };
        },
        ["round_half_even"] = i => new() { ["round"] = i("x").round() },
        ["isnan_isfinite"] = i =>
        {
            var x = i("x");
            return new() { ["isnan"] = x.isnan(), ["isfinite"] = x.isfinite(), ["isinf"] = isinf(x) };
        },
        ["remainder_fmod"] = i =>
        {
            var (a, b, n) = (i("a"), i("b"), i("i"));
            return new()
            {
                ["remainder"] = a.remainder(b), ["fmod"] = fmod(a, b), ["mod_scalar"] = a % 1.5, ["fmod_scalar"] = a.fmod(-1.5),
                ["int_mod"] = n % 3, ["int_fmod"] = n.fmod(3), ["neg_divisor"] = remainder(a, -2.0),
            };
        },
        ["lerp_addc"] = i =>
        {
            var (a, b, w) = (i("a"), i("b"), i("w"));
            return new()
            {
                ["lerp"] = a.lerp(b, 0.3), ["lerp_tensor"] = lerp(a, b, w), ["addcmul"] = a.addcmul(b, w, value: 0.5),
                ["addcdiv"] = addcdiv(a, b, w.abs() + 1, value: -2),
            };
        },
        ["inplace"] = i =>
        {
            var (a, b, w) = (i("a"), i("b"), i("w"));
            return new()
            {
                ["addcmul_"] = (a * 1).addcmul_(b, w, value: 0.5), ["addcdiv_"] = (a * 1).addcdiv_(b, w.abs() + 1, value: 2),
                ["sigmoid_"] = (a * 1).sigmoid_(), ["log_"] = (a.abs() + 0.1).log_(), ["abs_"] = (a * 1).abs_(),
                ["pow_"] = (a.abs() + 0.1).pow_(1.5), ["clamp_"] = (a * 1).clamp_min_(-0.2).clamp_max_(0.4),
                ["lerp_"] = (a * 1).lerp_(b, 0.25), ["tanh_"] = (b * 1).tanh_(),
            };
        },
        ["products"] = i =>
        {
            var (a, b, x, y, u, v) = (i("a"), i("b"), i("x"), i("y"), i("u"), i("v"));
            return new()
            {
                ["mm"] = a.mm(b), ["static_mm"] = mm(a, b), ["bmm"] = x.bmm(y), ["static_bmm"] = bmm(x, y),
                ["outer"] = u.outer(v), ["static_outer"] = outer(u, v), ["matmul"] = matmul(x, b),
            };
        },
        ["torch_static_forms"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            return new()
            {
                ["exp"] = exp(a), ["log"] = log(a.abs() + 0.1), ["sum"] = sum(a), ["sum_dim"] = sum(a, 1),
                ["mean"] = mean(a, 0, keepdim: true), ["max"] = max(a, b), ["sqrt"] = sqrt(b.abs()),
                ["sigmoid"] = sigmoid(a), ["tanh"] = tanh(b), ["clamp"] = clamp(a, -0.5, 0.5), ["pow"] = pow(a, 2),
            };
        },
    };
}
