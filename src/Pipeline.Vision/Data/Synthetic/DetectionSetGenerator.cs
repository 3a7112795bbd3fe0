using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Sampling;

namespace Pipeline.Vision.Data.Synthetic;

/// <summary>Settings of a generated detection set; the same settings and seed always give the same bytes.</summary>
public sealed record DetectionSetOptions
{
    public long Seed { get; init; } = 1;
    public int TrainImages { get; init; } = 200;
    public int ValImages { get; init; } = 50;
    /// <summary>Images of a held-out test split (none by default; written only when positive).</summary>
    public int TestImages { get; init; }
    public int Width { get; init; } = 160;
    public int Height { get; init; } = 128;
    public int MinObjects { get; init; } = 1;
    public int MaxObjects { get; init; } = 4;
    /// <summary>Side of a pasted 28x28 item, in pixels, drawn uniformly from this range.</summary>
    public int MinSide { get; init; } = 24;
    public int MaxSide { get; init; } = 64;
    /// <summary>Placements overlapping an earlier box by more than this IoU are redrawn.</summary>
    public double MaxOverlap { get; init; } = 0.3;
}

/// <summary>
/// Builds a detection set from Fashion-MNIST items pasted at random positions and scales, tinted, onto textured
/// canvases, several per image; each box is the tight extent of its item's visible pixels. Writes PNG images under
/// <c>images/{train,val[,test]}/</c> with annotations both as COCO (<c>annotations/instances_{split}.json</c>) and as PaliGemma
/// JSONL (<c>annotations/_annotations.{split}.jsonl</c>); name the format when loading, as both are present.
/// </summary>
public sealed class DetectionSetGenerator
{
    private readonly byte[] _items;
    private readonly byte[] _labels;
    private readonly int _count;

    /// <summary>Objects from an IDX folder's training split (Fashion-MNIST by default).</summary>
    public DetectionSetGenerator(string idxFolder = FashionMnist.DebianPath)
    {
        var images = IdxFile.Read(Find(idxFolder, "train-images-idx3-ubyte"));
        var labels = IdxFile.Read(Find(idxFolder, "train-labels-idx1-ubyte"));
        if (images.Shape.Count != 3 || images.Shape[1] != 28 || images.Shape[2] != 28 || labels.Shape[0] != images.Shape[0])
            throw new InvalidDataException($"{idxFolder}: expected 28x28 IDX images with one label each");
        _items = images.Data;
        _labels = labels.Data;
        _count = images.Shape[0];
    }

    public IReadOnlyList<string> Classes => FashionMnist.ClassNames;

    /// <summary>Generates the set into <paramref name="folder"/> and returns it as a dataset (paths relative to the folder).</summary>
    public Dataset Write(string folder, DetectionSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(options);
        var items = new List<DatasetItem>();
        foreach (var (split, name, count) in new[] { (DatasetSplit.Train, "train", options.TrainImages), (DatasetSplit.Val, "val", options.ValImages), (DatasetSplit.Test, "test", options.TestImages) })
        {
            if (split == DatasetSplit.Test && count <= 0) continue;
            Directory.CreateDirectory(Path.Combine(folder, "images", name));
            var splitItems = new DatasetItem[count];
            Parallel.For(0, count, k =>
            {
                var random = SeedMix.Random(options.Seed, (long)split, k);
                var (image, boxes) = Compose(options, random);
                var path = $"images/{name}/{k:D5}.png";
                File.WriteAllBytes(Path.Combine(folder, path), PngCodec.Encode(image));
                splitItems[k] = new DatasetItem { Path = path, Boxes = boxes, Split = split, Size = (options.Width, options.Height) };
            });
            items.AddRange(splitItems);
            var dataset = new Dataset(TaskKind.Detect, Classes, splitItems, "generated", folder);
            Directory.CreateDirectory(Path.Combine(folder, "annotations"));
            using (var coco = File.Create(Path.Combine(folder, "annotations", $"instances_{name}.json")))
                CocoWriter.Write(coco, dataset, splitItems);
            using (var jsonl = new StreamWriter(Path.Combine(folder, "annotations", $"_annotations.{name}.jsonl")))
                PaliGemmaWriter.Write(jsonl, dataset, splitItems, item => item.Path);
        }
        return new Dataset(TaskKind.Detect, Classes, items, "generated", Path.GetFullPath(folder));
    }

