using static Pipeline.Torch.torch;

namespace Pipeline.Torch.Tests;

/// <summary>
/// A small image classifier for 1x28x28 inputs, the same as <c>SmallCnn</c> in Reference/small_cnn.py (same module
/// tree, so the same parameter names: <c>features.0.weight</c> ... <c>fc.bias</c>, and the same default initialisation
/// for a given seed). Reusable by other tests (optimizers, training loops).
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    public SmallCnn(long classes = 10)
    {
        features = register_module("features", new nn.Sequential(
            new nn.Conv2d(1, 16, 3, padding: 1), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2),
            new nn.Conv2d(16, 32, 3, padding: 1), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten()));
        fc = register_module("fc", new nn.Linear(32, classes));
    }

    public nn.Sequential features { get; }
    public nn.Linear fc { get; }

    public override Tensor forward(Tensor input)
    {
        using var h = features.call(input);
        return fc.call(h);
    }
}
