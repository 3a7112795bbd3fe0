using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Vision.Serialization;

/// <summary>
/// The safetensors format (8-byte little-endian header size, a JSON header of dtype/shape/offsets, then the
/// raw little-endian bytes): the interchange format for weights, e.g. torchvision's converted ResNets.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L << 20;

    /// <summary>Writes the tensors (any device, any layout) and optional string metadata, atomically: a
    /// temporary file in the same folder is renamed over <paramref name="path"/> once complete.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var full = Path.GetFullPath(path);
        var temp = full + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                Write(stream, tensors, metadata);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        // Sorted names make the file deterministic for the same content.
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
        var header = new MemoryStream();
        long offset = 0;
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            foreach (var name in names)
            {
                var t = tensors[name];
                var bytes = t.numel() * t.dtype.ElementSize();
                json.WriteStartObject(name);
                json.WriteString("dtype", DtypeCode(t.dtype));
                json.WriteStartArray("shape");
                foreach (var s in t.shape) json.WriteNumberValue(s);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 so that the data is aligned, as the reference writer does.
        var padded = (header.Length + 7) / 8 * 8;
        while (header.Length < padded) header.WriteByte((byte)' ');
        Span<byte> size = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(size, header.Length);
        stream.Write(size);
        header.Position = 0;
        header.CopyTo(stream);

        foreach (var name in names)
        {
            var t = tensors[name];
            var bytes = checked((int)(t.numel() * t.dtype.ElementSize()));
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bytes, 1));
            try
            {
                CopyBytes(t, buffer.AsSpan(0, bytes));
                stream.Write(buffer, 0, bytes);
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        }
    }

    // The bytes of a CPU, contiguous copy (the tensor itself may live on a GPU or be a strided view).
    private static void CopyBytes(Tensor t, Span<byte> destination)
    {
        using var dense = t.detach().cpu().contiguous();
        dense.bytes.CopyTo(destination);
    }

    /// <summary>Reads every tensor (on the CPU); the caller owns them.</summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    public static Dictionary<string, Tensor> Load(string path, out Dictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Read(stream, path, out metadata);
    }

    /// <summary>Reads a safetensors stream; <paramref name="source"/> names it in error messages.</summary>
    public static Dictionary<string, Tensor> Read(Stream stream, string source, out Dictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(stream);
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        Span<byte> sizeBytes = stackalloc byte[8];
        try { stream.ReadExactly(sizeBytes); }
        catch (EndOfStreamException) { throw new InvalidDataException($"{source}: truncated: shorter than the 8-byte header size"); }
        var headerSize = BinaryPrimitives.ReadInt64LittleEndian(sizeBytes);
        if (headerSize <= 1 || headerSize > MaxHeaderBytes)
            throw new InvalidDataException($"{source}: not a safetensors file (header size {headerSize})");
        // Checked before allocating: a corrupt size must not cost up to MaxHeaderBytes of memory.
        if (stream.CanSeek && headerSize > stream.Length - stream.Position)
            throw new InvalidDataException($"{source}: header size {headerSize} exceeds the {stream.Length}-byte file");
        var headerBytes = new byte[headerSize];
        try { stream.ReadExactly(headerBytes); }
        catch (EndOfStreamException) { throw new InvalidDataException($"{source}: truncated inside the {headerSize}-byte header"); }

        var entries = new List<(string Name, ScalarType Type, long[] Shape, long Begin, long End)>();
        try
        {
            using var doc = JsonDocument.Parse(headerBytes);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (var m in property.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var info = property.Value;
                var type = ParseDtype(info.GetProperty("dtype").GetString(), source, property.Name);
                var shape = info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = info.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                    throw new InvalidDataException($"{source}: tensor '{property.Name}' has bad data_offsets");
                long count = 1;
                foreach (var s in shape)
                {
                    if (s < 0) throw new InvalidDataException($"{source}: tensor '{property.Name}' has a negative dimension");
                    count *= s;
                }
                if (count * type.ElementSize() != offsets[1] - offsets[0])
                    throw new InvalidDataException($"{source}: tensor '{property.Name}' of shape [{string.Join(", ", shape)}] {type.ToString().ToLowerInvariant()} needs {count * type.ElementSize()} bytes but its offsets span {offsets[1] - offsets[0]}");
                entries.Add((property.Name, type, shape, offsets[0], offsets[1]));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: malformed safetensors header: {e.Message}", e);
        }

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            long position = 0;
            foreach (var e in entries.OrderBy(e => e.Begin))
            {
                if (e.Begin < position)
                    throw new InvalidDataException($"{source}: tensor '{e.Name}' overlaps another tensor's bytes");
                if (e.Begin > position) Skip(stream, e.Begin - position, source);
                var bytes = checked((int)(e.End - e.Begin));
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bytes, 1));
                try
                {
                    try { stream.ReadExactly(buffer, 0, bytes); }
                    catch (EndOfStreamException) { throw new InvalidDataException($"{source}: truncated: tensor '{e.Name}' runs past the end of the file"); }
                    var t = FromBytes(buffer.AsSpan(0, bytes), e.Shape, e.Type);
                    result[e.Name] = t;
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
                position = e.End;
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private static void Skip(Stream stream, long count, string source)
    {
        var buffer = new byte[Math.Min(count, 1 << 16)];
        while (count > 0)
        {
            var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0) throw new InvalidDataException($"{source}: truncated safetensors data");
            count -= n;
        }
    }

    private static Tensor FromBytes(ReadOnlySpan<byte> bytes, long[] shape, ScalarType type)
    {
        var t = empty(shape, dtype: type);
        bytes.CopyTo(t.bytes);
        return t;
    }

    private static string DtypeCode(ScalarType type) => type switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"safetensors cannot hold dtype {type}"),
    };

    private static ScalarType ParseDtype(string? code, string source, string name) => code switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new InvalidDataException($"{source}: tensor '{name}' has unsupported dtype '{code}'"),
    };
}
