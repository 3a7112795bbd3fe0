using Pipeline.Vision.Data.Sources;

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
