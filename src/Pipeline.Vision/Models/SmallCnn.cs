using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// A fast classifier for small images of any size (C x H x W): stages of two 3x3 conv/BN/ReLU layers, each stage with
/// twice the channels of the last and ending in 2x2 max-pooling, then global average pooling, dropout and a linear head.
/// Two stages are <c>small_cnn</c> (the fast baseline), three <c>cnn6</c>. Parameter names: <c>features.{i}.*</c>,
/// <c>head.1.*</c> (head.0 is the dropout).
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    /// <param name="inChannels">image channels (1 for grey, 3 for colour)</param>
    /// <param name="classes">output logits</param>
    /// <param name="width">channels of the first stage; each next stage has twice as many</param>
    /// <param name="dropout">dropout before the head (0 disables it)</param>
    /// <param name="stages">conv stages (1 to 5); each halves the image side</param>
    public SmallCnn(long inChannels = 1, long classes = 10, long width = 32, double dropout = 0.1, int stages = 2) : base(nameof(SmallCnn))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stages, 5);
        var layers = new List<nn.Module<Tensor, Tensor>>();
        var (channels, wide) = (inChannels, width);
        for (var s = 0; s < stages; s++, channels = wide, wide *= 2)
            layers.AddRange([ConvBlock(channels, wide), ConvBlock(wide, wide), nn.MaxPool2d(2)]);
        features = this.Register("features", nn.Sequential([.. layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()]));
        head = this.Register("head", nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, classes)));
    }

    public Sequential features { get; }
    public Sequential head { get; }

    public override Tensor forward(Tensor input)
    {
        using var h = features.call(input);
        return head.call(h);
    }

    private static Sequential ConvBlock(long inChannels, long outChannels) =>
        nn.Sequential(nn.Conv2d(inChannels, outChannels, 3, padding: 1, bias: false), nn.BatchNorm2d(outChannels), nn.ReLU());
}
