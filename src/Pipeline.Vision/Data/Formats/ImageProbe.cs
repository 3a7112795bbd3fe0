using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;
using Pipeline.Vision.Imaging;

namespace Pipeline.Vision.Data.Formats;

/// <summary>Reads an image's upright size from its header for formats whose coordinates are relative to it.</summary>
internal static class ImageProbe
{
    /// <summary>The size, or null with a problem added when the file cannot be read or is refused.</summary>
    public static (int Width, int Height)? Size(IFileSource source, string path, ImageDecoder decoder, List<DatasetProblem> problems)
    {
        var where = source.Describe(path);
        try
        {
            var info = decoder.ReadInfo(source.ReadAllBytes(path), where);
            return (info.Width, info.Height);
        }
        catch (ImageDecodeException e)
        {
            problems.Add(new(KindOf(e.Fault), where, e.Problem, path));
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            problems.Add(new(ProblemKind.UnreadableImage, where, e.Message, path));
        }
        return null;
    }

    public static ProblemKind KindOf(ImageFault fault) => fault switch
    {
        ImageFault.Truncated => ProblemKind.TruncatedImage,
        ImageFault.TooManyPixels => ProblemKind.DecompressionBomb,
        _ => ProblemKind.UnreadableImage,
    };
}
