using System.Formats.Tar;
using System.IO.Compression;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

public class FormatTests
{
    private static DatasetLoad LoadFolder(string path, string? format = null)
    {
        using var source = FileSources.Open(path);
        return DatasetLoader.Load(source, format);
    }

    /// <summary>Every loaded item matches the fixture's truth within <paramref name="tolerance"/> pixels (relative to size).</summary>
    private static void AssertMatchesTruth(DatasetLoad load, string format, Func<int, int, double> tolerance)
    {
        Assert.Empty(load.Problems);
        var dataset = load.Dataset;
        Assert.Equal(format, dataset.Format);
        Assert.Equal(TaskKind.Detect, dataset.Task);
        Assert.Equal(DetectionFixture.Classes, dataset.Classes);
        Assert.Equal(DetectionFixture.Items.Count, dataset.Items.Count);
        foreach (var truth in DetectionFixture.Items)
        {
            var item = Assert.Single(dataset.Items, i => Path.GetFileName(i.Path) == truth.Name);
            Assert.Equal(truth.Split, item.Split);
            Assert.Equal(truth.Boxes.Length, item.Boxes.Count);
            for (var b = 0; b < truth.Boxes.Length; b++)
            {
                var (expected, actual) = (truth.Boxes[b], item.Boxes[b]);
                Assert.Equal(expected.ClassId, actual.ClassId);
                var tx = tolerance(truth.Width, truth.Height);
                Assert.InRange(actual.X1, expected.X1 - tx, expected.X1 + tx);
                Assert.InRange(actual.X2, expected.X2 - tx, expected.X2 + tx);
                Assert.InRange(actual.Y1, expected.Y1 - tx, expected.Y1 + tx);
                Assert.InRange(actual.Y2, expected.Y2 - tx, expected.Y2 + tx);
            }
        }
    }

    [Fact]
    public void Coco_loads_the_generated_set_exactly()
    {
        using var folder = new TempFolder();
        DetectionFixture.WriteCoco(folder);
        AssertMatchesTruth(LoadFolder(folder.Path), "coco", (_, _) => 1e-9);
    }

    [Fact]
    public void Yolo_loads_the_generated_set_within_rounding()
    {
        using var folder = new TempFolder();
        DetectionFixture.WriteYolo(folder);
        AssertMatchesTruth(LoadFolder(folder.Path), "yolo", (_, _) => 1e-3);
    }

    [Fact]
    public void PaliGemma_loads_the_generated_set_within_one_location_bin()
    {
        using var folder = new TempFolder();
        DetectionFixture.WritePaliGemma(folder);
        // Half a bin from rounding, a whole bin at the far edge (bin 1024 is clamped to 1023).
        AssertMatchesTruth(LoadFolder(folder.Path), "paligemma", (w, h) => Math.Max(w, h) / 1024.0 + 1e-9);
    }

    [Fact]
    public void PaliGemma_parser_and_writer_round_trip_the_text()
    {
        using var folder = new TempFolder();
        DetectionFixture.WritePaliGemma(folder);
        var load = LoadFolder(folder.Path);
        using var text = new StringWriter();
        PaliGemmaWriter.Write(text, load.Dataset, load.Dataset.InSplit(DatasetSplit.Train));
        Assert.Equal(File.ReadAllText(folder.File("dataset/_annotations.train.jsonl")), text.ToString());
    }

