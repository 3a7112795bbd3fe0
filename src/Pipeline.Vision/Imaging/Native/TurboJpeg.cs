using System.Runtime.InteropServices;

namespace Pipeline.Vision.Imaging.Native;

/// <summary>The TurboJPEG 2.1 API of Debian's libturbojpeg (package libturbojpeg0).</summary>
internal static partial class TurboJpeg
{
    private const string Lib = "libturbojpeg.so.0";

    internal const int PixelFormatRgb = 0;
    internal const int PixelFormatGray = 6;
    internal const int PixelFormatRgba = 7;
    internal const int PixelFormatCmyk = 11;
    internal const int SubsamplingGray = 3;
    internal const int ColorspaceGray = 2;
    internal const int ErrorFatal = 1;
    internal const int FlagAccurateDct = 4096;

    [LibraryImport(Lib)] internal static partial IntPtr tjInitDecompress();
    [LibraryImport(Lib)] internal static partial IntPtr tjInitCompress();
    [LibraryImport(Lib)] internal static partial int tjDestroy(IntPtr handle);

    [LibraryImport(Lib)]
    internal static unsafe partial int tjDecompressHeader3(IntPtr handle, byte* jpegBuf, nuint jpegSize,
        out int width, out int height, out int subsampling, out int colorspace);

    [LibraryImport(Lib)]
    internal static unsafe partial int tjDecompress2(IntPtr handle, byte* jpegBuf, nuint jpegSize,
        byte* dstBuf, int width, int pitch, int height, int pixelFormat, int flags);

    [LibraryImport(Lib)]
    internal static unsafe partial int tjCompress2(IntPtr handle, byte* srcBuf, int width, int pitch, int height, int pixelFormat,
        ref IntPtr jpegBuf, ref nuint jpegSize, int subsampling, int quality, int flags);

    [LibraryImport(Lib)] internal static partial void tjFree(IntPtr buffer);
    [LibraryImport(Lib)] internal static partial IntPtr tjGetErrorStr2(IntPtr handle);
    [LibraryImport(Lib)] internal static partial int tjGetErrorCode(IntPtr handle);

    internal static string LastError(IntPtr handle) => Marshal.PtrToStringUTF8(tjGetErrorStr2(handle)) ?? "unknown TurboJPEG error";
}
