using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Storage;

/// <summary>The properties a folder-store blob file carries in front of its content.</summary>
internal sealed record FolderBlobHeader(
    string ETag,
    DateTimeOffset LastModified,
    string? ContentType,
    Dictionary<string, string> Metadata);

[JsonSerializable(typeof(FolderBlobHeader))]
internal sealed partial class FolderBlobJsonContext : JsonSerializerContext;

/// <summary>
/// One file per blob: magic, header length, JSON header, content. Keeping the properties in the same
/// file as the bytes means one rename replaces both at once, and an open handle reads one consistent
/// version even while a writer replaces the blob.
/// </summary>
internal static class FolderBlobFile
{
    private const int MaxHeaderBytes = 1 << 20;

    private static ReadOnlySpan<byte> Magic => "PLBLOB1\n"u8;

    /// <summary>Bytes before the header's JSON: magic plus a 32-bit length.</summary>
    private static int PreambleLength => Magic.Length + sizeof(int);

    public static async Task WriteHeaderAsync(Stream file, FolderBlobHeader header, CancellationToken cancellationToken)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(header, FolderBlobJsonContext.Default.FolderBlobHeader);
        var preamble = new byte[PreambleLength];
        Magic.CopyTo(preamble);
        BinaryPrimitives.WriteInt32LittleEndian(preamble.AsSpan(Magic.Length), json.Length);
        await file.WriteAsync(preamble, cancellationToken).ConfigureAwait(false);
        await file.WriteAsync(json, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the header and leaves <paramref name="file"/> positioned at the first content byte.</summary>
    /// <exception cref="InvalidDataException">The file is not a blob file of this store.</exception>
    public static async Task<FolderBlobHeader> ReadHeaderAsync(Stream file, CancellationToken cancellationToken)
    {
        var preamble = new byte[PreambleLength];
        await file.ReadExactlyAsync(preamble, cancellationToken).ConfigureAwait(false);
        if (!preamble.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new InvalidDataException("it does not start with the folder store's blob header");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(preamble.AsSpan(Magic.Length));
        if (length is <= 0 or > MaxHeaderBytes)
        {
            throw new InvalidDataException($"its header length {length} is out of range");
        }

        var json = new byte[length];
        await file.ReadExactlyAsync(json, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(json, FolderBlobJsonContext.Default.FolderBlobHeader)
            ?? throw new InvalidDataException("its header is empty");
    }
}
