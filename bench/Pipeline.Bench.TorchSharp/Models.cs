using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Bench.TorchSharp;

/// <summary>The small CNN of Peers/engine_bench.py: conv-bn-relu-pool twice, then linear.</summary>
internal sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1, conv2;
    private readonly BatchNorm2d bn1, bn2;
    private readonly Linear fc;

    public SmallCnn(long classes = 10) : base(nameof(SmallCnn))
    {
        conv1 = nn.Conv2d(1, 32, 3, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(32);
        conv2 = nn.Conv2d(32, 64, 3, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(64);
        fc = nn.Linear(64 * 7 * 7, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var x = F.max_pool2d(F.relu(bn1.call(conv1.call(input)), inplace: true), 2);
        x = F.max_pool2d(F.relu(bn2.call(conv2.call(x)), inplace: true), 2);
        return fc.call(x.flatten(1));
    }
}

/// <summary>torchvision's BasicBlock.</summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1, conv2;
    private readonly BatchNorm2d bn1, bn2;
    private readonly Sequential? downsample;

    public BasicBlock(long cin, long cout, long stride) : base(nameof(BasicBlock))
    {
        conv1 = nn.Conv2d(cin, cout, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(cout);
        conv2 = nn.Conv2d(cout, cout, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(cout);
        if (stride != 1 || cin != cout) downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride: stride, bias: false), nn.BatchNorm2d(cout));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var identity = downsample is null ? input : downsample.call(input);
        var x = F.relu(bn1.call(conv1.call(input)), inplace: true);
        x = bn2.call(conv2.call(x));
        return F.relu(x.add_(identity), inplace: true);
    }
}

/// <summary>ResNet-18's layout with a 3x3 stem and no max-pool, for 3x32x32 inputs (as in Peers/engine_bench.py).</summary>
internal sealed class ResNet18 : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly Linear fc;

    public ResNet18(long classes = 10) : base(nameof(ResNet18))
    {
        conv1 = nn.Conv2d(3, 64, 3, stride: 1, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(64);
        layer1 = nn.Sequential(new BasicBlock(64, 64, 1), new BasicBlock(64, 64, 1));
        layer2 = nn.Sequential(new BasicBlock(64, 128, 2), new BasicBlock(128, 128, 1));
        layer3 = nn.Sequential(new BasicBlock(128, 256, 2), new BasicBlock(256, 256, 1));
        layer4 = nn.Sequential(new BasicBlock(256, 512, 2), new BasicBlock(512, 512, 1));
        fc = nn.Linear(512, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var x = F.relu(bn1.call(conv1.call(input)), inplace: true);
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return fc.call(F.adaptive_avg_pool2d(x, 1).flatten(1));
    }
}
