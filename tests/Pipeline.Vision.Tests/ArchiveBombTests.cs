using System.Buffers.Binary;
using System.Formats.Tar;
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
        DeclareUncompressedSize(zip, "cats/huge.png", (uint)declared);

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
        DeclareUncompressedSize(zip, "a/1.png", 100);
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
        WriteTarGz(tgz, Enumerable.Range(0, 40).Select(k => ($"cats/{k:00}.png", 8L << 20)));
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
        WriteTarGz(tgz, [("cats/a.png", 600L << 20)]);
        var e = Assert.Throws<ArchiveLimitException>(() => FileSources.Open(tgz));
        Assert.StartsWith($"{tgz}!/cats/a.png: declares 600 MiB unpacked, over the limit of 512 MiB for one file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_honest_archive_within_the_ratio_opens_and_limits_can_be_raised()
    {
        using var folder = new TempFolder();
        var tgz = folder.File("fine.tar.gz");
        WriteTarGz(tgz, Enumerable.Range(0, 4).Select(k => ($"cats/{k}.png", 1L << 20)));
        using (var source = FileSources.Open(tgz)) Assert.Equal(4, source.Files.Count);
        var bomb = folder.File("bomb.tar.gz");
        WriteTarGz(bomb, [("cats/a.png", 100L << 20)]);
        Assert.Throws<ArchiveLimitException>(() => FileSources.Open(bomb).Dispose());
        using (var source = FileSources.Open(bomb, new ArchiveLimits { MaxRatio = 10_000 })) Assert.Single(source.Files);
    }

    [Fact]
    public void A_gzipped_idx_file_declaring_more_than_its_share_is_refused_before_inflating()
    {
        using var folder = new TempFolder();
        // A valid header declaring 60,000 images of 28x56 pixels (90 MiB), and a few bytes.
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x0803);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 60_000);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), 56);
        WriteGz(folder.File("train-images-idx3-ubyte.gz"), header);
        WriteGz(folder.File("train-labels-idx1-ubyte.gz"), [0, 0, 8, 1, 0, 0, 0, 1, 0]);
        WriteGz(folder.File("t10k-images-idx3-ubyte.gz"), header);
        WriteGz(folder.File("t10k-labels-idx1-ubyte.gz"), [0, 0, 8, 1, 0, 0, 0, 1, 0]);
        using var source = FileSources.Open(folder.Path);
        var e = Assert.ThrowsAny<Exception>(() => DatasetLoader.Load(source, "idx"));
        Assert.Contains("train-images-idx3-ubyte.gz: declares 89.7 MiB of elements; unpacks to more than 89.7 MiB from ", e.Message, StringComparison.Ordinal);
    }

    private static void WriteGz(string path, byte[] content)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        gz.Write(content);
    }

    /// <summary>A tar.gz of entries of zeros, streamed so that the test itself never holds them.</summary>
    private static void WriteTarGz(string path, IEnumerable<(string Name, long Bytes)> entries)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.SmallestSize);
        using var writer = new TarWriter(gz, TarEntryFormat.Pax);
        foreach (var (name, bytes) in entries)
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new ZeroStream(bytes) });
    }

    /// <summary>Sets an entry's uncompressed size in the zip's central directory and local header (what a crafted archive
    /// would declare).</summary>
    private static void DeclareUncompressedSize(string zip, string entry, uint size)
    {
        var bytes = File.ReadAllBytes(zip);
        var name = System.Text.Encoding.UTF8.GetBytes(entry);
        for (var at = 0; at + 46 < bytes.Length; at++)
        {
            var signature = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            if (signature == 0x02014b50 && bytes.AsSpan(at + 46, name.Length).SequenceEqual(name))
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 24), size);
            else if (signature == 0x04034b50 && bytes.AsSpan(at + 30, name.Length).SequenceEqual(name))
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 22), size);
        }
        File.WriteAllBytes(zip, bytes);
    }

    private sealed class ZeroStream(long length) : Stream
    {
        private long position;
        public override bool CanRead => true;
        public override bool CanSeek => true; // TarWriter needs the length up front
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => position; set => position = value; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - position);
            Array.Clear(buffer, offset, n);
            position += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) =>
            position = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => position + offset, _ => length + offset };
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
