using Pipeline.Vision.Data.Validation;

namespace Pipeline.Vision.Data.Formats;

/// <summary>What loading produced: the dataset and the problems met on the way.</summary>
public sealed record DatasetLoad(Dataset Dataset, IReadOnlyList<DatasetProblem> Problems);

public sealed record DatasetLoadOptions
{
    public static DatasetLoadOptions Default { get; } = new();

    /// <summary>Reads image headers (formats with normalized coordinates need the image size) and refuses bombs.</summary>
    public Imaging.ImageDecoder Decoder { get; init; } = Imaging.ImageDecoder.Default;
}
