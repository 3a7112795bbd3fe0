namespace Pipeline.Vision.Imaging;

/// <summary>What is wrong with an image that could not be decoded.</summary>
public enum ImageFault
{
    /// <summary>Not a JPEG or PNG, or corrupt data.</summary>
    Unreadable,
    /// <summary>The data ends before the image does.</summary>
    Truncated,
    /// <summary>A JPEG or PNG variant the codecs do not decode (CMYK JPEG, say).</summary>
    Unsupported,
    /// <summary>The header declares more pixels than allowed: refused before decoding (decompression bomb).</summary>
    TooManyPixels,
}

/// <summary>An image that cannot be decoded; the message names the file and the problem.</summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(string source, ImageFault fault, string problem)
        : base($"{source}: {problem}")
    {
        Location = source;
        Fault = fault;
        Problem = problem;
    }

    public ImageDecodeException() : this("(unknown)", ImageFault.Unreadable, "unreadable image") { }
    public ImageDecodeException(string message) : this("(unknown)", ImageFault.Unreadable, message) { }
    public ImageDecodeException(string message, Exception innerException) : base(message, innerException)
    {
        Location = "(unknown)";
        Problem = message;
    }

    /// <summary>The file (or archive entry) the image came from.</summary>
    public string Location { get; }
    public ImageFault Fault { get; }
    /// <summary>The problem without the file name.</summary>
    public string Problem { get; }
}
