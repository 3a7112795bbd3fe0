namespace Pipeline.Storage;

/// <summary>Optional settings of an upload.</summary>
public sealed record UploadOptions
{
    /// <summary>MIME type stored with the blob.</summary>
    public string? ContentType { get; init; }

    /// <summary>
    /// Name/value pairs stored with the blob. Names are identifiers (letters, digits, '_', not starting
    /// with a digit); values are printable ASCII without leading or trailing spaces (they travel as HTTP headers).
    /// </summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Precondition the write must satisfy (create-only, or replace-if-unchanged).</summary>
    public BlobCondition? Condition { get; init; }
}
