using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Mirrors Reference/cases_reduce.py.</summary>
[ParityCaseSet]
public static class ReduceParityCases
{
    public static Dictionary<string, ParityCases.Case> Cases { get; } = new()
    {
        ["max_min"] = i =>
        {
            var (a, b) = (i("a"), i("b"));
            var (maxValues, maxIndices) = a.max(1);
            var (minValues, minIndices) = min(a, 0, keepdim: true);
            return new()
            {
                ["max"] = a.max(), ["min"] = min(a), ["max_values"] = maxValues, ["max_indices"] = maxIndices,
                ["min_values"] = minValues, ["min_indices"] = minIndices, ["argmax"] = a.argmax(), ["argmax_dim"] = a.argmax(1, keepdim: true),
                ["argmin"] = argmin(a), ["argmin_dim"] = a.argmin(0), ["elementwise"] = max(a, b), ["min_other"] = a.min(b),
            };
        },
        ["amax_amin"] = i =>
        {
            var a = i("a");
            return new() { ["amax"] = a.amax(1), ["amin"] = a.amin([0, 1], keepdim: true), ["amax_all"] = a.amax(), ["static"] = amin(a, 2) };
        },
        ["prod"] = i =>
        {
            var a = i("a");
            return new() { ["all"] = a.prod(), ["dim"] = a.prod(1), ["keep"] = a.prod(0, keepdim: true), ["double"] = a.prod(1, dtype: float64) };
        },
        ["std_var_norm"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["std"] = a.std(), ["std_biased"] = a.std(unbiased: false), ["std_dims"] = a.std([0, 2], unbiased: false),
                ["std_keep"] = a.std(1, keepdim: true), ["var"] = a.var(), ["var_dims"] = var(a, [0, 1]),
                ["var_keep"] = a.var(2, unbiased: false, keepdim: true), ["norm"] = a.norm(), ["norm1"] = a.norm(1, 1),
                ["norm_inf"] = a.norm(double.PositiveInfinity, [0, 2]), ["norm_keep"] = a.norm(2, 1, keepdim: true), ["norm3"] = a.norm(3),
                ["norm_all_keep"] = norm(a, 1.5, keepdim: true),
            };
        },
        ["logsumexp_cumsum"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["logsumexp"] = a.logsumexp(1), ["logsumexp_dims"] = logsumexp(a, [0, 2], keepdim: true),
                ["cumsum"] = a.cumsum(1), ["cumsum_double"] = a.cumsum(0, dtype: float64), ["cumprod"] = a.cumprod(2),
            };
        },
        ["any_all"] = i =>
        {
            var (b, n) = (i("b"), i("i"));
            return new()
            {
                ["any"] = b.any(), ["all"] = b.all(), ["any_dim"] = b.any(1), ["all_keep"] = b.all(0, keepdim: true),
                ["int_any"] = n.any(1), ["int_all"] = all(n, 0),
            };
        },
        ["softmax"] = i =>
        {
            var a = i("a");
            return new()
            {
                ["softmax"] = a.softmax(1), ["log_softmax"] = a.log_softmax(0), ["static"] = softmax(a, -1),
                ["static_log"] = log_softmax(a, 1), ["double"] = a.softmax(1, dtype: float64),
            };
        },
        ["topk_sort"] = i =>
        {
            var (a, ties) = (i("a"), i("ties"));
            var t1 = a.topk(3);
            var t2 = topk(a, 2, dim: 0, largest: false);
            var s1 = a.sort(1);
            var s2 = sort(a, 0, descending: true);
            var s3 = sort(ties, stable: true);
            return new()
            {
                ["topk_values"] = t1.values, ["topk_indices"] = t1.indices, ["smallest_values"] = t2.values, ["smallest_indices"] = t2.indices,
                ["sort_values"] = s1.values, ["sort_indices"] = s1.indices, ["desc_values"] = s2.values, ["desc_indices"] = s2.indices,
                ["stable_values"] = s3.values, ["stable_indices"] = s3.indices, ["argsort"] = a.argsort(1, descending: true),
                ["argsort_static"] = argsort(a, 0),
            };
        },
    };
}
