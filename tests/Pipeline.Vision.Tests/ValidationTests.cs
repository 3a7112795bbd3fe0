using Pipeline.Vision;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;
using Pipeline.Vision.Imaging;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

public class ValidationTests
{
    private static ValidatedDataset LoadAndValidate(IFileSource source, DatasetValidator? validator = null) =>
        (validator ?? new DatasetValidator()).Validate(source, DatasetLoader.Load(source));

    private static byte[] Png(int w, int h, int seed = 1) => PngCodec.Encode(TestImages.Pattern(w, h, 3, seed));
    private static byte[] Jpeg(int w, int h, int seed = 1) => JpegCodec.Encode(TestImages.Pattern(w, h, 3, seed));

    private static byte[] Bomb()
    {
        var png = Png(1, 1);
        byte[] big = [0, 0, 0xEA, 0x60];
        big.CopyTo(png, 16);
        big.CopyTo(png, 20);
        return png;
    }

    [Fact]
    public void Broken_yolo_corpus_gets_one_clear_problem_per_item()
    {
        using var folder = new TempFolder();
        folder.Write("data.yaml", "names: [cat, dog]\n");
        var good = Png(40, 30, seed: 1);
        var jpeg = Jpeg(40, 30, seed: 2);
        var png = Png(40, 30, seed: 3);
        folder.Write("images/good.png", good);
        folder.Write("labels/good.txt", "0 0.5 0.5 0.5 0.5\n");
        folder.Write("images/truncated.jpg", jpeg[..(jpeg.Length / 2)]);
        folder.Write("labels/truncated.txt", "0 0.5 0.5 0.5 0.5\n");
        folder.Write("images/cut.png", png[..(png.Length / 2)]);
        folder.Write("images/garbage.jpg", "this is not an image"u8.ToArray());
        folder.Write("images/bomb.png", Bomb());
        folder.Write("images/outside.png", Png(40, 30, seed: 4));
        folder.Write("labels/outside.txt", "1 0.9 0.5 0.5 0.5\n");
        folder.Write("images/flat.png", Png(40, 30, seed: 5));
        folder.Write("labels/flat.txt", "1 0.5 0.5 0 0.5\n");
        folder.Write("images/unknown.png", Png(40, 30, seed: 6));
        folder.Write("labels/unknown.txt", "7 0.5 0.5 0.5 0.5\n");
        folder.Write("images/garbled.png", Png(40, 30, seed: 7));
        folder.Write("labels/garbled.txt", "0 0.5 half 0.5 0.5\n");
        folder.Write("labels/orphan.txt", "0 0.5 0.5 0.5 0.5\n");
        folder.Write("images/z-copy.png", good);

        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        var report = result.Report;
        string F(string relative) => $"{folder.Path}/{relative}";
        var expected = new Dictionary<string, (ProblemKind Kind, string Text)>
        {
            [F("images/truncated.jpg")] = (ProblemKind.TruncatedImage, "truncated JPEG"),
            [F("images/cut.png")] = (ProblemKind.TruncatedImage, "truncated PNG"),
            [F("images/garbage.jpg")] = (ProblemKind.UnreadableImage, "not a JPEG or PNG image"),
            [F("images/bomb.png")] = (ProblemKind.DecompressionBomb, "over the limit"),
            [F("labels/outside.txt")] = (ProblemKind.BoxOutsideImage, "reaches outside images/outside.png (40x30)"),
            [F("labels/flat.txt")] = (ProblemKind.DegenerateBox, "has no area"),
            [F("labels/unknown.txt") + ":1"] = (ProblemKind.UnknownClass, "class 7 is not among the 2 classes"),
            [F("labels/garbled.txt") + ":1"] = (ProblemKind.MalformedLabel, "expected 'class cx cy w h'"),
            [F("labels/orphan.txt")] = (ProblemKind.LabelWithoutImage, "label file has no image"),
            [F("images/z-copy.png")] = (ProblemKind.DuplicateFile, "same content as images/good.png"),
        };
        Assert.Equal(expected.Count, report.Problems.Count);
        foreach (var problem in report.Problems)
        {
            Assert.True(expected.TryGetValue(problem.File, out var want), $"unexpected problem {problem.File}: {problem.Message}");
            Assert.True(want.Kind == problem.Kind, $"{problem.File}: {problem.Kind} {problem.Message}");
            Assert.Contains(want.Text, problem.Message, StringComparison.Ordinal);
        }
        // The bomb fails the dataset by default; everything else is skipped and listed.
        Assert.True(report.Failed);
        Assert.Equal(ProblemAction.Fail, Assert.Single(report.Problems, p => p.Action == ProblemAction.Fail).Action);
        // Kept: good.png; its copy, later in path order, is the duplicate.
        Assert.Equal(["images/good.png"], result.Dataset.Items.Select(i => i.Path));
        Assert.Equal(1, report.ItemsKept);
    }

