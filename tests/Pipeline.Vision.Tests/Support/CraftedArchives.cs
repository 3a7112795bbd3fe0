using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;

namespace Pipeline.Vision.Tests.Support;

/// <summary>Archives as an attacker crafts them: gigabytes of zeros in a few hundred kilobytes, directories that lie
/// about sizes. Shared with the services' hostile-input suite (linked into its project).</summary>
internal static class CraftedArchives
{
    /// <summary>A tar.gz of entries of zeros, streamed (never held) and compressed as far as gzip goes.</summary>
    public static void WriteZerosTarGz(string path, IEnumerable<(string Name, long Bytes)> entries)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.SmallestSize);
        using var writer = new TarWriter(gz, TarEntryFormat.Pax);
        foreach (var (name, bytes) in entries)
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new ZeroStream(bytes) });
    }

    /// <summary>Sets an entry's uncompressed size in the zip's central directory and local header.</summary>
    public static void DeclareUncompressedSize(string zip, string entry, uint size)
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

    /// <summary>The header of an IDX file of <paramref name="count"/> unsigned-byte images of rows x cols.</summary>
    public static byte[] IdxHeader(int count, int rows, int cols)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x0803);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), cols);
        return header;
    }

    public static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.SmallestSize)) gz.Write(content);
        return buffer.ToArray();
    }

    /// <summary>A seekable stream of zeros (the tar writer wants the length first), never allocated.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long position;
        public override bool CanRead => true;
        public override bool CanSeek => true;
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