    [Fact]
    public void PaliGemma_locations_follow_roboflows_layout()
    {
        // y1 x1 y2 x2 in 1024 bins of height and width; groups separated by " ; ".
        var suffix = PaliGemmaLocations.FormatSuffix([("cat", 0, 0, 100, 50), ("big dog", 50, 25, 100, 50)], width: 100, height: 50);
        Assert.Equal("<loc0000><loc0000><loc1023><loc1023> cat ; <loc0512><loc0512><loc1023><loc1023> big dog", suffix);
        var parsed = PaliGemmaLocations.ParseSuffix(suffix, 100, 50);
        Assert.Equal(("big dog", 50.0, 25.0, 100 * 1023 / 1024.0, 50 * 1023 / 1024.0), parsed[1]);
        Assert.Equal(["a", "b c"], PaliGemmaLocations.ParsePrefix("detect a ; b c"));
        Assert.Null(PaliGemmaLocations.ParsePrefix("caption en"));
        var e = Assert.Throws<FormatException>(() => PaliGemmaLocations.ParseSuffix("<loc0001><loc0002><loc0003> cat", 10, 10));
        Assert.Contains("group 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Box_coordinates_agree_across_formats_for_the_same_set()
    {
        using var coco = new TempFolder();
        using var yolo = new TempFolder();
        using var pali = new TempFolder();
        DetectionFixture.WriteCoco(coco);
        DetectionFixture.WriteYolo(yolo);
        DetectionFixture.WritePaliGemma(pali);
        var sets = new[] { LoadFolder(coco.Path), LoadFolder(yolo.Path), LoadFolder(pali.Path) }.Select(l => l.Dataset).ToList();
        foreach (var reference in sets[0].Items)
        {
            var name = Path.GetFileName(reference.Path);
            foreach (var other in sets.Skip(1))
            {
                var item = Assert.Single(other.Items, i => Path.GetFileName(i.Path) == name);
                Assert.Equal(reference.Size, item.Size);
                Assert.Equal(reference.Boxes.Select(b => b.ClassId), item.Boxes.Select(b => b.ClassId));
                var worst = reference.Boxes.Zip(item.Boxes, (a, b) => new[] { a.X1 - b.X1, a.Y1 - b.Y1, a.X2 - b.X2, a.Y2 - b.Y2 }.Max(Math.Abs)).DefaultIfEmpty(0).Max();
                Assert.True(worst <= 80 / 1024.0, $"{other.Format} {name}: boxes differ by {worst} px");
            }
        }
    }

    [Fact]
    public void ImageFolder_keeps_given_splits_and_sorts_classes()
    {
        using var folder = new TempFolder();
        var png = PngCodec.Encode(TestImages.Pattern(8, 8, 3));
        foreach (var path in new[] { "train/zebra/1.png", "train/ant/2.png", "train/ant/3.png", "valid/zebra/4.png", "test/ant/5.png" })
            folder.Write(path, png);
        var load = LoadFolder(folder.Path);
        Assert.Empty(load.Problems);
        Assert.Equal("imagefolder", load.Dataset.Format);
        Assert.Equal(["ant", "zebra"], load.Dataset.Classes);
        Assert.Equal(3, load.Dataset.InSplit(DatasetSplit.Train).Count());
        Assert.Equal(0, Assert.Single(load.Dataset.InSplit(DatasetSplit.Test)).Label);
        Assert.Equal(1, Assert.Single(load.Dataset.InSplit(DatasetSplit.Val)).Label);
    }

    [Fact]
    public void ImageFolder_without_splits_is_unassigned()
    {
        using var folder = new TempFolder();
        var png = PngCodec.Encode(TestImages.Pattern(8, 8, 1));
        folder.Write("wrapper/cats/1.png", png);
        folder.Write("wrapper/dogs/2.png", png);
        var load = LoadFolder(folder.Path);
        Assert.Equal(["cats", "dogs"], load.Dataset.Classes);
        Assert.All(load.Dataset.Items, i => Assert.Equal(DatasetSplit.Unassigned, i.Split));
        // Paths stay relative to the folder given, through the single wrapping folder.
        Assert.Contains(load.Dataset.Items, i => i.Path == "wrapper/cats/1.png");
    }

    [Fact]
    public void Yolo_with_ultralytics_layout_and_index_map_names()
    {
        using var folder = new TempFolder();
        folder.Write("data.yaml", "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  1: car\n");
        folder.Write("images/train/x.png", PngCodec.Encode(TestImages.Pattern(100, 50, 3)));
        folder.Write("labels/train/x.txt", "1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.1 0.1 0.2 0.2\n");
        var load = LoadFolder(folder.Path);
        Assert.Empty(load.Problems);
        Assert.Equal(["person", "car"], load.Dataset.Classes);
        var item = Assert.Single(load.Dataset.Items);
        Assert.Equal(DatasetSplit.Train, item.Split);
        Assert.Equal(new BoundingBox(40, 15, 60, 35, 1), item.Boxes[0]);
        // A segmentation polygon becomes the box around it.
        Assert.Equal(new BoundingBox(10, 5, 20, 10, 0), item.Boxes[1]);
    }

    [Fact]
    public void Idx_loads_with_inline_pixels()
    {
        using var folder = new TempFolder();
        folder.Write("train-images-idx3-ubyte", [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        folder.Write("train-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 2, 4, 9]);
        var load = LoadFolder(folder.Path);
        Assert.Equal("idx", load.Dataset.Format);
        Assert.Equal(2, load.Dataset.Items.Count);
        var second = load.Dataset.Items[1];
        Assert.Equal(9, second.Label);
        Assert.Equal(DatasetSplit.Train, second.Split);
        Assert.Equal((3, 2), (second.Pixels!.Width, second.Pixels.Height));
        Assert.Equal(new byte[] { 7, 8, 9, 10, 11, 12 }, second.Pixels.Pixels);
    }

    [Fact]
    public void Idx_loads_debians_fashion_mnist_as_a_dataset()
    {
        var load = LoadFolder(FashionMnist.DebianPath);
        Assert.Equal(70000, load.Dataset.Items.Count);
        Assert.Equal("Ankle boot", load.Dataset.Classes[9]);
        Assert.Equal(10000, load.Dataset.InSplit(DatasetSplit.Test).Count());
    }

    [Fact]
    public void Zip_and_tar_gz_archives_load_like_the_folder()
    {
        using var folder = new TempFolder();
        using var archives = new TempFolder();
        DetectionFixture.WriteCoco(folder);
        var zip = archives.File("set.zip");
        ZipFile.CreateFromDirectory(folder.Path, zip, CompressionLevel.Fastest, includeBaseDirectory: true);
        var tgz = archives.File("set.tar.gz");
        using (var output = File.Create(tgz))
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            TarFile.CreateFromDirectory(folder.Path, gzip, includeBaseDirectory: true);
        foreach (var archive in new[] { zip, tgz })
        {
            using var source = FileSources.Open(archive);
            var load = DatasetLoader.Load(source);
            AssertMatchesTruth(load, "coco", (_, _) => 1e-9);
            var first = load.Dataset.Items[0];
            Assert.Equal(DetectionFixture.Image(0), source.ReadAllBytes(first.Path));
            Assert.StartsWith(archive + "!/", source.Describe(first.Path), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Named_format_overrides_detection_and_unknown_names_are_refused()
    {
        using var folder = new TempFolder();
        DetectionFixture.WriteYolo(folder);
        Assert.Equal("yolo", LoadFolder(folder.Path, "YOLO").Dataset.Format);
        var e = Assert.Throws<ArgumentException>(() => LoadFolder(folder.Path, "voc"));
        Assert.Contains("unknown dataset format 'voc'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unrecognised_folder_is_refused_naming_it()
    {
        using var folder = new TempFolder();
        folder.Write("notes.md", "hello");
        var e = Assert.Throws<DatasetFormatException>(() => LoadFolder(folder.Path));
        Assert.Contains(folder.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not a known dataset layout", e.Message, StringComparison.Ordinal);
    }
}
