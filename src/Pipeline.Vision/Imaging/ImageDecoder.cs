namespace Pipeline.Vision.Imaging;

/// <summary>
/// Decodes JPEG or PNG bytes (sniffed, not trusted from the file name), refusing images whose header declares more
/// pixels than <see cref="MaxPixels"/> before any decoding.
/// </summary>
public sealed class ImageDecoder
{
    /// <summary>Pillow's decompression-bomb error threshold (twice its warning limit of 89,478,485 pixels).</summary>
    public const long DefaultMaxPixels = 178_956_970;

    public static ImageDecoder Default { get; } = new();

    public long MaxPixels { get; init; } = DefaultMaxPixels;
    public ColorMode Mode { get; init; } = ColorMode.Original;

    /// <summary>The header, checked against <see cref="MaxPixels"/>.</summary>
    public ImageInfo ReadInfo(ReadOnlySpan<byte> data, string source)
    {
        var info = ImageHeaderReader.Read(data, source);
        CheckPixels(source, info.StoredWidth, info.StoredHeight, MaxPixels);
        return info;
    }

    public ImageBuffer Decode(ReadOnlySpan<byte> data, string source)
    {
        var info = ReadInfo(data, source);
        return info.Format == ImageFormat.Png ? PngCodec.Decode(data, source, Mode, MaxPixels) : JpegCodec.Decode(data, source, Mode, maxPixels: MaxPixels);
    }

    /// <summary>Refuses a declared size over <paramref name="maxPixels"/> before any pixel buffer exists.</summary>
    internal static void CheckPixels(string source, long width, long height, long maxPixels)
    {
        if (width * height > maxPixels)
            throw new ImageDecodeException(source, ImageFault.TooManyPixels,
                $"image declares {width}x{height} = {width * height} pixels, over the limit of {maxPixels} (decompression bomb?)");
    }
}
