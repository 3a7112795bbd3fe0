using System.Buffers.Binary;

namespace Pipeline.Vision.Imaging;

/// <summary>
/// The EXIF Orientation tag (0x0112) of a JPEG's APP1 segment, and the flip/rotation that displays the stored
/// pixels upright. Values as in the EXIF spec: 1 upright, 2 mirrored, 3 rotated 180, 4 flipped vertically,
/// 5 transposed, 6 rotated 90 clockwise to display, 7 transversed, 8 rotated 90 counter-clockwise to display.
/// </summary>
public static class ExifOrientation
{
    /// <summary>The orientation in an APP1 payload (after the length), or 1 when absent or malformed.</summary>
    public static int Read(ReadOnlySpan<byte> app1)
    {
        if (app1.Length < 14 || !app1[..6].SequenceEqual("Exif\0\0"u8)) return 1;
        var tiff = app1[6..];
        bool little;
        if (tiff[0] == (byte)'I' && tiff[1] == (byte)'I') little = true;
        else if (tiff[0] == (byte)'M' && tiff[1] == (byte)'M') little = false;
        else return 1;
        var ifd = ReadUInt32(tiff[4..], little);
        if (ifd < 8 || ifd > tiff.Length - 2) return 1;
        var count = ReadUInt16(tiff[(int)ifd..], little);
        for (var k = 0; k < count; k++)
        {
            var entry = (int)ifd + 2 + k * 12;
            if (entry + 12 > tiff.Length) return 1;
            if (ReadUInt16(tiff[entry..], little) != 0x0112) continue;
            // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
            if (ReadUInt16(tiff[(entry + 2)..], little) != 3) return 1;
            var value = ReadUInt16(tiff[(entry + 8)..], little);
            return value is >= 1 and <= 8 ? value : 1;
        }
        return 1;
    }

    /// <summary>The image as displayed for <paramref name="orientation"/> (the same buffer for 1).</summary>
    public static ImageBuffer Apply(ImageBuffer image, int orientation)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (orientation is < 2 or > 8) return image;
        int w = image.Width, h = image.Height, c = image.Channels;
        var transposed = orientation >= 5;
        int outW = transposed ? h : w, outH = transposed ? w : h;
        var src = image.Pixels;
        var dst = new byte[src.Length];
        for (var y = 0; y < outH; y++)
        {
            for (var x = 0; x < outW; x++)
            {
                // (sx, sy): the stored pixel shown at display position (x, y).
                var (sx, sy) = orientation switch
                {
                    2 => (w - 1 - x, y),
                    3 => (w - 1 - x, h - 1 - y),
                    4 => (x, h - 1 - y),
                    5 => (y, x),
                    6 => (y, h - 1 - x),
                    7 => (w - 1 - y, h - 1 - x),
                    _ => (w - 1 - y, x),
                };
                Buffer.BlockCopy(src, (sy * w + sx) * c, dst, (y * outW + x) * c, c);
            }
        }
        return new ImageBuffer(outW, outH, c, dst);
    }

    private static ushort ReadUInt16(ReadOnlySpan<byte> b, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b);

    private static uint ReadUInt32(ReadOnlySpan<byte> b, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);
}
