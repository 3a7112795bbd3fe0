using static Pipeline.Torch.torch;
using F = Pipeline.Torch.torch.nn.functional;

namespace Pipeline.Torch.Tests;

/// <summary>The engine on a CUDA device: transfers, modules, a training step, optimizer state and autocast.</summary>
public sealed class CudaTests
{
    private static readonly Device Gpu = Device.CUDA(0);

    [CudaFact]
    public void Tensors_round_trip_through_the_gpu()
    {
        using var scope = NewDisposeScope();
        float[] values = [1, 2, 3, 4, 5, 6];
        var x = tensor(values, [2, 3]).to(Gpu);
        Assert.Equal(Gpu, x.device);
        Assert.Equal(values, x.ToArray<float>());
        var y = (x * 2).cpu();
        Assert.Equal(Device.CPU, y.device);
        Assert.Equal(values.Select(v => v * 2).ToArray(), y.ToArray<float>());
    }

    [CudaFact]
    public void Module_to_cuda_keeps_its_parameter_objects()
    {
        using var model = new SmallCnn();
        var before = model.parameters().ToArray();
        model.to(Gpu);
        var after = model.parameters().ToArray();
        Assert.Equal(before.Length, after.Length);
        for (var k = 0; k < before.Length; k++)
        {
            Assert.Same(before[k], after[k]);
            Assert.Equal(Gpu, after[k].device);
        }
        Assert.All(model.buffers(), b => Assert.Equal(Gpu, b.device));
    }

    [CudaFact]
    public void A_training_step_on_the_gpu_matches_the_cpu()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var cpuModel = new SmallCnn();
        using var gpuModel = new SmallCnn();
        gpuModel.load_state_dict(cpuModel.state_dict());
        gpuModel.to(Gpu);
        var x = randn(8, 1, 28, 28);
        var y = randint(0, 10, [8]);
        using var cpuOpt = new optim.AdamW(cpuModel.parameters(), lr: 1e-3);
        using var gpuOpt = new optim.AdamW(gpuModel.parameters(), lr: 1e-3);
        for (var step = 0; step < 3; step++)
        {
            cpuOpt.zero_grad();
            gpuOpt.zero_grad();
            F.cross_entropy(cpuModel.call(x), y).backward();
            F.cross_entropy(gpuModel.call(x.to(Gpu)), y.to(Gpu)).backward();
            cpuOpt.step();
            gpuOpt.step();
        }
        var expected = cpuModel.state_dict();
        foreach (var (key, value) in gpuModel.state_dict())
        {
            Assert.Equal(Gpu, value.device);
            // cuDNN may use TF32 for convolutions: compare loosely.
            TensorAssert.Close(expected[key], value.cpu(), 1e-3, 1e-2, $"cuda vs cpu: {key}");
        }
    }

    [CudaFact]
    public void Autocast_runs_matmul_in_bfloat16_on_the_gpu()
    {
        using var scope = NewDisposeScope();
        var a = randn(16, 16).to(Gpu);
        var b = randn(16, 16).to(Gpu);
        using (autocast(DeviceType.CUDA, ScalarType.BFloat16))
            Assert.Equal(ScalarType.BFloat16, a.matmul(b).dtype);
        Assert.Equal(ScalarType.Float32, a.matmul(b).dtype);
    }
}
