using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// ResNet's bottleneck block as torchvision builds it (ResNet v1.5): 1x1 reduce to <c>planes</c>, 3x3 carrying the
/// stride, 1x1 expand to 4 x planes, each with batch norm, plus a shortcut (<c>downsample.0</c>/<c>.1</c> where the
/// shape changes), then ReLU. Children in torchvision's order: conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample.
/// </summary>
public sealed class Bottleneck : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    /// <summary>Output channels per unit of <c>planes</c> (torchvision's <c>Bottleneck.expansion</c>).</summary>
    public const long Expansion = 4;

    public Bottleneck(long inChannels, long planes, long stride = 1) : base(nameof(Bottleneck))
    {
        var outChannels = planes * Expansion;
        var shortcut = BasicBlock.Shortcut(inChannels, outChannels, stride);
        conv1 = this.Register("conv1", nn.Conv2d(inChannels, planes, 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(planes));
        conv2 = this.Register("conv2", nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false));
        bn2 = this.Register("bn2", nn.BatchNorm2d(planes));
        conv3 = this.Register("conv3", nn.Conv2d(planes, outChannels, 1, bias: false));
        bn3 = this.Register("bn3", nn.BatchNorm2d(outChannels));
        register_module("relu", nn.ReLU());
        if (shortcut is not null) downsample = this.Register("downsample", shortcut);
    }

    public Conv2d conv1 { get; }
    public BatchNorm2d bn1 { get; }
    public Conv2d conv2 { get; }
    public BatchNorm2d bn2 { get; }
    public Conv2d conv3 { get; }
    public BatchNorm2d bn3 { get; }
    public Sequential? downsample { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(bn1.call(conv1.call(input)));
        h = nn.functional.relu(bn2.call(conv2.call(h)));
        h = bn3.call(conv3.call(h));
        var identity = downsample is null ? input : downsample.call(input);
        return nn.functional.relu(h + identity).MoveToOuterDisposeScope();
    }
}
