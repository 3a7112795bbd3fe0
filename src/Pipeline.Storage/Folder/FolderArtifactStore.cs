using System.Runtime.CompilerServices;

namespace Pipeline.Storage;

/// <summary>
/// The artifact store on a local folder: the embedded default and the unit tests' store.
/// Layout: <c>{root}/{container}/{blob path}</c>, one file per blob (see <see cref="FolderBlobFile"/>);
/// <c>{root}/.staging</c> holds writes in progress and <c>{root}/.locks</c> the container locks
/// (container names cannot start with '.', so neither can collide with a container).
/// </summary>
/// <remarks>
/// A write goes to a staging file on the same file system, is flushed to disk, and is renamed over
/// the blob under the container lock after its condition is checked: readers see the old or the new
/// blob, never a part. ETags are random version ids, new on every write, as on Azure.
/// </remarks>
public sealed class FolderArtifactStore : IArtifactStore
{
    // What Azure reports for a blob uploaded without a content type.
    private const string DefaultContentType = "application/octet-stream";

    private static readonly TimeSpan StaleStagingAge = TimeSpan.FromDays(1);

    private readonly string _staging;
    private readonly string _locks;

    /// <summary>Opens (creating if needed) a store rooted at <paramref name="root"/>.</summary>
    public FolderArtifactStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        _staging = Path.Combine(Root, ".staging");
        _locks = Path.Combine(Root, ".locks");
        Directory.CreateDirectory(_staging);
        Directory.CreateDirectory(_locks);
        RemoveStaleStagingFiles();
    }

    /// <summary>The folder holding the containers.</summary>
    public string Root { get; }

    public async Task<bool> CreateContainerIfMissingAsync(string container, CancellationToken cancellationToken = default)
    {
        var directory = ContainerPath(container);
        using var held = await LockAsync(container, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(directory))
        {
            return false;
        }

        Directory.CreateDirectory(directory);
        return true;
    }

    public async Task<string> UploadAsync(string container, string blob, Stream content, UploadOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        const string operation = "Upload";
        var target = BlobPath(container, blob);
        ArtifactNames.ValidateMetadata(options?.Metadata);
        RequireContainer(operation, container, blob);

        var header = new FolderBlobHeader(NewETag(), DateTimeOffset.UtcNow, options?.ContentType ?? DefaultContentType,
            new Dictionary<string, string>(options?.Metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase));
        var staged = Path.Combine(_staging, $"{Guid.NewGuid():N}.tmp");
        try
        {
            await StageAsync(staged, header, content, cancellationToken).ConfigureAwait(false);
            using var held = await LockAsync(container, cancellationToken).ConfigureAwait(false);
            RequireContainer(operation, container, blob);
            RequireNoPathConflict(operation, container, blob, target);
            var current = await ReadETagAsync(operation, container, blob, cancellationToken).ConfigureAwait(false);
            Check(operation, container, blob, options?.Condition, current);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(staged, target, overwrite: true);
            return header.ETag;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DiskError(operation, container, blob, e);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    public async Task<Stream> DownloadAsync(string container, string blob, ByteRange? range = null,
        CancellationToken cancellationToken = default)
    {
        const string operation = "Download";
        range?.Validate();
        var opened = await OpenAsync(operation, container, blob, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound(operation, container, blob);
        var (file, _, length) = opened;
        try
        {
            var offset = range?.Offset ?? 0;
            if (range is not null && offset >= length)
            {
                throw new ArtifactStoreException(operation, container, blob, 416, "InvalidRange",
                    $"The range starts at byte {offset} but the blob has {length} bytes.");
            }

            file.Seek(offset, SeekOrigin.Current);
            var count = Math.Min(range?.Length ?? long.MaxValue, length - offset);
            return new ArtifactReadStream(file, count);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<BlobProperties?> GetPropertiesAsync(string container, string blob,
        CancellationToken cancellationToken = default)
    {
        var opened = await OpenAsync("Get properties", container, blob, cancellationToken).ConfigureAwait(false);
        if (opened is not (var file, var header, var length))
        {
            return null;
        }

        await file.DisposeAsync().ConfigureAwait(false);
        return ToProperties(blob, header, length);
    }

    public async IAsyncEnumerable<BlobProperties> ListAsync(string container, string? prefix = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        const string operation = "List";
        var root = ContainerPath(container);
        ArtifactNames.ValidatePrefix(prefix);
        if (!Directory.Exists(root))
        {
            throw new ArtifactNotFoundException(operation, container, null, 404, "ContainerNotFound",
                "The specified container does not exist.");
        }

        // Only the folder the prefix's complete segments name can hold matches.
        prefix ??= "";
        var lastSlash = prefix.LastIndexOf('/');
        var start = lastSlash < 0 ? root : Path.Combine(root, prefix[..lastSlash]);
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = 0, // blob names may start with '.', which Unix calls hidden
            IgnoreInaccessible = true,
        };
        var names = Directory.EnumerateFiles(start, "*", options)
            .Select(path => Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var opened = await OpenAsync(operation, container, name, cancellationToken).ConfigureAwait(false);
            if (opened is (var file, var header, var length))
            {
                await file.DisposeAsync().ConfigureAwait(false);
                yield return ToProperties(name, header, length);
            }
        }
    }

    public async Task<bool> DeleteAsync(string container, string blob, BlobCondition? condition = null,
        CancellationToken cancellationToken = default)
    {
        const string operation = "Delete";
        var target = BlobPath(container, blob);
        var containerRoot = ContainerPath(container);
        try
        {
            using var held = await LockAsync(container, cancellationToken).ConfigureAwait(false);
            var current = await ReadETagAsync(operation, container, blob, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return false;
            }

            Check(operation, container, blob, condition, current);
            File.Delete(target);
            RemoveEmptyFolders(Path.GetDirectoryName(target)!, containerRoot);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DiskError(operation, container, blob, e);
        }
    }

    public Task<bool> ExistsAsync(string container, string blob, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(BlobPath(container, blob)));

    private static async Task StageAsync(string staged, FolderBlobHeader header, Stream content,
        CancellationToken cancellationToken)
    {
        var file = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16,
            FileOptions.Asynchronous);
        await using (file.ConfigureAwait(false))
        {
            await FolderBlobFile.WriteHeaderAsync(file, header, cancellationToken).ConfigureAwait(false);
            await content.CopyToAsync(file, 1 << 20, cancellationToken).ConfigureAwait(false);
            // On disk before the rename, so a crash never leaves a renamed but empty blob.
            file.Flush(flushToDisk: true);
        }
    }

    /// <summary>Opens the blob positioned at its content, or null when it does not exist.</summary>
    private async Task<(FileStream File, FolderBlobHeader Header, long Length)?> OpenAsync(string operation,
        string container, string blob, CancellationToken cancellationToken)
    {
        var path = BlobPath(container, blob);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                1 << 16, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException
                                      && !File.Exists(path))
        {
            return null; // absent, or a folder of longer blob names
        }

        try
        {
            var header = await FolderBlobFile.ReadHeaderAsync(file, cancellationToken).ConfigureAwait(false);
            return (file, header, file.Length - file.Position);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or System.Text.Json.JsonException)
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw new ArtifactStoreException(operation, container, blob, null, "InvalidBlobFile",
                $"The file '{path}' is not a blob written by this store: {e.Message}.", e);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task<string?> ReadETagAsync(string operation, string container, string blob,
        CancellationToken cancellationToken)
    {
        var opened = await OpenAsync(operation, container, blob, cancellationToken).ConfigureAwait(false);
        if (opened is not (var file, var header, _))
        {
            return null;
        }

        await file.DisposeAsync().ConfigureAwait(false);
        return header.ETag;
    }

    /// <summary>Applies a condition the way Azure does, with Azure's status codes and error codes.</summary>
    private static void Check(string operation, string container, string blob, BlobCondition? condition, string? current)
    {
        if (condition is null)
        {
            return;
        }

        if (condition.IfMatch is { } match && !(match == "*" ? current is not null : current == match))
        {
            throw new ArtifactConditionFailedException(operation, container, blob, 412, "ConditionNotMet",
                current is null
                    ? "The blob does not exist, so it cannot match the given ETag."
                    : $"The blob's ETag is {current}, not {condition.IfMatch}.");
        }

        if (condition.IfNoneMatch == "*" && current is not null)
        {
            throw new ArtifactConditionFailedException(operation, container, blob, 409, "BlobAlreadyExists",
                "The specified blob already exists.");
        }

        if (condition.IfNoneMatch is { } noneMatch && noneMatch != "*" && current == noneMatch)
        {
            throw new ArtifactConditionFailedException(operation, container, blob, 412, "ConditionNotMet",
                $"The blob's ETag is {current}, which the condition excludes.");
        }
    }

    /// <summary>Blob "a" and blob "a/b" cannot both be a file here; refuse clearly instead of failing in the rename.</summary>
    private void RequireNoPathConflict(string operation, string container, string blob, string target)
    {
        var containerRoot = ContainerPath(container);
        if (Directory.Exists(target))
        {
            throw new ArtifactStoreException(operation, container, blob, 409, "BlobPathConflict",
                $"The folder store already holds blobs named '{blob}/…', so '{blob}' cannot also be a blob.");
        }

        for (var parent = Path.GetDirectoryName(target); parent is not null && parent != containerRoot;
             parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                var other = Path.GetRelativePath(containerRoot, parent).Replace(Path.DirectorySeparatorChar, '/');
                throw new ArtifactStoreException(operation, container, blob, 409, "BlobPathConflict",
                    $"The folder store already holds blob '{other}', so it cannot also be a folder of blobs.");
            }
        }
    }

    private void RequireContainer(string operation, string container, string blob)
    {
        if (!Directory.Exists(ContainerPath(container)))
        {
            throw new ArtifactNotFoundException(operation, container, blob, 404, "ContainerNotFound",
                "The specified container does not exist.");
        }
    }

    private ArtifactNotFoundException NotFound(string operation, string container, string blob) =>
        Directory.Exists(ContainerPath(container))
            ? new ArtifactNotFoundException(operation, container, blob, 404, "BlobNotFound", "The specified blob does not exist.")
            : new ArtifactNotFoundException(operation, container, blob, 404, "ContainerNotFound", "The specified container does not exist.");

    private static ArtifactStoreException DiskError(string operation, string container, string blob, Exception e) =>
        new(operation, container, blob, null, "IOError", e.Message, e);

    private string ContainerPath(string container)
    {
        ArtifactNames.ValidateContainer(container);
        return Path.Combine(Root, container);
    }

    private string BlobPath(string container, string blob)
    {
        ArtifactNames.ValidateBlob(blob);
        var containerRoot = ContainerPath(container);
        var path = Path.GetFullPath(Path.Combine(containerRoot, blob.Replace('/', Path.DirectorySeparatorChar)));
        // The name rules already forbid escapes; this guards the invariant itself.
        if (!path.StartsWith(containerRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Blob name '{blob}' escapes the store's folder '{containerRoot}'.", nameof(blob));
        }

        return path;
    }

    private Task<IDisposable> LockAsync(string container, CancellationToken cancellationToken) =>
        ContainerLock.AcquireAsync(Path.Combine(_locks, container + ".lock"), cancellationToken);

    private static void RemoveEmptyFolders(string folder, string containerRoot)
    {
        for (var current = folder; current != containerRoot && Directory.Exists(current)
                                   && !Directory.EnumerateFileSystemEntries(current).Any();
             current = Path.GetDirectoryName(current)!)
        {
            Directory.Delete(current);
        }
    }

    private void RemoveStaleStagingFiles()
    {
        // Left by writers that crashed; an upload running for a day is not plausible here.
        foreach (var file in new DirectoryInfo(_staging).EnumerateFiles("*.tmp"))
        {
            if (DateTime.UtcNow - file.LastWriteTimeUtc > StaleStagingAge)
            {
                file.Delete();
            }
        }
    }

    private static BlobProperties ToProperties(string name, FolderBlobHeader header, long length) =>
        new(name, length, header.ETag, header.LastModified, header.ContentType,
            new Dictionary<string, string>(header.Metadata, StringComparer.OrdinalIgnoreCase));

    private static string NewETag() => $"\"{Guid.NewGuid():N}\"";
}
