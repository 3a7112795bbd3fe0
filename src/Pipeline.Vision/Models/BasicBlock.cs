using Pipeline.Torch;
using static Pipeline.Torch.torch;

namespace Pipeline.Vision.Models;

/// <summary>
/// ResNet's basic residual block: two 3x3 conv/BN layers plus a shortcut, then ReLU. Where the shape changes the
/// shortcut is a 1x1 convolution with batch norm (torchvision's <c>downsample.0</c>/<c>downsample.1</c>).
/// </summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    public BasicBlock(long inChannels, long outChannels, long stride = 1)
    {
        conv1 = register_module("conv1", new nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false));
        bn1 = register_module("bn1", new nn.BatchNorm2d(outChannels));
        conv2 = register_module("conv2", new nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false));
        bn2 = register_module("bn2", new nn.BatchNorm2d(outChannels));
        if (stride != 1 || inChannels != outChannels)
            downsample = register_module("downsample", new nn.Sequential(
                new nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), new nn.BatchNorm2d(outChannels)));
    }

    public nn.Conv2d conv1 { get; }
    public nn.BatchNorm2d bn1 { get; }
    public nn.Conv2d conv2 { get; }
    public nn.BatchNorm2d bn2 { get; }
    public nn.Sequential? downsample { get; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(bn1.call(conv1.call(input)));
        h = bn2.call(conv2.call(h));
        var identity = downsample is null ? input : downsample.call(input);
        return nn.functional.relu(h + identity).MoveToOuterDisposeScope();
    }
}
