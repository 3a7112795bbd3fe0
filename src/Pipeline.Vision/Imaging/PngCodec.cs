using Pipeline.Vision.Imaging.Native;

namespace Pipeline.Vision.Imaging;

/// <summary>PNG decoding and encoding through libpng's simplified API (any bit depth and palette in; 8-bit out).</summary>
public static class PngCodec
{
    // The last 12 bytes of every complete PNG: the empty IEND chunk and its CRC.
    private static ReadOnlySpan<byte> IendChunk => [0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82];

    public static unsafe ImageBuffer Decode(ReadOnlySpan<byte> data, string source, ColorMode mode = ColorMode.Original,
        long maxPixels = ImageDecoder.DefaultMaxPixels)
    {
        // The size is checked from IHDR before libpng reads anything.
        if (ImageHeaderReader.IsPng(data))
        {
            var info = ImageHeaderReader.Read(data, source);
            ImageDecoder.CheckPixels(source, info.StoredWidth, info.StoredHeight, maxPixels);
        }
        var image = new LibPng.PngImage { Version = LibPng.ImageVersion };
        fixed (byte* input = data)
        {
            try
            {
                if (LibPng.png_image_begin_read_from_memory(&image, input, (nuint)data.Length) == 0)
                    throw Fail(image, data, source);
                var hasAlpha = (image.Format & LibPng.FormatFlagAlpha) != 0;
                var hasColor = (image.Format & LibPng.FormatFlagColor) != 0;
                var (format, channels) = mode switch
                {
                    ColorMode.Gray => (LibPng.FormatGray, 1),
                    ColorMode.Rgb => (LibPng.FormatRgb, 3),
                    ColorMode.Rgba => (LibPng.FormatRgba, 4),
                    _ when hasAlpha => (LibPng.FormatRgba, 4),
                    _ when hasColor => (LibPng.FormatRgb, 3),
                    _ => (LibPng.FormatGray, 1),
                };
                image.Format = format;
                // 16-bit samples without gAMA/sRGB are sRGB-encoded as Pillow reads them, not linear light.
                image.Flags |= 0x04;
                var width = (int)image.Width;
                var height = (int)image.Height;
                var pixels = GC.AllocateUninitializedArray<byte>(checked(width * height * channels));
                fixed (byte* output = pixels)
                {
                    if (LibPng.png_image_finish_read(&image, null, output, width * channels, null) == 0)
                        throw Fail(image, data, source);
                }
                return new ImageBuffer(width, height, channels, pixels);
            }
            finally
            {
                LibPng.png_image_free(&image);
            }
        }
    }

    public static unsafe byte[] Encode(ImageBuffer image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var png = new LibPng.PngImage
        {
            Version = LibPng.ImageVersion,
            Width = (uint)image.Width,
            Height = (uint)image.Height,
            Format = image.Channels switch
            {
                1 => LibPng.FormatGray,
                2 => LibPng.FormatGrayAlpha,
                3 => LibPng.FormatRgb,
                _ => LibPng.FormatRgba,
            },
        };
        var stride = image.Width * image.Channels;
        fixed (byte* input = image.Pixels)
        {
            nuint size = 0;
            // First call sizes the output, second fills it.
            if (LibPng.png_image_write_to_memory(&png, null, ref size, 0, input, stride, null) == 0)
                throw new InvalidOperationException($"PNG encoding failed: {png.MessageText()}");
            var output = new byte[size];
            fixed (byte* o = output)
            {
                if (LibPng.png_image_write_to_memory(&png, o, ref size, 0, input, stride, null) == 0)
                    throw new InvalidOperationException($"PNG encoding failed: {png.MessageText()}");
            }
            return size == (nuint)output.Length ? output : output.AsSpan(0, (int)size).ToArray();
        }
    }

    private static ImageDecodeException Fail(in LibPng.PngImage image, ReadOnlySpan<byte> data, string source)
    {
        var message = image.MessageText();
        // libpng's messages for short data vary; a PNG whose data does not end with IEND has been cut.
        return data.EndsWith(IendChunk)
            ? new ImageDecodeException(source, ImageFault.Unreadable, $"corrupt PNG ({message})")
            : new ImageDecodeException(source, ImageFault.Truncated, $"truncated PNG ({message})");
    }
}
