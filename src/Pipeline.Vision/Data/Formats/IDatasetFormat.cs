using Pipeline.Vision.Data.Sources;
using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Formats;

/// <summary>A dataset layout that can be recognised in a source and read into the in-memory <see cref="Dataset"/>.</summary>
public interface IDatasetFormat
{
    /// <summary>The name users give it: "imagefolder", "coco", "yolo", "paligemma", "idx".</summary>
    string Name { get; }

    /// <summary>Whether the source looks like this format.</summary>
    bool Matches(IFileSource source);

    /// <summary>Reads the dataset. Items with problems found while reading are left out and listed; a file that cannot
    /// be used at all (malformed annotation JSON, say) throws <see cref="DatasetFormatException"/>.</summary>
    DatasetLoad Load(IFileSource source, DatasetLoadOptions options);
}

/// <summary>What loading produced: the dataset and the problems met on the way.</summary>
public sealed record DatasetLoad(Dataset Dataset, IReadOnlyList<DatasetProblem> Problems);

public sealed record DatasetLoadOptions
{
    public static DatasetLoadOptions Default { get; } = new();

    /// <summary>Reads image headers (formats with normalized coordinates need the image size) and refuses bombs.</summary>
    public Imaging.ImageDecoder Decoder { get; init; } = Imaging.ImageDecoder.Default;
}

/// <summary>A dataset file that cannot be used at all; the message names the file and the problem.</summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string message) : base(message) { }
    public DatasetFormatException(string message, Exception innerException) : base(message, innerException) { }
    public DatasetFormatException() { }
}