    /// <summary>One canvas with its pasted objects.</summary>
    public (ImageBuffer Image, List<BoundingBox> Boxes) Compose(DetectionSetOptions options, Random random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        int w = options.Width, h = options.Height;
        var canvas = Texture(w, h, random);
        var boxes = new List<BoundingBox>();
        var objects = random.Next(options.MinObjects, options.MaxObjects + 1);
        for (var o = 0; o < objects; o++)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var side = random.Next(options.MinSide, Math.Min(options.MaxSide, Math.Min(w, h)) + 1);
                int left = random.Next(w - side + 1), top = random.Next(h - side + 1);
                var item = random.Next(_count);
                var alpha = Scale(item, side);
                var box = Extent(alpha, side, left, top, _labels[item]);
                if (box is not { } b || boxes.Any(other => IoU(other, b) > options.MaxOverlap)) continue;
                Paste(canvas, w, alpha, side, left, top, random);
                boxes.Add(b);
                break;
            }
        }
        return (new ImageBuffer(w, h, 3, canvas), boxes);
    }

    // Smooth colour gradients with stripes and grain, so that objects sit on structure rather than a flat field.
    private static byte[] Texture(int w, int h, Random random)
    {
        var pixels = new byte[w * h * 3];
        var baseColor = new[] { random.Next(40, 200), random.Next(40, 200), random.Next(40, 200) };
        var (fx, fy, phase) = (random.NextDouble() * 0.3, random.NextDouble() * 0.3, random.NextDouble() * Math.PI * 2);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var wave = 30 * Math.Sin(x * fx + y * fy + phase);
                for (var c = 0; c < 3; c++)
                    pixels[(y * w + x) * 3 + c] = (byte)Math.Clamp(baseColor[c] + wave + random.Next(-10, 11) + (c - 1) * 20.0 * y / h, 0, 255);
            }
        return pixels;
    }

    // The item's 28x28 intensities resampled bilinearly to side x side, as 0..1 opacity.
    private double[] Scale(int item, int side)
    {
        var src = _items.AsSpan(item * 784, 784);
        var alpha = new double[side * side];
        for (var y = 0; y < side; y++)
            for (var x = 0; x < side; x++)
            {
                var sy = Math.Clamp((y + 0.5) * 28 / side - 0.5, 0, 27);
                var sx = Math.Clamp((x + 0.5) * 28 / side - 0.5, 0, 27);
                int y0 = (int)sy, x0 = (int)sx, y1 = Math.Min(27, y0 + 1), x1 = Math.Min(27, x0 + 1);
                double dy = sy - y0, dx = sx - x0;
                var v = src[y0 * 28 + x0] * (1 - dx) * (1 - dy) + src[y0 * 28 + x1] * dx * (1 - dy)
                      + src[y1 * 28 + x0] * (1 - dx) * dy + src[y1 * 28 + x1] * dx * dy;
                alpha[y * side + x] = v / 255;
            }
        return alpha;
    }

    // The box around the clearly visible pixels (opacity over 0.1), or null for an all-but-empty item.
    private static BoundingBox? Extent(double[] alpha, int side, int left, int top, int classId)
    {
        int x1 = side, y1 = side, x2 = -1, y2 = -1;
        for (var y = 0; y < side; y++)
            for (var x = 0; x < side; x++)
                if (alpha[y * side + x] > 0.1)
                    (x1, y1, x2, y2) = (Math.Min(x1, x), Math.Min(y1, y), Math.Max(x2, x), Math.Max(y2, y));
        if (x2 - x1 < 2 || y2 - y1 < 2) return null;
        return new BoundingBox(left + x1, top + y1, left + x2 + 1, top + y2 + 1, classId);
    }

    private static void Paste(byte[] canvas, int width, double[] alpha, int side, int left, int top, Random random)
    {
        var tint = new[] { random.Next(150, 256), random.Next(150, 256), random.Next(150, 256) };
        for (var y = 0; y < side; y++)
            for (var x = 0; x < side; x++)
            {
                var a = alpha[y * side + x];
                if (a <= 0) continue;
                var at = ((top + y) * width + left + x) * 3;
                for (var c = 0; c < 3; c++) canvas[at + c] = (byte)Math.Round(canvas[at + c] * (1 - a) + tint[c] * a);
            }
    }

    private static double IoU(BoundingBox a, BoundingBox b)
    {
        var iw = Math.Max(0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1));
        var ih = Math.Max(0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1));
        var inter = iw * ih;
        return inter / (a.Width * a.Height + b.Width * b.Height - inter);
    }

    private static string Find(string folder, string name)
    {
        foreach (var candidate in new[] { Path.Combine(folder, name), Path.Combine(folder, name + ".gz") })
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException($"{folder}: no {name}[.gz]");
    }
}
