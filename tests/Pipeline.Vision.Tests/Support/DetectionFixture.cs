using System.Globalization;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Tests.Support;

/// <summary>
/// One small generated detection set — images of several sizes with known boxes, in train and valid splits — written
/// in each detection format the way its exporters lay it out, so that the loaders can be compared with the truth.
/// </summary>
public static class DetectionFixture
{
    public static readonly string[] Classes = ["cat", "dog", "bird"];

    /// <summary>The truth: file name, split, size and boxes in pixels.</summary>
    public static IReadOnlyList<(string Name, DatasetSplit Split, int Width, int Height, BoundingBox[] Boxes)> Items { get; } =
    [
        ("a.jpg", DatasetSplit.Train, 64, 48, [new(4, 6, 30, 40, 0), new(32, 2, 60, 20, 1)]),
        ("b.png", DatasetSplit.Train, 80, 60, [new(10, 10, 70, 50, 2)]),
        ("c.jpg", DatasetSplit.Train, 50, 70, [new(0, 0, 50, 70, 1), new(5, 30, 25, 60, 0), new(20, 5, 45, 35, 2)]),
        ("d.png", DatasetSplit.Train, 40, 40, []),
        ("e.jpg", DatasetSplit.Val, 72, 54, [new(12.5, 8, 40, 33.5, 0)]),
        ("f.png", DatasetSplit.Val, 66, 44, [new(1, 1, 65, 43, 2)]),
    ];

    public static byte[] Image(int index)
    {
        var (name, _, w, h, _) = Items[index];
        var pixels = TestImages.Pattern(w, h, 3, seed: index + 1);
        return name.EndsWith(".png", StringComparison.Ordinal) ? PngCodec.Encode(pixels) : JpegCodec.Encode(pixels, 90);
    }

    private static string SplitFolder(DatasetSplit split) => split == DatasetSplit.Train ? "train" : "valid";

    private static Dataset Truth() => new(TaskKind.Detect, Classes,
        Items.Select(i => new DatasetItem { Path = i.Name, Boxes = i.Boxes, Split = i.Split, Size = (i.Width, i.Height) }).ToList(), "truth", "fixture");

    /// <summary>Roboflow's COCO export: train/_annotations.coco.json beside train's images, and the same for valid.</summary>
    public static void WriteCoco(TempFolder folder)
    {
        var truth = Truth();
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Val })
        {
            var dir = SplitFolder(split);
            for (var k = 0; k < Items.Count; k++)
                if (Items[k].Split == split) folder.Write($"{dir}/{Items[k].Name}", Image(k));
            using var output = new MemoryStream();
            CocoWriter.Write(output, truth, truth.InSplit(split));
            folder.Write($"{dir}/_annotations.coco.json", output.ToArray());
        }
    }

    /// <summary>Roboflow's YOLO export: data.yaml with names, split/images/*.jpg and split/labels/*.txt.</summary>
    public static void WriteYolo(TempFolder folder)
    {
        folder.Write("data.yaml", "train: ../train/images\nval: ../valid/images\nnc: 3\nnames: ['cat', 'dog', 'bird']\n");
        for (var k = 0; k < Items.Count; k++)
        {
            var (name, split, w, h, boxes) = Items[k];
            var dir = SplitFolder(split);
            folder.Write($"{dir}/images/{name}", Image(k));
            var lines = boxes.Select(b => string.Create(CultureInfo.InvariantCulture,
                $"{b.ClassId} {(b.X1 + b.X2) / 2 / w:0.######} {(b.Y1 + b.Y2) / 2 / h:0.######} {b.Width / w:0.######} {b.Height / h:0.######}"));
            folder.Write($"{dir}/labels/{Path.GetFileNameWithoutExtension(name)}.txt", string.Join("\n", lines) + "\n");
        }
    }

    /// <summary>Roboflow's PaliGemma export: dataset/_annotations.{train,valid}.jsonl beside all images.</summary>
    public static void WritePaliGemma(TempFolder folder)
    {
        var truth = Truth();
        for (var k = 0; k < Items.Count; k++) folder.Write($"dataset/{Items[k].Name}", Image(k));
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Val })
        {
            using var text = new StringWriter();
            PaliGemmaWriter.Write(text, truth, truth.InSplit(split));
            folder.Write($"dataset/_annotations.{SplitFolder(split)}.jsonl", text.ToString());
        }
    }
}
