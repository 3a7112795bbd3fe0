using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

/// <summary>Element-wise comparison with PyTorch's allclose rule: |a - e| &lt;= atol + rtol * |e|.</summary>
public static class TensorAssert
{
    /// <summary>The largest element-wise |expected - actual| (for reporting how close a match is).</summary>
    public static double MaxAbsDiff(Tensor expected, Tensor actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        using var e = expected.to(ScalarType.Float64);
        using var a = actual.detach().to(ScalarType.Float64);
        return e.ToArray<double>().Zip(a.ToArray<double>(), (x, y) => Math.Abs(x - y)).DefaultIfEmpty().Max();
    }

    public static void Close(Tensor expected, Tensor actual, double atol = 1e-5, double rtol = 1e-4, string what = "tensor")
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype} differs from expected {expected.dtype}");
        using var e = expected.to(ScalarType.Float64);
        using var a = actual.detach().to(ScalarType.Float64);
        var ev = e.ToArray<double>();
        var av = a.ToArray<double>();
        var worst = 0.0;
        var worstIndex = -1;
        for (var k = 0; k < ev.Length; k++)
        {
            var diff = Math.Abs(ev[k] - av[k]);
            var excess = diff - (atol + rtol * Math.Abs(ev[k]));
            if (double.IsNaN(ev[k]) != double.IsNaN(av[k])) { worstIndex = k; worst = double.PositiveInfinity; break; }
            if (excess > 0 && excess > worst) { worst = excess; worstIndex = k; }
        }
        Assert.True(worstIndex < 0, worstIndex < 0 ? "" :
            $"{what}: element {worstIndex} is {av[worstIndex]} but PyTorch gives {ev[worstIndex]} (atol {atol}, rtol {rtol})");
    }
}
