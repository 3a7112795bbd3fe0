using TorchSharp;
using Pipeline.Training.Recipes;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Data;

/// <summary>
/// Batch-wise augmentation on tensors, drawn from libtorch's generator (so a checkpoint's RNG state replays it): random
/// crop back to the input size after zero padding, and horizontal flip with probability 1/2; per image.
/// </summary>
public sealed class TensorAugmenter(AugmentRecipe recipe)
{
    /// <summary>Augments a float batch (B, C, H, W); returns a new tensor in the current dispose scope.</summary>
    public Tensor Apply(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var x = images;
        if (recipe.CropPadding > 0) x = RandomCrop(x, recipe.CropPadding);
        if (recipe.HorizontalFlip)
        {
            var flip = (rand([x.shape[0]], device: x.device) < 0.5).view(-1, 1, 1, 1);
            x = where(flip, x.flip(3), x);
        }
        return ReferenceEquals(x, images) ? images.alias() : x;
    }

    // Each image gets its own offset: gather rows, then columns, from the padded batch.
    private static Tensor RandomCrop(Tensor x, int padding)
    {
        var (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        var padded = nn.functional.pad(x, [padding, padding, padding, padding]);
        var dy = randint(0, 2 * padding + 1, [b, 1], device: x.device);
        var dx = randint(0, 2 * padding + 1, [b, 1], device: x.device);
        var rows = (arange(0, h, device: x.device).view(1, h) + dy).view(b, 1, h, 1).expand(b, c, h, w + 2 * padding);
        var cols = (arange(0, w, device: x.device).view(1, w) + dx).view(b, 1, 1, w).expand(b, c, h, w);
        return padded.gather(2, rows).gather(3, cols);
    }
}