    [Fact]
    public void Zip_entries_escaping_the_root_are_refused_and_fail_the_dataset()
    {
        using var folder = new TempFolder();
        var zip = folder.File("evil.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            foreach (var (name, bytes) in new[] { ("cats/1.png", Png(8, 8, 1)), ("dogs/2.png", Png(8, 8, 2)), ("../escape.png", Png(8, 8, 3)), ("/etc/passwd.png", Png(8, 8, 4)), ("cats/../../up.png", Png(8, 8, 5)) })
            {
                using var stream = archive.CreateEntry(name).Open();
                stream.Write(bytes);
            }
        }
        using var source = FileSources.Open(zip);
        Assert.Equal(["cats/1.png", "dogs/2.png"], source.Files);
        var result = LoadAndValidate(source);
        var refused = result.Report.Problems.Where(p => p.Kind == ProblemKind.UnsafeArchiveEntry).ToList();
        Assert.Equal(3, refused.Count);
        Assert.Contains(refused, p => p.File == $"{zip}!/../escape.png" && p.Message.Contains("climbs out", StringComparison.Ordinal));
        Assert.Contains(refused, p => p.File == $"{zip}!//etc/passwd.png" && p.Message.Contains("absolute path", StringComparison.Ordinal));
        Assert.True(result.Report.Failed);
        Assert.Equal(2, result.Report.ItemsKept);
    }

