namespace Pipeline.Storage;

/// <summary>
/// Containers of named blobs: the one way every part of the pipeline keeps and shares its artifacts.
/// The store moves bytes and knows nothing of what they mean. Writes are atomic: a reader sees either
/// the old blob or the new one, never a part.
/// </summary>
/// <remarks>
/// Container names follow Azure's rules (3-63 lowercase letters, digits and single hyphens); blob names
/// are '/'-separated paths without empty, "." or ".." segments, so they are the same on every store.
/// Failures throw <see cref="ArtifactNotFoundException"/>, <see cref="ArtifactConditionFailedException"/>
/// or <see cref="ArtifactStoreException"/>.
/// </remarks>
public interface IArtifactStore
{
    /// <summary>Creates the container unless it exists; true when this call created it.</summary>
    Task<bool> CreateContainerIfMissingAsync(string container, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="content"/> (read once, to its end, without buffering it whole) as the blob,
    /// replacing any blob of that name unless <see cref="UploadOptions.Condition"/> says otherwise.
    /// Returns the new blob's ETag.
    /// </summary>
    Task<string> UploadAsync(string container, string blob, Stream content, UploadOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens the blob (or the <paramref name="range"/> of it) for reading. The stream's Length is the
    /// number of bytes it will give; dispose it to release the connection or file.
    /// </summary>
    Task<Stream> DownloadAsync(string container, string blob, ByteRange? range = null,
        CancellationToken cancellationToken = default);

    /// <summary>The blob's properties, or null when the blob (or its container) does not exist.</summary>
    Task<BlobProperties?> GetPropertiesAsync(string container, string blob, CancellationToken cancellationToken = default);

    /// <summary>Every blob whose name starts with <paramref name="prefix"/>, in ordinal name order.</summary>
    IAsyncEnumerable<BlobProperties> ListAsync(string container, string? prefix = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the blob if it exists and <paramref name="condition"/> holds; false when there was no blob.
    /// </summary>
    Task<bool> DeleteAsync(string container, string blob, BlobCondition? condition = null,
        CancellationToken cancellationToken = default);

    /// <summary>Whether the blob exists.</summary>
    Task<bool> ExistsAsync(string container, string blob, CancellationToken cancellationToken = default);
}
