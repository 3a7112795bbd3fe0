using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// ResNet's basic residual block: two 3x3 conv/BN layers plus a shortcut, then ReLU. Where the shape changes the
/// shortcut is a 1x1 convolution with batch norm (torchvision's <c>downsample.0</c>/<c>downsample.1</c>). Children are
/// registered in torchvision's order (conv1, bn1, relu, conv2, bn2, downsample), so module and state names match it.
/// </summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    /// <summary>Output channels per unit of <c>planes</c> (torchvision's <c>BasicBlock.expansion</c>).</summary>
    public const long Expansion = 1;

    public BasicBlock(long inChannels, long outChannels, long stride = 1) : base(nameof(BasicBlock))
    {
        // torchvision builds the shortcut before the block: constructing in its order draws the same random numbers.
        var shortcut = Shortcut(inChannels, outChannels, stride);
        conv1 = this.Register("conv1", nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(outChannels));
        register_module("relu", nn.ReLU());
        conv2 = this.Register("conv2", nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false));
        bn2 = this.Register("bn2", nn.BatchNorm2d(outChannels));
        if (shortcut is not null) downsample = this.Register("downsample", shortcut);
    }

    public Conv2d conv1 { get; }
    public BatchNorm2d bn1 { get; }
    public Conv2d conv2 { get; }
    public BatchNorm2d bn2 { get; }
    public Sequential? downsample { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(bn1.call(conv1.call(input)));
        h = bn2.call(conv2.call(h));
        var identity = downsample is null ? input : downsample.call(input);
        return nn.functional.relu(h + identity).MoveToOuterDisposeScope();
    }

    /// <summary>The 1x1 projection + batch norm a block needs where its output shape differs from its input's.</summary>
    internal static Sequential? Shortcut(long inChannels, long outChannels, long stride) =>
        stride == 1 && inChannels == outChannels ? null
            : nn.Sequential(nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), nn.BatchNorm2d(outChannels));
}
