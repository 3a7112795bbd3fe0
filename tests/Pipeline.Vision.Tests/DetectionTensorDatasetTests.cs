using TorchSharp;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Tests.Support;
using static TorchSharp.torch;

namespace Pipeline.Vision.Tests;

public class DetectionTensorDatasetTests
{
    private static readonly DetectionSetOptions Small = new() { Seed = 5, TrainImages = 6, ValImages = 2, TestImages = 3, Width = 96, Height = 80, MinSide = 20, MaxSide = 40 };

    [Fact]
    public void A_generated_set_decodes_into_resized_images_with_boxes_scaled_along_and_survives_a_shard_round_trip()
    {
        using var folder = new TempFolder();
        var truth = new DetectionSetGenerator().Write(folder.Path, Small);
        using var source = new FolderSource(folder.Path);
        var coco = DatasetLoader.Load(source, "coco").Dataset;
        Assert.Equal(3, coco.InSplit(DatasetSplit.Test).Count());

        using var scope = NewDisposeScope();
        // Half the width, 0.6 of the height: every box coordinate scales by exactly that.
        using var train = DetectionTensors.ToTensorDataset(coco, source, DatasetSplit.Train, 48, 48);
        Assert.Equal([6L, 3, 48, 48], train.Images.shape);
        var items = coco.InSplit(DatasetSplit.Train).ToList();
        Assert.Equal(items.Sum(i => i.Boxes.Count), train.BoxCount);
        for (var i = 0; i < items.Count; i++)
        {
            var boxes = train.BoxesOf(i);
            Assert.Equal(items[i].Boxes.Count, boxes.Count);
            foreach (var (expected, actual) in items[i].Boxes.Zip(boxes))
            {
                Assert.Equal(expected.ClassId, actual.ClassId);
                Assert.Equal(expected.X1 * 0.5, actual.X1, 3);
                Assert.Equal(expected.Y2 * 0.6, actual.Y2, 3);
            }
        }

        using var stream = new MemoryStream();
        DetectionTensorShards.Write(train, stream);
        stream.Position = 0;
        using var read = DetectionTensorShards.Read(stream, "train.safetensors");
        Assert.Equal(train.Classes, read.Classes);
        Assert.True(read.Images.eq(train.Images).all().ToBoolean());
        for (var i = 0; i < items.Count; i++) Assert.Equal(train.BoxesOf(i), read.BoxesOf(i));

        using var subset = train.Subset([4, 1]);
        Assert.Equal(train.BoxesOf(4), subset.BoxesOf(0));
        Assert.Equal(train.BoxesOf(1), subset.BoxesOf(1));
        Assert.True(subset.Images[1].eq(train.Images[1]).all().ToBoolean());
    }

    [Fact]
    public void Letterboxing_keeps_the_aspect_ratio_and_offsets_the_boxes_by_the_padding()
    {
        using var folder = new TempFolder();
        new DetectionSetGenerator().Write(folder.Path, Small);
        using var source = new FolderSource(folder.Path);
        var coco = DatasetLoader.Load(source, "coco").Dataset;
        using var scope = NewDisposeScope();
        using var val = DetectionTensors.ToTensorDataset(coco, source, DatasetSplit.Val, 48, 48, DetectionFit.Letterbox);
        // 96x80 fits 48x48 at scale 0.5 as 48x40, padded 4 rows above and below.
        var item = coco.InSplit(DatasetSplit.Val).First();
        var box = val.BoxesOf(0)[0];
        Assert.Equal(item.Boxes[0].X1 * 0.5, box.X1, 3);
        Assert.Equal(item.Boxes[0].Y1 * 0.5 + 4, box.Y1, 3);
        Assert.Equal(114, val.Images[0, 0, 0, 0].ToInt64());
        Assert.Throws<ArgumentException>(() => DetectionTensors.ToTensorDataset(coco, source, DatasetSplit.Val, 48, 40, DetectionFit.Letterbox));
    }

