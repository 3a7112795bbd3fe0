using Pipeline.Torch;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision.Tests.Support;
using static Pipeline.Torch.torch;

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
        Assert.True(read.Images.eq(train.Images).all().item<bool>());
        for (var i = 0; i < items.Count; i++) Assert.Equal(train.BoxesOf(i), read.BoxesOf(i));

        using var subset = train.Subset([4, 1]);
        Assert.Equal(train.BoxesOf(4), subset.BoxesOf(0));
        Assert.Equal(train.BoxesOf(1), subset.BoxesOf(1));
        Assert.True(subset.Images[1].eq(train.Images[1]).all().item<bool>());
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
        Assert.Equal(114, val.Images[0, 0, 0, 0].item<long>());
        Assert.Throws<ArgumentException>(() => DetectionTensors.ToTensorDataset(coco, source, DatasetSplit.Val, 48, 40, DetectionFit.Letterbox));
    }

    [Fact]
    public void A_shard_with_inconsistent_offsets_is_refused_naming_it()
    {
        using var scope = NewDisposeScope();
        using var good = DetectionTensorDataset.From(zeros([2, 1, 8, 8], ScalarType.Byte), [[new BoundingBox(1, 1, 4, 4, 0)], []], ["a"]);
        var tensors = new Dictionary<string, Pipeline.Torch.Tensor>
        {
            ["images"] = good.Images, ["boxes"] = zeros([1, 4]), ["box_classes"] = zeros([1], ScalarType.Int64), ["offsets"] = tensor(new long[] { 0, 2, 1 }),
        };
        using var stream = new MemoryStream();
        Pipeline.Torch.Serialization.SafeTensors.Write(stream, tensors, new Dictionary<string, string> { ["classes"] = "[\"a\"]" });
        stream.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => DetectionTensorShards.Read(stream, "bad.safetensors"));
        Assert.Contains("bad.safetensors", e.Message, StringComparison.Ordinal);
    }
}
