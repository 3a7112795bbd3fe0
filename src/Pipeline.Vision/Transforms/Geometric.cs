using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>Resizes to a fixed size, antialiased.</summary>
public sealed class Resize(int height, int width, bool antialias = true) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random) => ImageOps.Resize(image, height, width, antialias);
}

/// <summary>
/// torchvision's RandomResizedCrop: a crop covering a random fraction of the area (<paramref name="minScale"/>..<paramref name="maxScale"/>)
/// with a random aspect ratio (log-uniform in 3/4..4/3), resized to the output size; after 10 failed draws, a centre crop.
/// </summary>
public sealed class RandomResizedCrop(int height, int width, double minScale = 0.08, double maxScale = 1.0,
    double minRatio = 3.0 / 4, double maxRatio = 4.0 / 3) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var (top, left, h, w) = Region(ImageOps.Height(image), ImageOps.Width(image), random);
        using var crop = ImageOps.Crop(image, top, left, h, w);
        return ImageOps.Resize(crop, height, width);
    }

    public (int Top, int Left, int Height, int Width) Region(int imageHeight, int imageWidth, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var area = (double)imageHeight * imageWidth;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var target = area * (minScale + random.NextDouble() * (maxScale - minScale));
            var ratio = Math.Exp(Math.Log(minRatio) + random.NextDouble() * (Math.Log(maxRatio) - Math.Log(minRatio)));
            var w = (int)Math.Round(Math.Sqrt(target * ratio));
            var h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w <= 0 || h <= 0 || w > imageWidth || h > imageHeight) continue;
            return (random.Next(imageHeight - h + 1), random.Next(imageWidth - w + 1), h, w);
        }
        // Fallback: the largest centre crop within the ratio range.
        var aspect = (double)imageWidth / imageHeight;
        var (ch, cw) = aspect < minRatio ? ((int)Math.Round(imageWidth / minRatio), imageWidth)
            : aspect > maxRatio ? (imageHeight, (int)Math.Round(imageHeight * maxRatio))
            : (imageHeight, imageWidth);
        return ((imageHeight - ch) / 2, (imageWidth - cw) / 2, ch, cw);
    }
}

/// <summary>Mirrors left-right (horizontal) or top-bottom with probability <paramref name="p"/>.</summary>
public sealed class RandomFlip(bool horizontal = true, double p = 0.5) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        return random.NextDouble() < p ? image.flip(horizontal ? -1 : -2) : image.clone();
    }
}

/// <summary>
/// Rotates by an angle drawn uniformly from ±<paramref name="degrees"/> (positive = counter-clockwise, as torchvision)
/// about the centre, bilinear, keeping the size and filling uncovered pixels with <paramref name="fill"/>.
/// </summary>
public sealed class RandomRotation(double degrees, double fill = 0) : ImageTransform
{
    public override Tensor Apply(Tensor image, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Rotate(image, (random.NextDouble() * 2 - 1) * degrees, fill);
    }

    public static Tensor Rotate(Tensor image, double angleDegrees, double fill = 0)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        long c = image.shape[0], h = image.shape[1], w = image.shape[2];
        var device = image.device;
        var theta = angleDegrees * Math.PI / 180;
        var (cos, sin) = (Math.Cos(theta), Math.Sin(theta));
        var (cx, cy) = ((w - 1) / 2.0, (h - 1) / 2.0);
        var xs = arange(0, w, dtype: ScalarType.Float32, device: device).view(1, w) - cx;
        var ys = arange(0, h, dtype: ScalarType.Float32, device: device).view(h, 1) - cy;
        // Inverse mapping: the source position shown at each output pixel.
        var sx = xs * cos - ys * sin + cx;
        var sy = xs * sin + ys * cos + cy;
        var x0 = sx.floor();
        var y0 = sy.floor();
        var fx = sx - x0;
        var fy = sy - y0;
        var flat = image.to(ScalarType.Float32).reshape(c, h * w);
        Tensor? sum = null;
        Tensor? coverage = null;
        foreach (var (dx, dy) in new[] { (0, 0), (1, 0), (0, 1), (1, 1) })
        {
            var px = x0 + dx;
            var py = y0 + dy;
            var weight = (dx == 0 ? 1 - fx : fx) * (dy == 0 ? 1 - fy : fy);
            var inside = ((px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)).to(ScalarType.Float32);
            var index = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).to(ScalarType.Int64).reshape(h * w);
            var contribution = (weight * inside).reshape(1, h * w);
            var sampled = flat.index_select(1, index) * contribution;
            sum = sum is null ? sampled : sum + sampled;
            coverage = coverage is null ? contribution : coverage + contribution;
        }
        var filled = sum! + (1 - coverage!) * fill;
        return ImageOps.Restore(filled.reshape(c, h, w), image).MoveToOuterDisposeScope();
    }
}
