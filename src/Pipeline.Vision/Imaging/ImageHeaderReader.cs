using System.Buffers.Binary;

namespace Pipeline.Vision.Imaging;

/// <summary>
/// Reads an image's format, size and orientation from its header bytes alone, so that a decompression bomb is
/// refused before any pixel buffer is allocated and annotation formats with normalized coordinates get the size.
/// </summary>
public static class ImageHeaderReader
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static bool IsPng(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(PngSignature);
    public static bool IsJpeg(ReadOnlySpan<byte> data) => data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;

    /// <summary>The header of a JPEG or PNG; throws <see cref="ImageDecodeException"/> naming <paramref name="source"/>.</summary>
    public static ImageInfo Read(ReadOnlySpan<byte> data, string source)
    {
        if (IsPng(data)) return ReadPng(data, source);
        if (IsJpeg(data)) return ReadJpeg(data, source);
        if (data.Length == 0) throw new ImageDecodeException(source, ImageFault.Unreadable, "empty file");
        throw new ImageDecodeException(source, ImageFault.Unreadable, $"not a JPEG or PNG image ({Describe(data)})");
    }

    private static ImageInfo ReadPng(ReadOnlySpan<byte> data, string source)
    {
        // Signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
        if (data.Length < 33) throw new ImageDecodeException(source, ImageFault.Truncated, "PNG ends inside its header");
        if (!data.Slice(12, 4).SequenceEqual("IHDR"u8)) throw new ImageDecodeException(source, ImageFault.Unreadable, "PNG does not start with an IHDR chunk");
        var width = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(16, 4));
        var height = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(20, 4));
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw new ImageDecodeException(source, ImageFault.Unreadable, $"PNG header declares an invalid size {width}x{height}");
        return new ImageInfo(ImageFormat.Png, (int)width, (int)height, 1);
    }

    private static ImageInfo ReadJpeg(ReadOnlySpan<byte> data, string source)
    {
        var orientation = 1;
        var at = 2;
        while (true)
        {
            // Markers are 0xFF, optional 0xFF fill bytes, then the marker code.
            if (at >= data.Length || data[at] != 0xFF)
            {
                if (at >= data.Length) throw new ImageDecodeException(source, ImageFault.Truncated, "JPEG ends before its frame header");
                throw new ImageDecodeException(source, ImageFault.Unreadable, $"corrupt JPEG: no marker at byte {at}");
            }
            while (at < data.Length && data[at] == 0xFF) at++;
            if (at >= data.Length) throw new ImageDecodeException(source, ImageFault.Truncated, "JPEG ends before its frame header");
            var marker = data[at++];
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue;
            if (marker is 0xD9 or 0xDA) throw new ImageDecodeException(source, ImageFault.Unreadable, "JPEG has no frame header before its image data");
            if (at + 2 > data.Length) throw new ImageDecodeException(source, ImageFault.Truncated, "JPEG ends inside a segment header");
            var length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(at, 2));
            if (length < 2) throw new ImageDecodeException(source, ImageFault.Unreadable, $"corrupt JPEG: segment length {length} at byte {at}");
            if (at + length > data.Length) throw new ImageDecodeException(source, ImageFault.Truncated, "JPEG ends inside a header segment");
            var segment = data.Slice(at + 2, length - 2);
            if (marker == 0xE1 && orientation == 1) orientation = ExifOrientation.Read(segment);
            if (IsStartOfFrame(marker))
            {
                if (segment.Length < 6) throw new ImageDecodeException(source, ImageFault.Unreadable, "corrupt JPEG: short frame header");
                int height = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(1, 2));
                int width = BinaryPrimitives.ReadUInt16BigEndian(segment.Slice(3, 2));
                if (width == 0 || height == 0)
                    throw new ImageDecodeException(source, ImageFault.Unsupported, $"JPEG frame header declares size {width}x{height}");
                return new ImageInfo(ImageFormat.Jpeg, width, height, orientation);
            }
            at += length;
        }
    }

    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    private static bool IsStartOfFrame(byte marker) => marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);

    // Errors name the file and its size, never its bytes: a report is no way to read a file.
    private static string Describe(ReadOnlySpan<byte> data) =>
        data.Length == 0 ? "the file is empty" : $"{data.Length} bytes without a JPEG or PNG signature";
}
