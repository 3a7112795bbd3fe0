using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Pipeline.Vision.Serialization;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Transforms;
using static TorchSharp.torch;

namespace Pipeline.Vision.Data;

/// <summary>
/// A decoded detection set: images (N, C, H, W) uint8 all of one size, every box of every image as (M, 4) float32 xyxy in
/// pixels of those images with its class (M) int64 and crowd flag (M) uint8, and per-image offsets (N + 1) int64 so that
/// image i owns boxes offsets[i]..offsets[i+1]. What the detection trainer batches from.
/// </summary>
public sealed class DetectionTensorDataset : IDisposable
{
    private readonly float[] boxes;
    private readonly long[] labels;
    private readonly long[] offsets;
    private readonly bool[] crowd;

    /// <param name="boxCrowd">(M) flags, non-zero for a crowd region; null: no box is one.</param>
    public DetectionTensorDataset(Tensor images, Tensor boxes, Tensor boxClasses, Tensor offsets, IReadOnlyList<string> classes, Tensor? boxCrowd = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(boxes);
        ArgumentNullException.ThrowIfNull(boxClasses);
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(classes);
        if (images.dim() != 4) throw new ArgumentException($"images must be (N, C, H, W), got [{string.Join(", ", images.shape)}]", nameof(images));
        var n = images.shape[0];
        if (boxes.dim() != 2 || boxes.shape[1] != 4) throw new ArgumentException($"boxes must be (M, 4), got [{string.Join(", ", boxes.shape)}]", nameof(boxes));
        var m = boxes.shape[0];
        if (boxClasses.dim() != 1 || boxClasses.shape[0] != m) throw new ArgumentException($"box classes must be (M) with M = {m}", nameof(boxClasses));
        if (offsets.dim() != 1 || offsets.shape[0] != n + 1) throw new ArgumentException($"offsets must be (N + 1) with N = {n}", nameof(offsets));
        this.offsets = offsets.to(ScalarType.Int64).ToArray<long>();
        if (this.offsets[0] != 0 || this.offsets[^1] != m || this.offsets.Zip(this.offsets.Skip(1)).Any(p => p.First > p.Second))
            throw new ArgumentException("offsets must rise from 0 to the number of boxes", nameof(offsets));
        this.boxes = boxes.to(ScalarType.Float32).contiguous().ToArray<float>();
        labels = boxClasses.to(ScalarType.Int64).ToArray<long>();
        if (labels.Any(l => l < 0 || l >= classes.Count)) throw new ArgumentException($"box classes must lie in [0, {classes.Count})", nameof(boxClasses));
        if (boxCrowd is not null && (boxCrowd.dim() != 1 || boxCrowd.shape[0] != m)) throw new ArgumentException($"box crowd flags must be (M) with M = {m}", nameof(boxCrowd));
        crowd = boxCrowd is null ? new bool[m] : [.. boxCrowd.to(ScalarType.Int64).ToArray<long>().Select(f => f != 0)];
        Images = images.DetachFromDisposeScope();
        Classes = classes;
    }

    public Tensor Images { get; }
    public IReadOnlyList<string> Classes { get; }
    public long Count => Images.shape[0];
    public long BoxCount => labels.Length;
    public int Height => (int)Images.shape[2];
    public int Width => (int)Images.shape[3];

    /// <summary>The boxes of image <paramref name="index"/>.</summary>
    public IReadOnlyList<BoundingBox> BoxesOf(long index)
    {
        var result = new List<BoundingBox>((int)(offsets[index + 1] - offsets[index]));
        for (var k = offsets[index]; k < offsets[index + 1]; k++)
            result.Add(new BoundingBox(boxes[4 * k], boxes[4 * k + 1], boxes[4 * k + 2], boxes[4 * k + 3], (int)labels[k], crowd[k]));
        return result;
    }

