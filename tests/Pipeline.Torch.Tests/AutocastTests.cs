using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>Mixed precision scopes against Python's torch.autocast (Reference/amp.py).</summary>
public sealed class AutocastTests
{
    [Fact]
    public void Autocast_on_cpu_runs_matmul_in_bfloat16_like_pytorch()
    {
        var tensors = PyTorchReference.Run("amp.py").Tensors;
        using var scope = NewDisposeScope();
        var a = tensors["amp/a"];
        var b = tensors["amp/b"];
        Assert.False(is_autocast_enabled(DeviceType.CPU));
        using (autocast(DeviceType.CPU))
        {
            Assert.True(is_autocast_enabled(DeviceType.CPU));
            Assert.Equal(ScalarType.BFloat16, get_autocast_dtype(DeviceType.CPU));
            var inside = a.matmul(b);
            Assert.Equal(tensors["amp/inside"].dtype, inside.dtype);
            TensorAssert.Close(tensors["amp/inside"], inside, atol: 0, rtol: 0, what: "autocast matmul");
            using (autocast(DeviceType.CPU, enabled: false))
            {
                Assert.Equal(ScalarType.Float32, a.matmul(b).dtype);
            }
            Assert.Equal(ScalarType.BFloat16, a.matmul(b).dtype);
        }
        Assert.False(is_autocast_enabled(DeviceType.CPU));
        var outside = a.matmul(b);
        TensorAssert.Close(tensors["amp/outside"], outside, what: "matmul after autocast");
    }
}
