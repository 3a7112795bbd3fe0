using Pipeline.Vision;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Models;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

/// <summary>
/// A small image classifier for 1x28x28 inputs, the same as <c>SmallCnn</c> in Reference/small_cnn.py (same module
/// tree, so the same parameter names: <c>features.0.weight</c> ... <c>fc.bias</c>, and the same default initialisation
/// for a given seed). Reusable by other tests (optimizers, training loops).
/// </summary>
public sealed class ParitySmallCnn : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public ParitySmallCnn(long classes = 10) : base(nameof(ParitySmallCnn))
    {
        features = this.Register("features", nn.Sequential(
            nn.Conv2d(1, 16, 3, padding: 1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding: 1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()));
        fc = this.Register("fc", nn.Linear(32, classes));
    }

    public Sequential features { get; }
    public Linear fc { get; }

    public override Tensor forward(Tensor input)
    {
        using var h = features.call(input);
        return fc.call(h);
    }
}