    /// <summary>A subset (copies) in the order of <paramref name="indices"/>.</summary>
    public DetectionTensorDataset Subset(long[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        using var scope = NewDisposeScope();
        var images = Images.index_select(0, tensor(indices));
        var picked = indices.Select(BoxesOf).ToList();
        return From(images, picked, Classes);
    }

    /// <summary>A set from images and their boxes (pixels of those images).</summary>
    public static DetectionTensorDataset From(Tensor images, IReadOnlyList<IReadOnlyList<BoundingBox>> boxesPerImage, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(boxesPerImage);
        using var scope = NewDisposeScope();
        var all = boxesPerImage.SelectMany(b => b).ToList();
        var offsets = new long[boxesPerImage.Count + 1];
        for (var i = 0; i < boxesPerImage.Count; i++) offsets[i + 1] = offsets[i] + boxesPerImage[i].Count;
        var coordinates = all.SelectMany(b => new[] { (float)b.X1, (float)b.Y1, (float)b.X2, (float)b.Y2 }).ToArray();
        return new DetectionTensorDataset(images, tensor(coordinates, [all.Count, 4]), tensor(all.Select(b => (long)b.ClassId).ToArray()),
            tensor(offsets), classes, tensor(all.Select(b => b.IsCrowd ? (byte)1 : (byte)0).ToArray()));
    }

    public void Dispose() => Images.Dispose();

    // Shard names (safetensors): what DetectionTensorShards writes.
    internal Dictionary<string, Tensor> ToTensors() => new(StringComparer.Ordinal)
    {
        ["images"] = Images,
        ["boxes"] = tensor(boxes, [labels.Length, 4]),
        ["box_classes"] = tensor(labels),
        ["offsets"] = tensor(offsets),
        ["box_crowd"] = tensor(crowd.Select(f => f ? (byte)1 : (byte)0).ToArray()),
    };
}

/// <summary>
/// A prepared detection split as one safetensors shard: <c>images</c> (N, C, H, W) uint8, <c>boxes</c> (M, 4) float32,
/// <c>box_classes</c> (M) int64, <c>box_crowd</c> (M) uint8 (absent in shards written before it: no crowds),
/// <c>offsets</c> (N + 1) int64, and the class names in the metadata.
/// </summary>
public static class DetectionTensorShards
{
    private const string ClassesKey = "classes";
    private static readonly string[] Names = ["images", "boxes", "box_classes", "offsets"];

    public static void Write(DetectionTensorDataset dataset, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        using var scope = NewDisposeScope();
        SafeTensors.Write(stream, dataset.ToTensors(), new Dictionary<string, string> { [ClassesKey] = JsonSerializer.Serialize(dataset.Classes) });
    }

    /// <summary>Reads a shard; <paramref name="source"/> names it in errors.</summary>
    public static DetectionTensorDataset Read(Stream stream, string source)
    {
        var tensors = SafeTensors.Read(stream, source, out var metadata);
        DetectionTensorDataset? result = null;
        try
        {
            if (Names.FirstOrDefault(n => !tensors.ContainsKey(n)) is { } missing)
                throw new InvalidDataException($"{source}: a detection shard needs '{string.Join("', '", Names)}' tensors; '{missing}' is missing");
            if (!metadata.TryGetValue(ClassesKey, out var classesJson) || JsonSerializer.Deserialize<string[]>(classesJson) is not { } classes)
                throw new InvalidDataException($"{source}: the shard's metadata has no class names");
            try
            {
                result = new DetectionTensorDataset(tensors["images"], tensors["boxes"], tensors["box_classes"], tensors["offsets"], classes,
                    tensors.GetValueOrDefault("box_crowd"));
                return result;
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{source}: {e.Message}", e);
            }
        }
        finally
        {
            // The set keeps its images; everything else (and everything, on failure) is released here.
            foreach (var (name, t) in tensors)
                if (result is null || name != "images") t.Dispose();
        }
    }
}

/// <summary>How images of other sizes are brought to the set's size.</summary>
public enum DetectionFit { Resize, Letterbox }

/// <summary>
/// The map from boxes of a fitted image back to the pixels of the image it came from (<see cref="Width"/> x
/// <see cref="Height"/>): fitting moved x to x * <see cref="ScaleX"/> + <see cref="OffsetX"/>, likewise y.
/// </summary>
public readonly record struct FitMapping(double ScaleX, double OffsetX, double ScaleY, double OffsetY, int Width, int Height)
{
    /// <summary>A box of the fitted image in the original image's pixels, clipped to it (letterbox padding falls away).</summary>
    public BoundingBox ToOriginal(BoundingBox fitted) => new(
        Math.Clamp((fitted.X1 - OffsetX) / ScaleX, 0, Width), Math.Clamp((fitted.Y1 - OffsetY) / ScaleY, 0, Height),
        Math.Clamp((fitted.X2 - OffsetX) / ScaleX, 0, Width), Math.Clamp((fitted.Y2 - OffsetY) / ScaleY, 0, Height), fitted.ClassId);
}

/// <summary>Decodes a detection dataset's images and boxes into a <see cref="DetectionTensorDataset"/>.</summary>
public static class DetectionTensors
{
    /// <summary>
    /// The items of <paramref name="split"/> decoded as <paramref name="mode"/> and brought to <paramref name="height"/> x
    /// <paramref name="width"/> by resizing (aspect ratio not kept) or letterboxing (square sizes only), boxes mapped along
    /// (those left under a pixel a side are dropped). A file that does not decode throws naming it.
    /// </summary>
    public static DetectionTensorDataset ToTensorDataset(Dataset dataset, IFileSource source, DatasetSplit split, int height, int width,
        DetectionFit fit = DetectionFit.Resize, ColorMode mode = ColorMode.Rgb, ImageDecoder? decoder = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(source);
        if (dataset.Task != TaskKind.Detect) throw new ArgumentException("a detection tensor set holds detection data", nameof(dataset));
        if (mode is not (ColorMode.Gray or ColorMode.Rgb)) throw new ArgumentException("mode must be Gray or Rgb", nameof(mode));
        CheckFit(fit, height, width);
        decoder = new ImageDecoder { MaxPixels = (decoder ?? ImageDecoder.Default).MaxPixels, Mode = mode };
        var transform = Transform(fit, height, width);
        var items = dataset.InSplit(split).ToList();
        var channels = mode == ColorMode.Gray ? 1 : 3;
        var plane = channels * height * width;
        var pixels = new byte[(long)items.Count * plane];
        var boxes = new IReadOnlyList<BoundingBox>[items.Count];
        // Decoding dominates and needs no torch: decode in parallel, resize each image through the engine.
        ParallelItems.For(items.Count, k =>
        {
            var item = items[k];
            var image = item.Pixels ?? decoder.Decode(source.ReadAllBytes(item.Path), source.Describe(item.Path));
            if (image.Channels != channels) throw new InvalidDataException($"{source.Describe(item.Path)}: decoded with {image.Channels} channels, expected {channels}");
            using var scope = NewDisposeScope();
            var sized = Fit(new DetectionSample(image.ToTensor(), item.Boxes), transform, height, width);
            sized.Image.contiguous().CopyTo(pixels.AsSpan(k * plane, plane));
            boxes[k] = sized.Boxes;
        });
        using var outer = NewDisposeScope();
        return DetectionTensorDataset.From(tensor(pixels, [items.Count, channels, height, width]), boxes, dataset.Classes);
    }

