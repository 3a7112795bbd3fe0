using static Pipeline.Torch.torch;
using static Pipeline.Torch.torch.nn;
using F = Pipeline.Torch.torch.nn.functional;

namespace Pipeline.Torch.Tests;

/// <summary>Argument checking and error reporting of nn.functional (the numerics are in the parity cases).</summary>
public class FunctionalTests
{
    [Fact]
    public void Libtorch_errors_surface_as_torch_exceptions_with_its_message()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 8, 8);
        var error = Assert.Throws<TorchException>(() => F.conv2d(x, randn(4, 2, 3, 3)));
        Assert.Contains("expected input[1, 3, 8, 8] to have 2 channels, but got 3 channels", error.Message, StringComparison.Ordinal);
        Assert.Throws<TorchException>(() => F.cross_entropy(randn(4, 5), tensor(new long[] { 0, 1, 9, 2 })));
        Assert.Throws<TorchException>(() => F.binary_cross_entropy_with_logits(randn(4, 3), rand(4, 2)));
        Assert.Throws<TorchException>(() => F.dropout(x, 1.5));
        // The thread's error slot is clear again: the next call succeeds.
        Assert.Equal([1, 4, 6, 6], F.conv2d(x, randn(4, 3, 3, 3)).shape);
    }

    [Fact]
    public void Normalisation_in_training_needs_more_than_one_value_per_channel()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 4, 1, 1);
        Assert.Throws<ArgumentException>(() => F.batch_norm(x, zeros(4), ones(4), training: true));
        Assert.Throws<ArgumentException>(() => F.group_norm(x, 4));
        Assert.Equal([1, 4, 1, 1], F.batch_norm(x, zeros(4), ones(4), training: false).shape);
    }

    [Fact]
    public void Interpolate_checks_its_arguments_as_pytorch_does()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 2, 4, 4);
        Assert.Throws<ArgumentException>(() => F.interpolate(x));
        Assert.Throws<ArgumentException>(() => F.interpolate(x, size: 3, scale_factor: 2));
        Assert.Throws<ArgumentException>(() => F.interpolate(x, size: 3, align_corners: true));
        Assert.Throws<ArgumentException>(() => F.interpolate(x, size: 3, antialias: true));
        Assert.Throws<ArgumentException>(() => F.interpolate(x, size: 3, recompute_scale_factor: true));
        Assert.Equal([1, 2, 3, 6], F.interpolate(x, size: (3, 6), mode: InterpolationMode.Bilinear).shape);
        Assert.Equal([1, 2, 6, 2], F.interpolate(x, scale_factor: (1.5, 0.5)).shape);
    }

    [Fact]
    public void Size_arguments_take_a_number_or_a_pair()
    {
        Size2 one = 3, pair = (2, 5);
        Assert.Equal(new Size2(3, 3), one);
        Assert.Equal(new Size2(2, 5), pair);
        using var scope = NewDisposeScope();
        Assert.Equal([2, 3, 4, 2], F.max_pool2d(randn(2, 3, 9, 11), (2, 5)).shape);
        Assert.Equal([2, 3, 9, 11], F.avg_pool2d(randn(2, 3, 9, 11), 3, stride: 1, padding: 1).shape);
    }
}
