using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Data;
using static TorchSharp.torch;

namespace Pipeline.Vision.Transforms;

/// <summary>A (C, H, W) image with its boxes in pixels of that image.</summary>
public sealed record DetectionSample(Tensor Image, IReadOnlyList<BoundingBox> Boxes);

/// <summary>
/// A transform of an image and its boxes together: the boxes follow the pixels, and boxes left with less than
/// <see cref="MinSide"/> pixels of width or height are dropped. The result owns a new image tensor.
/// </summary>
public abstract class DetectionTransform
{
    public const double MinSide = 1.0;

    public abstract DetectionSample Apply(DetectionSample sample, Random random);

    /// <summary>Boxes mapped by x' = x * sx + dx, y' = y * sy + dy, clipped to width x height, degenerate ones dropped.</summary>
    protected static List<BoundingBox> Map(IEnumerable<BoundingBox> boxes, double sx, double dx, double sy, double dy, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(boxes);
        var result = new List<BoundingBox>();
        foreach (var b in boxes)
        {
            var (x1, x2) = (b.X1 * sx + dx, b.X2 * sx + dx);
            var (y1, y2) = (b.Y1 * sy + dy, b.Y2 * sy + dy);
            if (x1 > x2) (x1, x2) = (x2, x1);
            if (y1 > y2) (y1, y2) = (y2, y1);
            var box = new BoundingBox(Math.Clamp(x1, 0, width), Math.Clamp(y1, 0, height), Math.Clamp(x2, 0, width), Math.Clamp(y2, 0, height), b.ClassId, b.IsCrowd);
            if (box.Width >= MinSide && box.Height >= MinSide) result.Add(box);
        }
        return result;
    }
}

/// <summary>Resizes image and boxes to a fixed size (aspect ratio not kept; see <see cref="Letterbox"/>).</summary>
public sealed class ResizeWithBoxes(int height, int width) : DetectionTransform
{
    public override DetectionSample Apply(DetectionSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int h = ImageOps.Height(sample.Image), w = ImageOps.Width(sample.Image);
        return new(ImageOps.Resize(sample.Image, height, width), Map(sample.Boxes, (double)width / w, 0, (double)height / h, 0, width, height));
    }
}

/// <summary>Mirrors image and boxes left-right (or top-bottom) with probability <paramref name="p"/>.</summary>
public sealed class RandomFlipWithBoxes(bool horizontal = true, double p = 0.5) : DetectionTransform
{
    public override DetectionSample Apply(DetectionSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(random);
        if (random.NextDouble() >= p) return sample with { Image = sample.Image.clone() };
        int h = ImageOps.Height(sample.Image), w = ImageOps.Width(sample.Image);
        var boxes = horizontal ? Map(sample.Boxes, -1, w, 1, 0, w, h) : Map(sample.Boxes, 1, 0, -1, h, w, h);
        return new(sample.Image.flip(horizontal ? -1 : -2), boxes);
    }
}

/// <summary>A random crop covering <paramref name="minScale"/>..1 of the area (aspect 3/4..4/3); boxes are clipped to it
/// and those that leave it (or keep under <see cref="DetectionTransform.MinSide"/> pixels a side) are dropped.</summary>
public sealed class RandomCropWithBoxes(double minScale = 0.3) : DetectionTransform
{
    public override DetectionSample Apply(DetectionSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int h = ImageOps.Height(sample.Image), w = ImageOps.Width(sample.Image);
        var (top, left, ch, cw) = new RandomResizedCrop(h, w, minScale, 1.0).Region(h, w, random);
        return new(ImageOps.Crop(sample.Image, top, left, ch, cw), Map(sample.Boxes, 1, -left, 1, -top, cw, ch));
    }
}

/// <summary>
/// YOLO-style letterbox: scales to fit <paramref name="size"/> x <paramref name="size"/> keeping the aspect ratio, and pads
/// the rest evenly with <paramref name="fill"/> (114, YOLO's gray, for uint8). <see cref="Geometry"/> maps predictions back.
/// </summary>
public sealed class Letterbox(int size, double fill = 114) : DetectionTransform
{
    /// <summary>The scale and the left/top padding for an image of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public (double Scale, int NewWidth, int NewHeight, int PadLeft, int PadTop) Geometry(int width, int height)
    {
        var scale = Math.Min((double)size / width, (double)size / height);
        int nw = Math.Max(1, (int)Math.Round(width * scale)), nh = Math.Max(1, (int)Math.Round(height * scale));
        return (scale, nw, nh, (size - nw) / 2, (size - nh) / 2);
    }

    public override DetectionSample Apply(DetectionSample sample, Random random)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int h = ImageOps.Height(sample.Image), w = ImageOps.Width(sample.Image);
        var (_, nw, nh, left, top) = Geometry(w, h);
        using var scope = NewDisposeScope();
        var resized = ImageOps.Resize(sample.Image, nh, nw);
        var value = sample.Image.dtype == ScalarType.Byte ? fill : fill / 255;
        var padded = nn.functional.pad(resized.to(ScalarType.Float32), [left, size - nw - left, top, size - nh - top], PaddingModes.Constant, value);
        var image = ImageOps.Restore(padded, sample.Image).MoveToOuterDisposeScope();
        return new(image, Map(sample.Boxes, (double)nw / w, left, (double)nh / h, top, size, size));
    }
}
