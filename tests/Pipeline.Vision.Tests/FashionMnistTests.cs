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
        Assert.Equal(Pipeline.Torch.ScalarType.Byte, train.Images.dtype);
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
