using Pipeline.Storage;

namespace Pipeline.Ingest;

/// <summary>
/// A submission's source as a local path: <c>path:/abs/folder-or-archive</c> as given, or <c>blob:container/name</c>
/// (an uploaded archive) downloaded to a temporary file that disposing deletes.
/// </summary>
public sealed class LocalSource : IAsyncDisposable
{
    private readonly string? temporaryFolder;

    private LocalSource(string path, string describe, string? temporaryFolder)
    {
        Path = path;
        Describe = describe;
        this.temporaryFolder = temporaryFolder;
    }

    /// <summary>The folder or archive file to read.</summary>
    public string Path { get; }

    /// <summary>How messages name the source (the user's path, or the blob).</summary>
    public string Describe { get; }

    public string FileName => System.IO.Path.GetFileName(Path);

    public static async Task<LocalSource> ResolveAsync(IArtifactStore store, DatasetRoots roots, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(roots);
        ArgumentNullException.ThrowIfNull(source);
        if (source.StartsWith("path:", StringComparison.Ordinal))
        {
            var path = source["path:".Length..];
            // Checked again here: the message may have waited in the queue while the roots changed.
            if (roots.Refusal(path) is { } refusal) throw new DatasetRejectedException(refusal);
            if (!Directory.Exists(path) && !File.Exists(path)) throw new DatasetRejectedException($"{path}: no such folder or archive");
            return new LocalSource(path, path, null);
        }
        if (source.StartsWith("blob:", StringComparison.Ordinal))
        {
            var (container, name) = BlobPaths.Split(source["blob:".Length..]);
            if (await store.GetPropertiesAsync(container, name, cancellationToken).ConfigureAwait(false) is null)
                throw new DatasetRejectedException($"{source}: the uploaded archive is not in the store");
            var folder = Directory.CreateTempSubdirectory("pipeline-ingest-").FullName;
            try
            {
                // The archive keeps its name: its extension says how to open it.
                var path = System.IO.Path.Combine(folder, System.IO.Path.GetFileName(name));
                await using (var input = await store.DownloadAsync(container, name, null, cancellationToken).ConfigureAwait(false))
                await using (var output = File.Create(path))
                    await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
                return new LocalSource(path, source, folder);
            }
            catch
            {
                Directory.Delete(folder, recursive: true);
                throw;
            }
        }
        throw new DatasetRejectedException($"{source}: unknown source (expected path:/absolute/path or blob:container/name)");
    }

    public ValueTask DisposeAsync()
    {
        if (temporaryFolder is not null && Directory.Exists(temporaryFolder)) Directory.Delete(temporaryFolder, recursive: true);
        return ValueTask.CompletedTask;
    }
}
