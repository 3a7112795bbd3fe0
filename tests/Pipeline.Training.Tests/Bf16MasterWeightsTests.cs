using Pipeline.Training.Precision;
using Pipeline.Vision;
using Pipeline.Vision.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>bf16 training through a bf16 copy with fp32 master weights, on the CPU (libtorch 2.10 runs bf16 there).</summary>
public sealed class Bf16MasterWeightsTests
{
    [Fact]
    public void Training_through_the_bf16_copy_lowers_the_loss_and_the_masters_stay_float32()
    {
        using var data = FashionSubset.Slice(0, 256);
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var master = new SmallCnn(1, 10, width: 8, dropout: 0);
        using var mixed = new Bf16MasterWeights<Tensor>(master, new SmallCnn(1, 10, width: 8, dropout: 0));
        using var optimizer = optim.SGD(master.parameters(), 0.05, momentum: 0.9);
        var images = data.Images.to(ScalarType.Float32) / 255;
        var labels = data.Labels;
        master.train();
        var losses = new List<double>();
        for (var step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            var batch = tensor(Enumerable.Range(0, 64).Select(k => (long)((step * 64 + k) % 256)).ToArray());
            mixed.Refresh();
            // The network runs in bf16; the loss is computed in fp32.
            var logits = mixed.Working.call(images.index_select(0, batch).to(ScalarType.BFloat16));
            Assert.Equal(ScalarType.BFloat16, logits.dtype);
            var loss = nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels.index_select(0, batch));
            loss.backward();
            mixed.AccumulateGradients();
            Assert.All(master.parameters(), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
            Assert.All(mixed.Working.parameters(), p => Assert.Null(p.grad));
            optimizer.step();
            optimizer.zero_grad();
            losses.Add(loss.ToDouble());
        }
        Assert.True(losses[^4..].Average() < 0.7 * losses[..4].Average(), $"the loss went from {losses[..4].Average():F3} to {losses[^4..].Average():F3}");
        Assert.All(master.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(mixed.Working.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        // The running statistics came back to the masters, in float32.
        Assert.All(master.buffers().Where(b => b.is_floating_point()), b => Assert.Equal(ScalarType.Float32, b.dtype));
        Assert.Contains(master.buffers().Where(b => b.is_floating_point()), b => b.abs().sum().ToSingle() > 0);
    }

    [Fact]
    public void Accumulated_micro_batch_gradients_add_up_in_float32_and_refresh_copies_the_masters_back()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var master = nn.Linear(4, 3);
        using var mixed = new Bf16MasterWeights<Tensor>(master, nn.Linear(4, 3));
        var x = randn(8, 4);
        // Two micro-batches through the copy: the masters' gradient is the sum of both, each cast to fp32.
        var expected = zeros(3, 4);
        foreach (var half in new[] { x.narrow(0, 0, 4), x.narrow(0, 4, 4) })
        {
            mixed.Working.call(half.to(ScalarType.BFloat16)).to(ScalarType.Float32).sum().backward();
            expected += mixed.Working.parameters().First().grad!.to(ScalarType.Float32);
            mixed.AccumulateGradients();
        }
        Assert.Equal(ScalarType.Float32, master.weight!.grad!.dtype);
        Assert.Equal(expected.data<float>().ToArray(), master.weight.grad.data<float>().ToArray());

        using (no_grad()) master.weight.add_(1.0);
        mixed.Refresh();
        var copied = mixed.Working.parameters().First();
        Assert.Equal(master.weight.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray(), copied.to(ScalarType.Float32).data<float>().ToArray());
        // A frozen master freezes the copy.
        master.weight.requires_grad = false;
        mixed.Refresh();
        Assert.False(copied.requires_grad);
    }

    [Fact]
    public void A_copy_of_another_architecture_is_refused()
    {
        using var master = nn.Linear(4, 3);
        var e = Assert.Throws<ArgumentException>(() => new Bf16MasterWeights<Tensor>(master, nn.Linear(4, 2)));
        Assert.Contains("weight", e.Message, StringComparison.Ordinal);
    }
}