    /// <summary>
    /// One image as a detection set of <paramref name="height"/> x <paramref name="width"/> holds it: converted to
    /// <paramref name="channels"/> (1 gray, 3 RGB) and fitted as <paramref name="fit"/> says, a contiguous uint8 (C, H, W)
    /// tensor in the current dispose scope, with the map from its boxes back to the image's own pixels. Prediction
    /// prepares its input through here, so that a model sees what it was trained on.
    /// </summary>
    public static (Tensor Image, FitMapping Back) FitImage(ImageBuffer image, int channels, int height, int width, DetectionFit fit)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (channels is not (1 or 3)) throw new ArgumentException("channels must be 1 or 3", nameof(channels));
        CheckFit(fit, height, width);
        var sample = new DetectionSample(DatasetTensors.Convert(image, channels).ToTensor(), []);
        var fitted = Fit(sample, Transform(fit, height, width), height, width).Image.contiguous();
        var (w, h) = (image.Width, image.Height);
        if (w == width && h == height) return (fitted, new FitMapping(1, 0, 1, 0, w, h));
        if (fit == DetectionFit.Letterbox)
        {
            var (_, nw, nh, left, top) = new Letterbox(height).Geometry(w, h);
            return (fitted, new FitMapping((double)nw / w, left, (double)nh / h, top, w, h));
        }
        return (fitted, new FitMapping((double)width / w, 0, (double)height / h, 0, w, h));
    }

    private static void CheckFit(DetectionFit fit, int height, int width)
    {
        if (fit == DetectionFit.Letterbox && height != width) throw new ArgumentException("letterboxing needs a square size", nameof(fit));
    }

    private static DetectionTransform Transform(DetectionFit fit, int height, int width) =>
        fit == DetectionFit.Letterbox ? new Letterbox(height) : new ResizeWithBoxes(height, width);

    // An image already of the set's size is kept as it is (and so are its boxes).
    private static DetectionSample Fit(DetectionSample sample, DetectionTransform transform, int height, int width) =>
        ImageOps.Height(sample.Image) == height && ImageOps.Width(sample.Image) == width ? sample : transform.Apply(sample, Random.Shared);
}
