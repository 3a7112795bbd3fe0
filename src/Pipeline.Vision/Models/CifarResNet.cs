using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// The CIFAR-style ResNet of He et al. (2016), section 4.2: a 3x3 stem of 16 channels, three stages of n basic blocks
/// (16, 32, 64 channels; the last two halve the resolution), global average pooling and a linear head:
/// depth = 6n + 2 (20, 32, 44, 56, 110). Shortcuts that change shape are 1x1 projections (the paper's option B).
/// Works for any input size and channel count; <c>width</c> scales the stages (w, 2w, 4w) as wide ResNets do.
/// </summary>
public sealed class CifarResNet : nn.Module<Tensor, Tensor>
{
    public CifarResNet(int depth = 20, long inChannels = 3, long classes = 10, long width = 16)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, 110)");
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var blocks = (depth - 2) / 6;
        conv1 = register_module("conv1", new nn.Conv2d(inChannels, width, 3, padding: 1, bias: false));
        bn1 = register_module("bn1", new nn.BatchNorm2d(width));
        layer1 = register_module("layer1", Stage(width, width, blocks, stride: 1));
        layer2 = register_module("layer2", Stage(width, 2 * width, blocks, stride: 2));
        layer3 = register_module("layer3", Stage(2 * width, 4 * width, blocks, stride: 2));
        fc = register_module("fc", new nn.Linear(4 * width, classes));
        // He initialisation for convolutions, as the paper (PyTorch's default init is tuned for other nets).
        foreach (var module in modules())
            if (module is nn.Conv2d conv) nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        Depth = depth;
    }

    public int Depth { get; }
    public nn.Conv2d conv1 { get; }
    public nn.BatchNorm2d bn1 { get; }
    public nn.Sequential layer1 { get; }
    public nn.Sequential layer2 { get; }
    public nn.Sequential layer3 { get; }
    public nn.Linear fc { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(bn1.call(conv1.call(input)));
        h = layer3.call(layer2.call(layer1.call(h)));
        h = nn.functional.adaptive_avg_pool2d(h, 1).flatten(1);
        return fc.call(h).MoveToOuterDisposeScope();
    }

    private static nn.Sequential Stage(long inChannels, long outChannels, int blocks, long stride)
    {
        var stage = new nn.Sequential(new BasicBlock(inChannels, outChannels, stride));
        for (var k = 1; k < blocks; k++) stage.append(new BasicBlock(outChannels, outChannels));
        return stage;
    }
}
