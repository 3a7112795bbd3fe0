namespace Pipeline.Vision.Data.Sources;

/// <summary>
/// The files a dataset is read from — a folder or an archive — by relative '/'-separated paths. Archive entries
/// that were refused on opening (escaping the root, links) are not files of the source but listed as problems.
/// </summary>
public interface IFileSource : IDisposable
{
    /// <summary>The folder or archive path, for messages.</summary>
    string Name { get; }

    /// <summary>Every file, relative, sorted ordinally.</summary>
    IReadOnlyList<string> Files { get; }

    /// <summary>Entries refused while opening, each naming the archive and the entry.</summary>
    IReadOnlyList<Validation.DatasetProblem> Problems { get; }

    bool Contains(string path);

    byte[] ReadAllBytes(string path);

    /// <summary>How messages name a file of this source: the full path for a folder, archive!/entry for an archive.</summary>
    string Describe(string path);
}
