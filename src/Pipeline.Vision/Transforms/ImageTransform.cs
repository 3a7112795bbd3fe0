using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>
/// A transform of one (C, H, W) image tensor — uint8 (0..255) or floating (0..1) — on whatever device it lives.
/// Random choices come from the <see cref="Random"/> given, so a seeded generator per item makes it reproducible.
/// The result is a new tensor of the input's dtype (except <see cref="Normalize"/>, which yields float).
/// </summary>
public abstract class ImageTransform
{
    public abstract Tensor Apply(Tensor image, Random random);
}

/// <summary>Transforms applied one after another.</summary>
public sealed class Compose(params ImageTransform[] transforms) : ImageTransform
{
    public IReadOnlyList<ImageTransform> Transforms { get; } = transforms;

    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        var current = image;
        foreach (var transform in Transforms)
        {
            var next = transform.Apply(current, random);
            if (!ReferenceEquals(current, image)) current.Dispose();
            current = next;
        }
        return ReferenceEquals(current, image) ? image.clone() : current;
    }
}
