using System.Buffers.Binary;
using System.IO.Compression;

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
        using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        return Read(stream, path);
    }

    /// <summary>Reads an IDX stream; <paramref name="source"/> names it in error messages.</summary>
    public static IdxFile Read(Stream stream, string source)
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
            var data = new byte[count];
            stream.ReadExactly(data);
            return new IdxFile(shape, data);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{source}: truncated IDX file");
        }
    }
}
