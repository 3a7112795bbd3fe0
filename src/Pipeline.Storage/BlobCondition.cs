namespace Pipeline.Storage;

/// <summary>
/// An HTTP-style precondition on a write or delete. When it does not hold, the operation changes
/// nothing and throws <see cref="ArtifactConditionFailedException"/>.
/// </summary>
public sealed record BlobCondition
{
    /// <summary>The blob must exist with this ETag (optimistic concurrency).</summary>
    public string? IfMatch { get; init; }

    /// <summary>The blob must not have this ETag; "*" means the blob must not exist at all.</summary>
    public string? IfNoneMatch { get; init; }

    /// <summary>Create-only: fails when a blob of that name already exists.</summary>
    public static BlobCondition IfNotExists { get; } = new() { IfNoneMatch = "*" };

    /// <summary>Only if the blob is still the version the caller read.</summary>
    public static BlobCondition IfETagMatches(string etag)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(etag);
        return new() { IfMatch = etag };
    }
}
