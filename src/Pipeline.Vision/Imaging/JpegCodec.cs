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
                // CMYK and YCCK (print exports) decode as CMYK (libjpeg turns YCCK into it; it has no CMYK to RGB), then
                // to RGB here.
                var cmyk = colorspace > TurboJpeg.ColorspaceGray;
                var (format, channels) = cmyk ? (TurboJpeg.PixelFormatCmyk, 4) : mode switch
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
                var image = new ImageBuffer(width, height, channels, pixels);
                if (cmyk) image = FromCmyk(image, HasAdobeMarker(data), mode);
                return ExifOrientation.Apply(image, orientation);
            }
        }
        finally
        {
            TurboJpeg.tjDestroy(handle);
        }
    }

    /// <summary>
    /// CMYK to RGB as Pillow converts it (R = (255 - C)(255 - K) / 255, its rounding). Adobe's files (APP14 marker: every
    /// Photoshop export, and Pillow's own) store CMYK inverted, as Pillow assumes too.
    /// </summary>
    private static ImageBuffer FromCmyk(ImageBuffer image, bool inverted, ColorMode mode)
    {
        var n = image.Width * image.Height;
        var rgb = new byte[n * 3];
        var p = image.Pixels;
        for (var k = 0; k < n; k++)
        {
            int c = p[4 * k], m = p[4 * k + 1], y = p[4 * k + 2], black = p[4 * k + 3];
            if (inverted) (c, m, y, black) = (255 - c, 255 - m, 255 - y, 255 - black);
            var nk = 255 - black;
            rgb[3 * k] = (byte)(nk - MulDiv255(c, nk));
            rgb[3 * k + 1] = (byte)(nk - MulDiv255(m, nk));
            rgb[3 * k + 2] = (byte)(nk - MulDiv255(y, nk));
        }
        var result = new ImageBuffer(image.Width, image.Height, 3, rgb);
        return mode switch
        {
            ColorMode.Gray => ToGray(result),
            ColorMode.Rgba => ToRgba(result),
            _ => result,
        };
    }

    private static int MulDiv255(int a, int b)
    {
        var t = a * b + 128;
        return (t + (t >> 8)) >> 8;
    }

    // ITU-R 601-2 luma, as Pillow's and libjpeg's RGB to gray.
    private static ImageBuffer ToGray(ImageBuffer rgb)
    {
        var n = rgb.Width * rgb.Height;
        var gray = new byte[n];
        for (var k = 0; k < n; k++)
            gray[k] = (byte)((rgb.Pixels[3 * k] * 19595 + rgb.Pixels[3 * k + 1] * 38470 + rgb.Pixels[3 * k + 2] * 7471 + 0x8000) >> 16);
        return new ImageBuffer(rgb.Width, rgb.Height, 1, gray);
    }

    private static ImageBuffer ToRgba(ImageBuffer rgb)
    {
        var n = rgb.Width * rgb.Height;
        var rgba = new byte[n * 4];
        for (var k = 0; k < n; k++)
        {
            rgba[4 * k] = rgb.Pixels[3 * k];
            rgba[4 * k + 1] = rgb.Pixels[3 * k + 1];
            rgba[4 * k + 2] = rgb.Pixels[3 * k + 2];
            rgba[4 * k + 3] = 255;
        }
        return new ImageBuffer(rgb.Width, rgb.Height, 4, rgba);
    }

    /// <summary>Whether the JPEG carries Adobe's APP14 segment (FF EE, "Adobe"), scanning the markers before the image data.</summary>
    private static bool HasAdobeMarker(ReadOnlySpan<byte> data)
    {
        var at = 2;
        while (at + 4 <= data.Length && data[at] == 0xFF)
        {
            var marker = data[at + 1];
            if (marker is 0xDA or 0xD9) return false;
            var length = (data[at + 2] << 8) | data[at + 3];
            if (marker == 0xEE && at + 9 <= data.Length && data.Slice(at + 4, 5).SequenceEqual("Adobe"u8)) return true;
            at += 2 + length;
        }
        return false;
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