    [Theory]
    [InlineData(DetectionFit.Resize, 48, 64)]
    [InlineData(DetectionFit.Letterbox, 48, 48)]
    public void A_fitted_image_is_the_one_the_set_holds_and_its_boxes_map_back_to_the_original_pixels(DetectionFit fit, int height, int width)
    {
        using var folder = new TempFolder();
        new DetectionSetGenerator().Write(folder.Path, Small);
        using var source = new FolderSource(folder.Path);
        var coco = DatasetLoader.Load(source, "coco").Dataset;
        using var scope = NewDisposeScope();
        using var val = DetectionTensors.ToTensorDataset(coco, source, DatasetSplit.Val, height, width, fit);
        var item = coco.InSplit(DatasetSplit.Val).First();
        // Decoded in its own channels, as an uploaded image comes: fitting converts it as the set was decoded.
        var image = Imaging.ImageDecoder.Default.Decode(source.ReadAllBytes(item.Path), item.Path);
        var (fitted, back) = DetectionTensors.FitImage(image, 3, height, width, fit);
        Assert.True(fitted.eq(val.Images[0]).all().ToBoolean(), "the fitted image differs from the set's");
        Assert.Equal((96, 80), (back.Width, back.Height));
        foreach (var (original, inSet) in item.Boxes.Zip(val.BoxesOf(0)))
        {
            var mapped = back.ToOriginal(inSet);
            Assert.Equal(original.ClassId, mapped.ClassId);
            Assert.Equal(original.X1, mapped.X1, 3);
            Assert.Equal(original.Y1, mapped.Y1, 3);
            Assert.Equal(original.X2, mapped.X2, 3);
            Assert.Equal(original.Y2, mapped.Y2, 3);
        }
        // A box reaching into the letterbox padding or past the edge is clipped to the original image.
        Assert.Equal(new BoundingBox(0, 0, 96, 80, 2), back.ToOriginal(new BoundingBox(-10, -10, width + 10, height + 10, 2)));
    }

    [Fact]
    public void Completing_splits_keeps_the_given_ones_and_carves_only_what_is_missing()
    {
        var items = Enumerable.Range(0, 40).Select(k => new DatasetItem
        {
            Path = $"{k}.png", Boxes = [new BoundingBox(1, 1, 5, 5, k % 2)], Split = k < 30 ? DatasetSplit.Train : DatasetSplit.Val,
        }).ToList();
        var dataset = new Dataset(TaskKind.Detect, ["a", "b"], items, "test", "memory");
        var completed = DatasetSplitter.CompleteSplits(dataset, 0.5, 0.2, seed: 3);
        Assert.Equal(10, completed.InSplit(DatasetSplit.Val).Count());
        Assert.All(completed.InSplit(DatasetSplit.Val), i => Assert.True(int.Parse(i.Path[..^4], System.Globalization.CultureInfo.InvariantCulture) >= 30));
        // The test share comes from train, stratified by the first box's class: 3 of each class's 15.
        Assert.Equal(6, completed.InSplit(DatasetSplit.Test).Count());
        Assert.Equal(3, completed.InSplit(DatasetSplit.Test).Count(i => i.Boxes[0].ClassId == 0));
        Assert.Equal(24, completed.InSplit(DatasetSplit.Train).Count());
        // A test share of 0 leaves the test split missing.
        Assert.Empty(DatasetSplitter.CompleteSplits(dataset, 0.5, 0, seed: 3).InSplit(DatasetSplit.Test));
    }

    [Fact]
    public void A_shard_with_inconsistent_offsets_is_refused_naming_it()
    {
        using var scope = NewDisposeScope();
        using var good = DetectionTensorDataset.From(zeros([2, 1, 8, 8], ScalarType.Byte), [[new BoundingBox(1, 1, 4, 4, 0)], []], ["a"]);
        var tensors = new Dictionary<string, TorchSharp.torch.Tensor>
        {
            ["images"] = good.Images, ["boxes"] = zeros([1, 4]), ["box_classes"] = zeros([1], ScalarType.Int64), ["offsets"] = tensor(new long[] { 0, 2, 1 }),
        };
        using var stream = new MemoryStream();
        Pipeline.Vision.Serialization.SafeTensors.Write(stream, tensors, new Dictionary<string, string> { ["classes"] = "[\"a\"]" });
        stream.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => DetectionTensorShards.Read(stream, "bad.safetensors"));
        Assert.Contains("bad.safetensors", e.Message, StringComparison.Ordinal);
    }
}
