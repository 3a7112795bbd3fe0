using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Mirrors Reference/cases_tensor.py.</summary>
[ParityCaseSet]
public static class TensorParityCases
{
    public static Dictionary<string, ParityCases.Case> Cases { get; } = new()
    {
        ["add_broadcast"] = i => new() { ["out"] = i("a") + i("b") },
        ["sub_mul_div_scalar"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            return new() { ["out"] = (a - b) * 3.0 / b + 2.0 - 1.5 / b };
        },
        ["matmul"] = i => new() { ["out"] = i("a").matmul(i("b")) },
        ["unary_math"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["exp"] = a.exp(), ["log"] = a.log(), ["sqrt"] = a.sqrt(), ["rsqrt"] = a.rsqrt(), ["sigmoid"] = a.sigmoid(),
                ["tanh"] = a.tanh(), ["abs"] = (a - 0.5).abs(), ["neg"] = -a, ["pow"] = a.pow(2.5), ["relu"] = (a - 0.6).relu(),
                ["clamp"] = a.clamp(0.3, 0.9),
            };
        },
        ["reductions"] = i =>
        {
            var a = i("a");
            return new() { ["sum"] = a.sum(), ["sum_dims"] = a.sum([0, 2]), ["mean"] = a.mean(), ["mean_keep"] = a.mean(1, keepdim: true) };
        },
        ["shape_ops"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            return new()
            {
                ["reshape"] = a.reshape(6, 4) * 2, ["permute"] = a.permute(2, 0, 1) * 3, ["transpose"] = a.transpose(0, 2).contiguous(),
                ["flatten"] = a.flatten(1), ["cat"] = cat([a, b], 1), ["stack"] = stack([a, b], 0),
                ["unsqueeze"] = a.unsqueeze(1) * b.unsqueeze(1), ["squeeze"] = a.unsqueeze(0).squeeze(0) + 1,
            };
        },
        ["comparisons"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            return new() { ["lt"] = a < b, ["ge_scalar"] = a >= 0.1, ["eq"] = a.eq(a), ["and"] = (a > 0) & (b > 0), ["max"] = a.maximum(b) };
        },
    };
}
