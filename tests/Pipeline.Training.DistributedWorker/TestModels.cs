using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Models;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.DistributedWorker;

/// <summary>
/// A model without batch norm or dropout, so that N ranks with batch B must reproduce one rank with batch N*B exactly
/// (up to float rounding): per-rank batch statistics would make the two legitimately differ.
/// </summary>
public sealed class PlainMlp : nn.Module<Tensor, Tensor>
{
    // Children are registered by name in the constructor: no field reflection (it would add duplicates).
    protected override void RegisterComponents() { }

    public PlainMlp(long inputs, long classes) : base(nameof(PlainMlp))
    {
        hidden = this.Register("hidden", nn.Linear(inputs, 32));
        output = this.Register("output", nn.Linear(32, classes));
    }

    public Linear hidden { get; }
    public Linear output { get; }

    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var flat = input.flatten(1);
        using var h = hidden.call(flat);
        using var a = nn.functional.relu(h);
        return output.call(a);
    }
}

public static class TestModels
{
    public const string PlainMlpName = "plain_mlp";

    /// <summary>Registers <see cref="PlainMlp"/> for 28x28 images under <see cref="PlainMlpName"/>.</summary>
    public static void Register() => ModelRegistry.Register(PlainMlpName, s => new PlainMlp(s.InChannels * 28 * 28, s.Classes));
}
