using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>Tensor operations the transforms share: (C, H, W) images, uint8 or floating, any device.</summary>
public static class ImageOps
{
    /// <summary>The largest value of the image's range: 255 for uint8, 1 for floating images.</summary>
    public static double MaxValue(Tensor image) => image.dtype == ScalarType.Byte ? 255 : 1;

    /// <summary>Back to the dtype of <paramref name="like"/>: rounded and clamped for uint8.</summary>
    public static Tensor Restore(Tensor result, Tensor like)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(like);
        if (like.dtype != ScalarType.Byte) return result.to(like.dtype);
        using var rounded = result.round();
        using var clamped = rounded.clamp(0, 255);
        return clamped.to(ScalarType.Byte);
    }

    /// <summary>Bilinear resize to <paramref name="height"/> x <paramref name="width"/> (half-pixel centres), antialiased
    /// when shrinking, as Pillow's BILINEAR and torchvision's resize with antialias. uint8 images on the CPU go through
    /// <see cref="Imaging.Resampler"/> (Pillow's arithmetic, and several times faster than the float path here); others
    /// through libtorch's interpolate, which agrees with it within a level.</summary>
    public static Tensor Resize(Tensor image, int height, int width, bool antialias = true)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (antialias && image.dtype == ScalarType.Byte && image.device.type == DeviceType.CPU)
        {
            int c = (int)image.shape[0], h = (int)image.shape[1], w = (int)image.shape[2];
            using var dense = image.contiguous();
            var pixels = Imaging.Resampler.Resize(dense.ToArray<byte>(), w, h, c, planar: true, width, height);
            return tensor(pixels, [c, height, width]);
        }
        using var scope = NewDisposeScope();
        var batch = image.to(ScalarType.Float32).unsqueeze(0);
        var resized = nn.functional.interpolate(batch, size: [height, width], mode: InterpolationMode.Bilinear,
            align_corners: false, antialias: antialias).squeeze(0);
        return Restore(resized, image).MoveToOuterDisposeScope();
    }

    /// <summary>The region of <paramref name="height"/> x <paramref name="width"/> at (<paramref name="top"/>, <paramref name="left"/>); must lie inside.</summary>
    public static Tensor Crop(Tensor image, int top, int left, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var rows = image.narrow(1, top, height);
        using var region = rows.narrow(2, left, width);
        return region.contiguous();
    }

    /// <summary>The ITU-R 601 luma of an RGB image as (1, H, W) float; a 1-channel image as float.</summary>
    public static Tensor Gray(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        var f = image.to(ScalarType.Float32);
        if (f.shape[0] == 1) return f.MoveToOuterDisposeScope();
        var gray = f.narrow(0, 0, 1) * 0.299 + f.narrow(0, 1, 1) * 0.587 + f.narrow(0, 2, 1) * 0.114;
        return gray.MoveToOuterDisposeScope();
    }

    public static int Height(Tensor image) => (int)(image ?? throw new ArgumentNullException(nameof(image))).shape[^2];
    public static int Width(Tensor image) => (int)(image ?? throw new ArgumentNullException(nameof(image))).shape[^1];
}
