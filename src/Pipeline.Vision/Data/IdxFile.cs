using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Vision.Data.Sources;

namespace Pipeline.Vision.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed): a magic number giving the element
/// type and rank, big-endian dimension sizes, then the elements. Only unsigned bytes are used by those sets.
/// </summary>
public sealed class IdxFile
{
    private const long MaxElements = 1L << 31;

    private IdxFile(int[] shape, byte[] data)
    {
        Shape = shape;
        Data = data;
    }

    public IReadOnlyList<int> Shape { get; }
    public byte[] Data { get; }

    public static IdxFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = File.OpenRead(path);
        return ReadFile(file, path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase), path);
    }

    /// <summary>Reads an IDX file's bytes (<paramref name="file"/>, seekable, gzipped when <paramref name="gzipped"/>).
    /// A gzip file is an archive of one: the archive limits bound what it may inflate to.</summary>
    public static IdxFile ReadFile(Stream file, bool gzipped, string source)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!gzipped) return Read(file, source);
        var limits = ArchiveLimits.Default;
        var packed = file.Length;
        using var stream = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
        return Read(stream, source, limits.UnpackBudget(packed), n => limits.DescribeOverBudget(n, packed));
    }

    /// <summary>Reads an IDX stream; <paramref name="source"/> names it in error messages.</summary>
    /// <param name="maxBytes">The most element bytes the header may declare (a compressed file's share of the archive
    /// limits); <paramref name="describeLimit"/> says why a larger count is refused.</param>
    public static IdxFile Read(Stream stream, string source, long maxBytes = MaxElements, Func<long, string>? describeLimit = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> magic = stackalloc byte[4];
        try
        {
            stream.ReadExactly(magic);
            if (magic[0] != 0 || magic[1] != 0)
                throw new InvalidDataException($"{source}: not an IDX file (bad magic number)");
            if (magic[2] != 0x08)
                throw new InvalidDataException($"{source}: IDX element type 0x{magic[2]:x2} is not supported (only unsigned bytes, 0x08)");
            var rank = magic[3];
            if (rank is 0 or > 4) throw new InvalidDataException($"{source}: IDX rank {rank} is not supported");
            var shape = new int[rank];
            Span<byte> size = stackalloc byte[4];
            long count = 1;
            for (var k = 0; k < rank; k++)
            {
                stream.ReadExactly(size);
                shape[k] = BinaryPrimitives.ReadInt32BigEndian(size);
                if (shape[k] < 0) throw new InvalidDataException($"{source}: negative IDX dimension");
                count *= shape[k];
                if (count > MaxElements) throw new InvalidDataException($"{source}: IDX file declares more than {MaxElements} elements");
            }
            if (count > maxBytes)
                throw new ArchiveLimitException($"{source}: declares {ArchiveLimits.Bytes(count)} of elements; {describeLimit?.Invoke(count) ?? $"over the limit of {ArchiveLimits.Bytes(maxBytes)}"}");
            return new IdxFile(shape, ReadGrowing(stream, count));
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{source}: truncated IDX file");
        }
    }

    // The header's count is a claim: memory grows with the bytes that really arrive, so a short file costs little.
    private static byte[] ReadGrowing(Stream stream, long count)
    {
        var data = new byte[Math.Min(count, 1 << 20)];
        long read = 0;
        while (read < count)
        {
            if (read == data.Length) Array.Resize(ref data, (int)Math.Min(count, (long)data.Length * 2));
            var n = stream.Read(data, (int)read, (int)(data.Length - read));
            if (n == 0) throw new EndOfStreamException();
            read += n;
        }
        return data;
    }
}
