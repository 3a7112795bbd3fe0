using Pipeline.Vision;
using System.IO.Compression;
using Pipeline.Vision.Data;

namespace Pipeline.Vision.Tests;

public class FashionMnistTests
{
    [Fact]
    public void Loads_debians_fashion_mnist_splits()
    {
        using var train = FashionMnist.Load(FashionMnist.DebianPath, "train");
        using var test = FashionMnist.Load(FashionMnist.DebianPath, "t10k");
        Assert.Equal([60000L, 1, 28, 28], train.Images.shape);
        Assert.Equal(10000, test.Count);
        Assert.Equal(TorchSharp.torch.ScalarType.Byte, train.Images.dtype);
        // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
        Assert.All(train.ClassCounts(), c => Assert.Equal(6000, c));
        Assert.All(test.ClassCounts(), c => Assert.Equal(1000, c));
        Assert.Equal("Ankle boot", train.Classes[9]);
    }

    [Fact]
    public void A_truncated_idx_file_is_refused_naming_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("idx-").FullName;
        try
        {
            var path = Path.Combine(dir, "train-images-idx3-ubyte.gz");
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
                gz.Write([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
            var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_label_outside_the_classes_is_refused_naming_the_file_and_item()
    {
        var dir = Directory.CreateTempSubdirectory("idx-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7, 9]);
            File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 2, 1, 12]);
            var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, "train"));
            Assert.Contains("train-labels-idx1-ubyte: item 1 has label 12", e.Message, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class TensorDatasetSplitTests
{
    [Fact]
    public void A_stratified_split_keeps_each_class_share_and_is_reproducible()
    {
        using var train = FashionMnist.Load(FashionMnist.DebianPath, "t10k");
        var (kept, held) = train.StratifiedSplit(0.1, seed: 7);
        var (kept2, held2) = train.StratifiedSplit(0.1, seed: 7);
        using (kept) using (held) using (kept2) using (held2)
        {
            Assert.All(held.ClassCounts(), c => Assert.Equal(100, c));
            Assert.All(kept.ClassCounts(), c => Assert.Equal(900, c));
            Assert.Equal(held.Labels.ToArray<long>(), held2.Labels.ToArray<long>());
            Assert.Equal(held.Images.ToArray<byte>(), held2.Images.ToArray<byte>());
        }
    }

    [Fact]
    public void A_shard_round_trips_images_labels_and_class_names()
    {
        using var test = FashionMnist.Load(FashionMnist.DebianPath, "t10k");
        using var small = test.Subset([0, 5, 9, 42]);
        using var stream = new MemoryStream();
        TensorDatasetShards.Write(small, stream);
        stream.Position = 0;
        using var back = TensorDatasetShards.Read(stream, "memory");
        Assert.Equal(small.Images.ToArray<byte>(), back.Images.ToArray<byte>());
        Assert.Equal(small.Labels.ToArray<long>(), back.Labels.ToArray<long>());
        Assert.Equal(small.Classes, back.Classes);
    }
}
