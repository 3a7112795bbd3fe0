using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Models;

/// <summary>What a classifier is built for: input channels, class count, and an optional width (models that have one).</summary>
public sealed record ModelSpec(long InChannels, long Classes, long? Width = null);

/// <summary>
/// Classification models by the names recipes use (<c>small_cnn</c>, <c>resnet20</c>, <c>resnet18</c>, ...), so that a recipe can name
/// its model and new architectures join by registering a factory.
/// </summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, Func<ModelSpec, nn.Module<Tensor, Tensor>>> Factories = new(StringComparer.Ordinal)
    {
        ["small_cnn"] = s => new SmallCnn(s.InChannels, s.Classes, s.Width ?? 32),
        ["cnn6"] = s => new SmallCnn(s.InChannels, s.Classes, s.Width ?? 32, stages: 3),
        ["resnet20"] = s => new CifarResNet(20, s.InChannels, s.Classes, s.Width ?? 16),
        ["resnet32"] = s => new CifarResNet(32, s.InChannels, s.Classes, s.Width ?? 16),
        ["resnet44"] = s => new CifarResNet(44, s.InChannels, s.Classes, s.Width ?? 16),
        ["resnet56"] = s => new CifarResNet(56, s.InChannels, s.Classes, s.Width ?? 16),
        // torchvision's ImageNet ResNets (its state-dict names): for pretrained weights and larger images.
        ["resnet18"] = s => ResNet.resnet18(s.InChannels, s.Classes),
        ["resnet34"] = s => ResNet.resnet34(s.InChannels, s.Classes),
        ["resnet50"] = s => ResNet.resnet50(s.InChannels, s.Classes),
        // CNTK's ResNet-18 (three blocks in layer4): the architecture of the imagenet-resnet18 backbone.
        ["resnet18_cntk"] = s => ResNet.resnet18_cntk(s.InChannels, s.Classes),
    };

    private static readonly Lock Gate = new();

    /// <summary>The registered names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get { lock (Gate) return [.. Factories.Keys.Order(StringComparer.Ordinal)]; }
    }

    public static bool Contains(string name)
    {
        lock (Gate) return Factories.ContainsKey(name);
    }

    /// <summary>Adds (or replaces) a model under <paramref name="name"/>.</summary>
    public static void Register(string name, Func<ModelSpec, nn.Module<Tensor, Tensor>> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Gate) Factories[name] = factory;
    }

    /// <summary>A new model, initialised from libtorch's generator (seed it first for reproducible weights).</summary>
    public static nn.Module<Tensor, Tensor> Create(string name, ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(spec);
        Func<ModelSpec, nn.Module<Tensor, Tensor>>? factory;
        lock (Gate) Factories.TryGetValue(name, out factory);
        if (factory is null) throw new ArgumentException($"unknown model '{name}'; known models: {string.Join(", ", Names)}", nameof(name));
        return factory(spec);
    }
}
