using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision;
using Pipeline.Vision.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Bench;

/// <summary>The small CNN of Peers/engine_bench.py: conv-bn-relu-pool twice, then linear.</summary>
internal sealed class BenchSmallCnn : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    private readonly Conv2d conv1, conv2;
    private readonly BatchNorm2d bn1, bn2;
    private readonly Linear fc;

    public BenchSmallCnn(long classes = 10) : base(nameof(BenchSmallCnn))
    {
        conv1 = this.Register("conv1", nn.Conv2d(1, 32, 3, padding: 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(32));
        conv2 = this.Register("conv2", nn.Conv2d(32, 64, 3, padding: 1, bias: false));
        bn2 = this.Register("bn2", nn.BatchNorm2d(64));
        fc = this.Register("fc", nn.Linear(64 * 7 * 7, classes));
    }

    public override Tensor forward(Tensor input)
    {
        var x = F.max_pool2d(F.relu(bn1.call(conv1.call(input)), inplace: true), 2);
        x = F.max_pool2d(F.relu(bn2.call(conv2.call(x)), inplace: true), 2);
        return fc.call(x.flatten(1));
    }
}

/// <summary>torchvision's BasicBlock.</summary>
internal sealed class BenchBasicBlock : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    private readonly Conv2d conv1, conv2;
    private readonly BatchNorm2d bn1, bn2;
    private readonly Sequential? downsample;

    public BenchBasicBlock(long cin, long cout, long stride) : base(nameof(BenchBasicBlock))
    {
        conv1 = this.Register("conv1", nn.Conv2d(cin, cout, 3, stride, 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(cout));
        conv2 = this.Register("conv2", nn.Conv2d(cout, cout, 3, 1, 1, bias: false));
        bn2 = this.Register("bn2", nn.BatchNorm2d(cout));
        if (stride != 1 || cin != cout)
            downsample = this.Register("downsample", nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias: false), nn.BatchNorm2d(cout)));
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
internal sealed class BenchResNet18 : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Sequential[] layers;
    private readonly Linear fc;

    public BenchResNet18(long classes = 10) : base(nameof(BenchResNet18))
    {
        conv1 = this.Register("conv1", nn.Conv2d(3, 64, 3, 1, 1, bias: false));
        bn1 = this.Register("bn1", nn.BatchNorm2d(64));
        var specs = new (long Out, long Stride)[] { (64, 1), (128, 2), (256, 2), (512, 2) };
        layers = new Sequential[specs.Length];
        long cin = 64;
        for (var k = 0; k < specs.Length; k++)
        {
            layers[k] = this.Register($"layer{k + 1}", nn.Sequential(new BenchBasicBlock(cin, specs[k].Out, specs[k].Stride), new BenchBasicBlock(specs[k].Out, specs[k].Out, 1)));
            cin = specs[k].Out;
        }
        fc = this.Register("fc", nn.Linear(512, classes));
    }

    public override Tensor forward(Tensor input)
    {
        var x = F.relu(bn1.call(conv1.call(input)), inplace: true);
        foreach (var layer in layers) x = layer.call(x);
        return fc.call(F.adaptive_avg_pool2d(x, 1).flatten(1));
    }
}
