namespace Pipeline.Vision.Imaging;

public enum ImageFormat { Jpeg, Png }

/// <summary>
/// What an image's header says, read without decoding pixels: its format, stored size and EXIF orientation
/// (1 = as stored; 5 to 8 swap width and height when displayed).
/// </summary>
public sealed record ImageInfo(ImageFormat Format, int StoredWidth, int StoredHeight, int Orientation)
{
    private bool Transposed => Orientation is >= 5 and <= 8;

    /// <summary>Width as displayed, after the EXIF orientation is applied (what box coordinates refer to).</summary>
    public int Width => Transposed ? StoredHeight : StoredWidth;
    public int Height => Transposed ? StoredWidth : StoredHeight;
    public long PixelCount => (long)StoredWidth * StoredHeight;
}
