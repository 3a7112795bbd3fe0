using System.Runtime.InteropServices;

namespace Pipeline.Vision.Imaging.Native;

/// <summary>libpng 1.6's simplified API (png_image), from Debian's libpng16-16.</summary>
internal static partial class LibPng
{
    private const string Lib = "libpng16.so.16";

    internal const uint ImageVersion = 1;
    internal const uint FormatGray = 0;
    internal const uint FormatGrayAlpha = 1;
    internal const uint FormatRgb = 2;
    internal const uint FormatRgba = 3;
    internal const uint FormatFlagAlpha = 1;
    internal const uint FormatFlagColor = 2;
    internal const uint FormatFlagColormap = 8;
    internal const uint ImageError = 2;

    /// <summary>png_image as declared in png.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct PngImage
    {
        public IntPtr Opaque;
        public uint Version;
        public uint Width;
        public uint Height;
        public uint Format;
        public uint Flags;
        public uint ColormapEntries;
        public uint WarningOrError;
        public fixed byte Message[64];

        public readonly string MessageText()
        {
            fixed (byte* m = Message)
                return Marshal.PtrToStringUTF8((IntPtr)m) ?? "";
        }
    }

    [LibraryImport(Lib)] internal static unsafe partial int png_image_begin_read_from_memory(PngImage* image, byte* memory, nuint size);
    [LibraryImport(Lib)] internal static unsafe partial int png_image_finish_read(PngImage* image, void* background, byte* buffer, int rowStride, void* colormap);
    [LibraryImport(Lib)] internal static unsafe partial void png_image_free(PngImage* image);

    [LibraryImport(Lib)]
    internal static unsafe partial int png_image_write_to_memory(PngImage* image, byte* memory, ref nuint memoryBytes,
        int convertTo8Bit, byte* buffer, int rowStride, void* colormap);
}
