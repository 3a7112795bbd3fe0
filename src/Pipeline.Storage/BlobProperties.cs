namespace Pipeline.Storage;

/// <summary>What a store knows about one blob.</summary>
/// <param name="Name">The blob's name within its container.</param>
/// <param name="Length">Size in bytes.</param>
/// <param name="ETag">Opaque version tag (quoted, as HTTP sends it); changes on every write.</param>
/// <param name="LastModified">When the blob was last written.</param>
/// <param name="ContentType">The content type given at upload (application/octet-stream when none was).</param>
/// <param name="Metadata">Name/value pairs given at upload; names compare case-insensitively.</param>
public sealed record BlobProperties(
    string Name,
    long Length,
    string ETag,
    DateTimeOffset LastModified,
    string? ContentType,
    IReadOnlyDictionary<string, string> Metadata);
