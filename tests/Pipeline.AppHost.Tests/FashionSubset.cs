using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.AppHost.Tests;

/// <summary>A slice of Debian's Fashion-MNIST written as an IDX dataset folder (the format the bundled one is in): the
/// first <c>train</c> training images and the first <c>test</c> test images, uncompressed.</summary>
internal static class FashionSubset
{
    public const string DebianPath = "/usr/share/datasets/fashion-mnist";
    private const int Pixels = 28 * 28;

    public static string Write(string folder, int train, int test)
    {
        Directory.CreateDirectory(folder);
        Copy(folder, "train", train);
        Copy(folder, "t10k", test);
        return folder;
    }

    private static void Copy(string folder, string split, int count)
    {
        var images = Read(Path.Combine(DebianPath, $"{split}-images-idx3-ubyte.gz"), 16 + count * Pixels);
        var labels = Read(Path.Combine(DebianPath, $"{split}-labels-idx1-ubyte.gz"), 8 + count);
        // The headers keep their magic numbers and shapes; only the item counts change.
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        File.WriteAllBytes(Path.Combine(folder, $"{split}-images-idx3-ubyte"), images);
        File.WriteAllBytes(Path.Combine(folder, $"{split}-labels-idx1-ubyte"), labels);
    }

    /// <summary>The first <paramref name="length"/> bytes of a gzipped file.</summary>
    private static byte[] Read(string path, int length)
    {
        Assert.True(File.Exists(path), $"{path} is missing: Debian's Fashion-MNIST (infra/provision.sh)");
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var bytes = new byte[length];
        gzip.ReadExactly(bytes);
        return bytes;
    }
}