    [Fact]
    public void A_source_opened_under_a_display_name_reads_its_files_and_names_them_by_it()
    {
        using var folder = new TempFolder();
        // The same images, as a zip and as a folder: good ones of two classes and one cut short.
        (string Name, byte[] Bytes)[] images = [("cats/1.png", Png(8, 8, 1)), ("dogs/2.png", Png(8, 8, 2)[..40]), ("dogs/3.png", Png(8, 8, 3))];
        var zip = folder.File("copy-of-upload.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            foreach (var (name, bytes) in images)
            {
                using var stream = archive.CreateEntry(name).Open();
                stream.Write(bytes);
            }
        }
        var tree = Path.Combine(folder.Path, "copy-of-folder");
        foreach (var (name, bytes) in images)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tree, name))!);
            File.WriteAllBytes(Path.Combine(tree, name), bytes);
        }
        foreach (var (path, shown, separator) in new[] { (zip, "photos.zip", "!/"), (tree, "/home/me/photos", "/") })
        {
            using var source = FileSources.Open(path, displayName: shown);
            Assert.Equal(shown, source.Name);
            Assert.Equal(images[0].Bytes, source.ReadAllBytes("cats/1.png"));
            var result = LoadAndValidate(source);
            Assert.Equal(shown, result.Report.Source);
            var cut = Assert.Single(result.Report.Problems);
            Assert.Equal($"{shown}{separator}dogs/2.png", cut.File);
            Assert.DoesNotContain("copy-of", cut.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Tar_links_and_escaping_entries_are_refused_and_nothing_is_written_outside()
    {
        using var folder = new TempFolder();
        var tar = folder.File("evil.tar");
        using (var output = File.Create(tar))
        using (var writer = new TarWriter(output))
        {
            void Add(string name, byte[] bytes) => writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
            Add("cats/1.png", Png(8, 8, 1));
            Add("dogs/2.png", Png(8, 8, 2));
            Add("../outside.png", Png(8, 8, 3));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "cats/link.png") { LinkName = "/etc/shadow" });
        }
        using var source = FileSources.Open(tar);
        Assert.Equal(["cats/1.png", "dogs/2.png"], source.Files);
        Assert.False(File.Exists(Path.Combine(folder.Path, "..", "outside.png")));
        var kinds = source.Problems.Select(p => (p.File, p.Kind)).ToList();
        Assert.Contains(($"{tar}!/../outside.png", ProblemKind.UnsafeArchiveEntry), kinds);
        Assert.Contains(($"{tar}!/cats/link.png", ProblemKind.UnsafeArchiveEntry), kinds);
        Assert.Contains(source.Problems, p => p.Message.Contains("link entries are not allowed (to /etc/shadow)", StringComparison.Ordinal));
    }

    [Fact]
    public void Archives_over_their_limits_are_refused_whole()
    {
        using var folder = new TempFolder();
        var zip = folder.File("big.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            for (var k = 0; k < 3; k++)
            {
                using var stream = archive.CreateEntry($"a/{k}.png").Open();
                stream.Write(new byte[1000]);
            }
        }
        var e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(zip, new ArchiveLimits { MaxTotalBytes = 2500, RatioFreeBytes = 0 }));
        Assert.Contains($"{zip}!/a/2.png: with this entry the archive unpacks to more than 2.4 KiB, the limit (PIPELINE_ARCHIVE_MAX_TOTAL_BYTES)", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(zip, new ArchiveLimits { MaxEntryBytes = 999 }));
        Assert.Contains($"{zip}!/a/0.png: declares 1000 bytes unpacked, over the limit of 999 bytes for one file", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(zip, new ArchiveLimits { MaxEntries = 2 }));
        Assert.Contains("3 entries, over the limit of 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_archive_is_refused_naming_it()
    {
        using var folder = new TempFolder();
        var zip = folder.Write("broken.zip", "PK not really a zip"u8.ToArray());
        var tgz = folder.Write("broken.tar.gz", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
        Assert.Contains(zip, Assert.ThrowsAny<Exception>(() => FileSources.Open(zip)).Message, StringComparison.Ordinal);
        Assert.Contains(tgz, Assert.ThrowsAny<Exception>(() => FileSources.Open(tgz)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_coco_json_is_refused_naming_file_and_line()
    {
        using var folder = new TempFolder();
        folder.Write("train/a.png", Png(8, 8));
        folder.Write("train/_annotations.coco.json", "{\"images\": [],\n \"annotations\": [,\n \"categories\": []}");
        using var source = new FolderSource(folder.Path);
        var e = Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(source, "coco"));
        Assert.StartsWith($"{folder.Path}/train/_annotations.coco.json: malformed JSON at line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Coco_problems_name_the_annotation_and_the_image()
    {
        using var folder = new TempFolder();
        folder.Write("train/a.png", Png(20, 10, 1));
        folder.Write("train/b.png", Png(20, 10, 2));
        folder.Write("train/_annotations.coco.json", """
            {"images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 10},
                        {"id": 2, "file_name": "b.png", "width": 20, "height": 10},
                        {"id": 3, "file_name": "missing.png", "width": 20, "height": 10}],
             "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
                             {"id": 11, "image_id": 2, "category_id": 9, "bbox": [1, 1, 5, 5]}],
             "categories": [{"id": 0, "name": "things", "supercategory": "none"},
                            {"id": 1, "name": "thing", "supercategory": "things"}]}
            """);
        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        Assert.Equal(["thing"], result.Dataset.Classes);
        Assert.Equal(["train/a.png"], result.Dataset.Items.Select(i => i.Path));
        var unknown = Assert.Single(result.Report.Problems, p => p.Kind == ProblemKind.UnknownClass);
        Assert.Equal("train/b.png", unknown.Item);
        Assert.Contains("annotation 11 has category_id 9", unknown.Message, StringComparison.Ordinal);
        var missing = Assert.Single(result.Report.Problems, p => p.Kind == ProblemKind.LabelWithoutImage);
        Assert.Contains("image 3 (missing.png) is not in the dataset", missing.Message, StringComparison.Ordinal);
        Assert.False(result.Report.Failed);
    }

    [Fact]
    public void Paligemma_problems_name_the_jsonl_line()
    {
        using var folder = new TempFolder();
        folder.Write("a.png", Png(20, 10, 1));
        folder.Write("b.png", Png(20, 10, 2));
        folder.Write("_annotations.train.jsonl",
            "{\"image\": \"a.png\", \"prefix\": \"detect cat\", \"suffix\": \"<loc0000><loc0000><loc0512><loc0512> cat\"}\n" +
            "{\"image\": \"b.png\", \"prefix\": \"detect cat\", \"suffix\": \"<loc0000><loc0000><loc0512><loc0512> dog\"}\n" +
            "{\"image\": \"a.png\", \"prefix\": \"detect cat\"\n");
        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        var problems = result.Report.Problems;
        Assert.Equal(2, problems.Count);
        Assert.Equal((ProblemKind.UnknownClass, $"{folder.Path}/_annotations.train.jsonl:2"), (problems[0].Kind, problems[0].File));
        Assert.Equal((ProblemKind.MalformedLabel, $"{folder.Path}/_annotations.train.jsonl:3"), (problems[1].Kind, problems[1].File));
    }

    [Fact]
    public void An_empty_dataset_fails()
    {
        using var folder = new TempFolder();
        folder.Write("cats/1.jpg", "nope"u8.ToArray());
        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        Assert.True(result.Report.Failed);
        Assert.Contains(result.Report.Problems, p => p.Kind == ProblemKind.EmptyDataset && p.Action == ProblemAction.Fail);
        Assert.Contains(result.Report.Problems, p => p.Kind == ProblemKind.UnreadableImage && p.File == $"{folder.Path}/cats/1.jpg");
        // The refusal says why there is nothing left, naming the files.
        var empty = result.Report.Problems.Single(p => p.Kind == ProblemKind.EmptyDataset);
        Assert.StartsWith("no usable images (1 left out: ", empty.Message, StringComparison.Ordinal);
        Assert.Contains($"{folder.Path}/cats/1.jpg: ", empty.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_classification_dataset_of_one_class_fails_naming_it()
    {
        using var folder = new TempFolder();
        folder.Write("cats/1.png", Png(8, 8, 1));
        folder.Write("cats/2.png", Png(8, 8, 2));
        // A second class whose only image is damaged leaves one class to train on.
        folder.Write("dogs/3.png", "nope"u8.ToArray());
        using var source = new FolderSource(folder.Path);
        var report = LoadAndValidate(source).Report;
        Assert.True(report.Failed);
        var problem = report.Problems.Single(p => p.Kind == ProblemKind.TooFewClasses);
        Assert.Equal((ProblemAction.Fail, folder.Path), (problem.Action, problem.File));
        Assert.Equal("a classification dataset needs images of at least 2 classes; all 2 usable images are of 'cats'", problem.Message);
        Assert.Equal($"dataset refused: {folder.Path}: {problem.Message}", DatasetIntake.RefusalMessage(report));
    }

    [Fact]
    public void Policy_can_fail_on_any_kind_or_skip_bombs()
    {
        using var folder = new TempFolder();
        folder.Write("cats/1.png", Png(8, 8, 1));
        folder.Write("cats/2.png", Png(8, 8, 1));
        folder.Write("dogs/3.png", Bomb());
        folder.Write("dogs/4.png", Png(8, 8, 2));
        using var source = new FolderSource(folder.Path);
        var lenient = LoadAndValidate(source, new DatasetValidator { Policy = ProblemPolicy.Default.With(ProblemKind.DecompressionBomb, ProblemAction.Skip) });
        Assert.False(lenient.Report.Failed);
        Assert.Equal(2, lenient.Report.ItemsKept);
        var strict = LoadAndValidate(source, new DatasetValidator { Policy = ProblemPolicy.Strict });
        Assert.True(strict.Report.Failed);
        Assert.All(strict.Report.Problems, p => Assert.Equal(ProblemAction.Fail, p.Action));
    }

    [Fact]
    public void Report_counts_splits_classes_sizes_and_long_tail()
    {
        using var folder = new TempFolder();
        var k = 0;
        foreach (var (path, w, h) in new[] { ("train/a/1.png", 10, 20), ("train/a/2.png", 30, 5), ("train/a/3.png", 8, 8), ("train/b/4.png", 8, 8), ("valid/a/5.png", 8, 8), ("valid/b/6.jpg", 12, 12) })
            folder.Write(path, path.EndsWith(".png", StringComparison.Ordinal) ? Png(w, h, ++k) : Jpeg(w, h, ++k));
        using var source = new FolderSource(folder.Path);
        var report = LoadAndValidate(source).Report;
        Assert.Equal([DatasetSplit.Train, DatasetSplit.Val], report.Splits.Select(s => s.Split));
        Assert.Equal([3L, 1], report.Splits[0].PerClass);
        Assert.Equal(2, report.Splits[1].Images);
        Assert.Equal([4L, 2], report.ClassHistogram);
        Assert.Equal(2.0, report.LongTailRatio);
        Assert.Equal((8, 5, 30, 20), (report.MinWidth!.Value, report.MinHeight!.Value, report.MaxWidth!.Value, report.MaxHeight!.Value));
        Assert.False(report.Failed);

        using var json = JsonDocument.Parse(report.ToJson());
        Assert.Equal("imagefolder", json.RootElement.GetProperty("format").GetString());
        Assert.Equal(2.0, json.RootElement.GetProperty("longTailRatio").GetDouble());
        Assert.Equal("val", json.RootElement.GetProperty("splits")[1].GetProperty("split").GetString());
        var text = report.ToText();
        Assert.Contains("Long-tail ratio (largest/smallest class): 2", text, StringComparison.Ordinal);
        Assert.Contains("Image sizes: 8x5 to 30x20", text, StringComparison.Ordinal);
        Assert.Contains("Result: usable", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_counts_boxes_per_class_without_crowd_regions()
    {
        using var folder = new TempFolder();
        folder.Write("1.png", Png(64, 64, 1));
        folder.Write("2.png", Png(64, 64, 2));
        folder.Write("_annotations.coco.json", """
            {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 64}, {"id": 2, "file_name": "2.png", "width": 64, "height": 64}],
             "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20], "iscrowd": 0},
                             {"id": 2, "image_id": 1, "category_id": 1, "bbox": [30, 30, 30, 30], "iscrowd": 1},
                             {"id": 3, "image_id": 2, "category_id": 2, "bbox": [10, 10, 30, 30]}]}
            """);
        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        Assert.Equal(3, result.Dataset.Items.Sum(i => i.Boxes.Count)); // the crowd region is kept for evaluation
        Assert.Equal([1L, 1], result.Report.ClassHistogram);
    }

    [Fact]
    public void Boxes_overhanging_by_rounding_are_clamped_not_reported()
    {
        using var folder = new TempFolder();
        folder.Write("classes.txt", "thing\n");
        folder.Write("a.png", Png(100, 100));
        folder.Write("a.txt", "0 0.5 0.5 1.005 0.5\n");
        using var source = new FolderSource(folder.Path);
        var result = LoadAndValidate(source);
        Assert.Empty(result.Report.Problems);
        Assert.Equal(new BoundingBox(0, 25, 100, 75, 0), Assert.Single(result.Dataset.Items[0].Boxes));
    }
}
