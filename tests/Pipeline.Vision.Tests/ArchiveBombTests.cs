using System.IO.Compression;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Formats;
using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Tests.Support;

namespace Pipeline.Vision.Tests;

/// <summary>Archives that unpack to far more than they weigh are refused from their headers, naming the entry, before
/// their bytes are unpacked or allocated; honest archives of the same shape still open.</summary>
public sealed class ArchiveBombTests
{
    [Theory]
    [InlineData(1_900_000_000L, "1.8 GiB")]
    [InlineData(3_000_000_000L, "2.8 GiB")]
    public void A_zip_entry_declaring_gigabytes_is_refused_when_opened_naming_it(long declared, string shown)
    {
        using var folder = new TempFolder();
        var zip = folder.File("liar.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            using (var stream = archive.CreateEntry("cats/ok.png", CompressionLevel.NoCompression).Open()) stream.Write(new byte[100]);
            using (var stream = archive.CreateEntry("cats/huge.png", CompressionLevel.NoCompression).Open()) stream.Write(new byte[100]);
        }
        CraftedArchives.DeclareUncompressedSize(zip, "cats/huge.png", (uint)declared);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(zip));
        Assert.StartsWith($"{zip}!/cats/huge.png: declares {shown} unpacked, over the limit of 512 MiB for one file", e.Message, StringComparison.Ordinal);
        // Refused from the directory: nothing near the declared size was allocated.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void A_zip_entry_that_inflates_past_its_declared_size_is_refused_when_read()
    {
        using var folder = new TempFolder();
        var zip = folder.File("short.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var stream = archive.CreateEntry("a/1.png", CompressionLevel.NoCompression).Open())
            stream.Write(new byte[5000]);
        CraftedArchives.DeclareUncompressedSize(zip, "a/1.png", 100);
        using var source = FileSources.Open(zip);
        var e = Assert.Throws<InvalidDataException>(() => source.ReadAllBytes("a/1.png"));
        Assert.StartsWith($"{zip}!/a/1.png:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tar_gz_bomb_is_refused_at_the_entry_that_passes_the_ratio_before_it_is_unpacked()
    {
        using var folder = new TempFolder();
        var tgz = folder.File("bomb.tar.gz");
        // 40 entries of 8 MiB of zeros: 320 MiB in well under 1 MiB.
        CraftedArchives.WriteZerosTarGz(tgz, Enumerable.Range(0, 40).Select(k => ($"cats/{k:00}.png", 8L << 20)));
        var packed = new FileInfo(tgz).Length;
        Assert.True(packed < 1 << 20);

        var e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(tgz));
        // The ratio is free up to 64 MiB: the ninth entry passes it.
        Assert.StartsWith($"{tgz}!/cats/08.png: with this entry the archive unpacks to more than 72 MiB from ", e.Message, StringComparison.Ordinal);
        Assert.Contains("over 100 times its size (PIPELINE_ARCHIVE_MAX_RATIO): refused as a decompression bomb", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_huge_tar_entry_is_refused_from_its_header()
    {
        using var folder = new TempFolder();
        var tgz = folder.File("one.tgz");
        CraftedArchives.WriteZerosTarGz(tgz, [("cats/a.png", 600L << 20)]);
        var e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(tgz));
        Assert.StartsWith($"{tgz}!/cats/a.png: declares 600 MiB unpacked, over the limit of 512 MiB for one file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_honest_archive_within_the_ratio_opens_and_limits_can_be_raised()
    {
        using var folder = new TempFolder();
        var tgz = folder.File("fine.tar.gz");
        CraftedArchives.WriteZerosTarGz(tgz, Enumerable.Range(0, 4).Select(k => ($"cats/{k}.png", 1L << 20)));
        using (var source = FileSources.Open(tgz)) Assert.Equal(4, source.Files.Count);
        var bomb = folder.File("bomb.tar.gz");
        CraftedArchives.WriteZerosTarGz(bomb, [("cats/a.png", 100L << 20)]);
        Assert.Throws<ArchiveLimitException>(() => FileSources.Open(bomb).Dispose());
        using (var source = FileSources.Open(bomb, new ArchiveLimits { MaxRatio = 10_000 })) Assert.Single(source.Files);
    }

    [Fact]
    public void A_gzipped_idx_file_declaring_more_than_its_share_is_refused_before_inflating()
    {
        using var folder = new TempFolder();
        // A valid header declaring 60,000 images of 28x56 pixels (90 MiB), and a few bytes.
        var header = CraftedArchives.Gzip(CraftedArchives.IdxHeader(60_000, 28, 56));
        byte[] labels = CraftedArchives.Gzip([0, 0, 8, 1, 0, 0, 0, 1, 0]);
        folder.Write("train-images-idx3-ubyte.gz", header);
        folder.Write("train-labels-idx1-ubyte.gz", labels);
        folder.Write("t10k-images-idx3-ubyte.gz", header);
        folder.Write("t10k-labels-idx1-ubyte.gz", labels);
        using var source = FileSources.Open(folder.Path);
        var e = Assert.ThrowsAny<Exception>(() => DatasetLoader.Load(source, "idx"));
        Assert.Contains("train-images-idx3-ubyte.gz: declares 89.7 MiB of elements; unpacks to more than 89.7 MiB from ", e.Message, StringComparison.Ordinal);
    }
}
