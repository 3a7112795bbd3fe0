using Pipeline.Vision.Imaging.Native;

namespace Pipeline.Vision.Imaging;

/// <summary>JPEG decoding and encoding through libturbojpeg; decoded images are turned upright by their EXIF orientation.</summary>
public static class JpegCodec
{
    /// <summary>
    /// Decodes the whole image. With <paramref name="atLeast"/> (upright width and height), the decoder scales in the DCT
    /// domain by the largest of 1/2, 1/4, 1/8 that keeps the image at least that large — as Pillow's <c>draft()</c> —
    /// which is several times cheaper when the image is to be shrunk anyway.
    /// </summary>
    public static unsafe ImageBuffer Decode(ReadOnlySpan<byte> data, string source, ColorMode mode = ColorMode.Original,
        (int Width, int Height)? atLeast = null, long maxPixels = ImageDecoder.DefaultMaxPixels)
    {
        var orientation = ImageHeaderReader.Read(data, source).Orientation;
        var handle = TurboJpeg.tjInitDecompress();
        if (handle == IntPtr.Zero) throw new InvalidOperationException("libturbojpeg could not create a decompressor");
        try
        {
            fixed (byte* input = data)
            {
                if (TurboJpeg.tjDecompressHeader3(handle, input, (nuint)data.Length, out var width, out var height, out _, out var colorspace) != 0)
                    throw Fail(handle, data, source);
                ImageDecoder.CheckPixels(source, width, height, maxPixels);
                if (colorspace > TurboJpeg.ColorspaceGray)
                    throw new ImageDecodeException(source, ImageFault.Unsupported, "CMYK/YCCK JPEG is not supported");
                var (format, channels) = mode switch
                {
                    ColorMode.Gray => (TurboJpeg.PixelFormatGray, 1),
                    ColorMode.Rgba => (TurboJpeg.PixelFormatRgba, 4),
                    ColorMode.Original when colorspace == TurboJpeg.ColorspaceGray => (TurboJpeg.PixelFormatGray, 1),
                    _ => (TurboJpeg.PixelFormatRgb, 3),
                };
                if (atLeast is { } target)
                    (width, height) = Reduced(width, height, orientation >= 5 ? (target.Height, target.Width) : target);
                var pixels = GC.AllocateUninitializedArray<byte>(checked(width * height * channels));
                fixed (byte* output = pixels)
                {
                    if (TurboJpeg.tjDecompress2(handle, input, (nuint)data.Length, output, width, width * channels, height, format, 0) != 0)
                        throw Fail(handle, data, source);
                }
                return ExifOrientation.Apply(new ImageBuffer(width, height, channels, pixels), orientation);
            }
        }
        finally
        {
            TurboJpeg.tjDestroy(handle);
        }
    }

    // libjpeg's scaled size is ceil(size * 1/d); the largest reduction that still covers the target wins.
    private static (int Width, int Height) Reduced(int width, int height, (int Width, int Height) target)
    {
        foreach (var d in new[] { 8, 4, 2 })
        {
            int w = (width + d - 1) / d, h = (height + d - 1) / d;
            if (w >= target.Width && h >= target.Height) return (w, h);
        }
        return (width, height);
    }

    /// <summary>Baseline JPEG at <paramref name="quality"/> (1..100), 4:2:0 chroma for colour as Pillow's default; alpha is dropped.</summary>
    public static unsafe byte[] Encode(ImageBuffer image, int quality = 90)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        var (format, subsampling) = image.Channels switch
        {
            1 => (TurboJpeg.PixelFormatGray, TurboJpeg.SubsamplingGray),
            3 => (TurboJpeg.PixelFormatRgb, 2),
            4 => (TurboJpeg.PixelFormatRgba, 2),
            _ => throw new ArgumentException($"JPEG cannot hold {image.Channels} channels", nameof(image)),
        };
        var handle = TurboJpeg.tjInitCompress();
        if (handle == IntPtr.Zero) throw new InvalidOperationException("libturbojpeg could not create a compressor");
        var output = IntPtr.Zero;
        try
        {
            nuint size = 0;
            fixed (byte* input = image.Pixels)
            {
                if (TurboJpeg.tjCompress2(handle, input, image.Width, image.Width * image.Channels, image.Height, format,
                        ref output, ref size, subsampling, quality, TurboJpeg.FlagAccurateDct) != 0)
                    throw new InvalidOperationException($"JPEG encoding failed: {TurboJpeg.LastError(handle)}");
            }
            return new ReadOnlySpan<byte>((void*)output, checked((int)size)).ToArray();
        }
        finally
        {
            if (output != IntPtr.Zero) TurboJpeg.tjFree(output);
            TurboJpeg.tjDestroy(handle);
        }
    }

    private static ImageDecodeException Fail(IntPtr handle, ReadOnlySpan<byte> data, string source)
    {
        var message = TurboJpeg.LastError(handle);
        // libjpeg says "Premature end of JPEG file" when the scan data stops early; cut inside the headers it reports
        // a structure error instead, so a failed JPEG without its end marker (EOI, FF D9) near the end is truncated too.
        var tail = data[Math.Max(0, data.Length - 64)..];
        var truncated = message.Contains("Premature end", StringComparison.OrdinalIgnoreCase) || tail.IndexOf([(byte)0xFF, (byte)0xD9]) < 0;
        var fault = truncated ? ImageFault.Truncated : ImageFault.Unreadable;
        var problem = fault == ImageFault.Truncated ? $"truncated JPEG ({message})" : $"corrupt JPEG ({message})";
        return new ImageDecodeException(source, fault, problem);
    }
}
