using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// The CIFAR-style ResNet of He et al. (2016), section 4.2: a 3x3 stem of 16 channels, three stages of n basic blocks
/// (16, 32, 64 channels; the last two halve the resolution), global average pooling and a linear head:
/// depth = 6n + 2 (20, 32, 44, 56, 110). Shortcuts that change shape are 1x1 projections (the paper's option B).
/// Works for any input size and channel count; <c>width</c> scales the stages (w, 2w, 4w) as wide ResNets do.
/// </summary>
public sealed class CifarResNet : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public CifarResNet(int depth = 20, long inChannels = 3, long classes = 10, long width = 16) : base(nameof(CifarResNet))
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, 110)");
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var blocks = (depth - 2) / 6;
        conv1 = this.Register("conv1", nn.Conv2d(inChannels, width, 3, padding: 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(width));
        layer1 = this.Register("layer1", Stage(width, width, blocks, stride: 1));
        layer2 = this.Register("layer2", Stage(width, 2 * width, blocks, stride: 2));
        layer3 = this.Register("layer3", Stage(2 * width, 4 * width, blocks, stride: 2));
        fc = this.Register("fc", nn.Linear(4 * width, classes));
        // He initialisation for convolutions, as the paper (PyTorch's default init is tuned for other nets).
        foreach (var module in modules())
            if (module is Conv2d conv) nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        Depth = depth;
    }

    public int Depth { get; }
    public Conv2d conv1 { get; }
    public BatchNorm2d bn1 { get; }
    public Sequential layer1 { get; }
    public Sequential layer2 { get; }
    public Sequential layer3 { get; }
    public Linear fc { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(bn1.call(conv1.call(input)));
        h = layer3.call(layer2.call(layer1.call(h)));
        h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
        return fc.call(h).MoveToOuterDisposeScope();
    }

    private static Sequential Stage(long inChannels, long outChannels, int blocks, long stride)
    {
        var stage = nn.Sequential(new BasicBlock(inChannels, outChannels, stride));
        for (var k = 1; k < blocks; k++) stage.append(new BasicBlock(outChannels, outChannels));
        return stage;
    }
}
