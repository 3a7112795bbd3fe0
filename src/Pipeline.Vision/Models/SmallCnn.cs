using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// The fast baseline classifier for small images of any size (C x H x W): two stages of two 3x3 conv/BN/ReLU layers,
/// each stage ending in 2x2 max-pooling, then global average pooling, dropout and a linear head. Parameter names:
/// <c>features.{i}.*</c>, <c>head.1.*</c> (head.0 is the dropout).
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    /// <param name="inChannels">image channels (1 for grey, 3 for colour)</param>
    /// <param name="classes">output logits</param>
    /// <param name="width">channels of the first stage; the second has twice as many</param>
    /// <param name="dropout">dropout before the head (0 disables it)</param>
    public SmallCnn(long inChannels = 1, long classes = 10, long width = 32, double dropout = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var wide = 2 * width;
        features = register_module("features", new nn.Sequential(
            ConvBlock(inChannels, width), ConvBlock(width, width), new nn.MaxPool2d(2),
            ConvBlock(width, wide), ConvBlock(wide, wide), new nn.MaxPool2d(2),
            new nn.AdaptiveAvgPool2d(1), new nn.Flatten()));
        head = register_module("head", new nn.Sequential(new nn.Dropout(dropout), new nn.Linear(wide, classes)));
    }

    public nn.Sequential features { get; }
    public nn.Sequential head { get; }

    public override Tensor forward(Tensor input)
    {
        using var h = features.call(input);
        return head.call(h);
    }

    private static nn.Sequential ConvBlock(long inChannels, long outChannels) =>
        new(new nn.Conv2d(inChannels, outChannels, 3, padding: 1, bias: false), new nn.BatchNorm2d(outChannels), new nn.ReLU());
}
