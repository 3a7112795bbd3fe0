using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace Pipeline.Storage;

/// <summary>
/// The artifact store on Azure Blob Storage (or Azurite), through the Azure.Storage.Blobs SDK. Uploads
/// up to <see cref="AzureBlobStoreOptions.BlockSize"/> go up in one Put Blob; larger ones are staged block
/// by block and become visible at once when the block list is committed, so a reader never sees a part.
/// </summary>
public sealed class AzureBlobStore : IArtifactStore, IDisposable
{
    /// <summary>The REST API version we ask for; Azure and Azurite 3.37 both accept it (the SDK's default is newer than Azurite knows).</summary>
    public const BlobClientOptions.ServiceVersion ServiceVersion = BlobClientOptions.ServiceVersion.V2025_01_05;

    private const string DefaultContentType = "application/octet-stream";

    private readonly AzureBlobStoreOptions _options;
    private readonly BlobServiceClient _service;
    private readonly string _endpoint;

    /// <summary>Connects with an Azure Storage connection string (AccountName/AccountKey/BlobEndpoint, or UseDevelopmentStorage=true).</summary>
    /// <exception cref="FormatException">The connection string is malformed or lacks an account.</exception>
    public AzureBlobStore(string connectionString, AzureBlobStoreOptions? options = null)
        : this(connectionString, options, handler: null)
    {
    }

    /// <param name="connectionString">Account, key and endpoint.</param>
    /// <param name="options">Block size, page size, retries.</param>
    /// <param name="handler">Where requests go instead of the SDK's own transport (tests inject faults here); the caller disposes it.</param>
    internal AzureBlobStore(string connectionString, AzureBlobStoreOptions? options, HttpMessageHandler? handler)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        _options = options ?? new AzureBlobStoreOptions();
        _options.Validate();
        var client = new BlobClientOptions(ServiceVersion)
        {
            Retry =
            {
                Mode = RetryMode.Exponential,
                MaxRetries = _options.MaxRetries,
                Delay = _options.RetryDelay,
                MaxDelay = _options.MaxRetryDelay,
                NetworkTimeout = _options.AttemptTimeout,
            },
        };
        if (handler is not null)
        {
            client.Transport = new HttpClientTransport(handler);
        }

        _service = new BlobServiceClient(connectionString, client);
        // The SDK takes any absolute BlobEndpoint; fail at start, not at the first request.
        if (_service.Uri.Scheme is not ("http" or "https"))
        {
            throw new FormatException($"Connection string key 'BlobEndpoint' is not an http(s) URL: '{_service.Uri}'.");
        }

        _endpoint = _service.Uri.AbsoluteUri.TrimEnd('/');
    }

    /// <summary>The blob service the connection string names.</summary>
    internal Uri Endpoint => _service.Uri;

    public async Task<bool> CreateContainerIfMissingAsync(string container, CancellationToken cancellationToken = default)
    {
        ArtifactNames.ValidateContainer(container);
        try
        {
            // Null means it was already there.
            return await _service.GetBlobContainerClient(container)
                .CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (Exception e) when (IsServiceFailure(e, cancellationToken))
        {
            throw Map(e, "Create", container, null, hadCondition: false);
        }
    }

    public async Task<string> UploadAsync(string container, string blob, Stream content, UploadOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        Validate(container, blob);
        ArtifactNames.ValidateMetadata(options?.Metadata);
        options ??= new UploadOptions();
        var client = _service.GetBlobContainerClient(container).GetBlockBlobClient(blob);

        var size = _options.BlockSize;
        var current = ArrayPool<byte>.Shared.Rent(size);
        var next = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var filled = await FillAsync(content, current, size, cancellationToken).ConfigureAwait(false);
            var more = filled < size ? 0 : await FillAsync(content, next, size, cancellationToken).ConfigureAwait(false);
            if (more == 0)
            {
                // A seekable copy of the buffer, so the SDK can rewind it on a retry.
                using var single = new MemoryStream(current, 0, filled, writable: false);
                var uploaded = await client.UploadAsync(single, new BlobUploadOptions
                {
                    HttpHeaders = Headers(options),
                    Metadata = Metadata(options),
                    Conditions = Conditions(options.Condition),
                }, cancellationToken).ConfigureAwait(false);
                return uploaded.Value.ETag.ToString("H");
            }

            // A random upload id in every block id keeps concurrent writers of the same blob from
            // overwriting each other's uncommitted blocks; all ids have the same length, as Azure requires.
            var uploadId = Guid.NewGuid();
            var blockIds = new List<string>();
            var ahead = Task.FromResult(more); // `next` already holds the block after `current`
            while (filled > 0)
            {
                var blockId = BlockId(uploadId, blockIds.Count);
                blockIds.Add(blockId);
                // The next block is read from the source while this one goes up; both finish before
                // either buffer is touched again.
                await Task.WhenAll(StageAsync(client, blockId, current, filled, cancellationToken), ahead).ConfigureAwait(false);
                (current, next) = (next, current);
                filled = await ahead.ConfigureAwait(false);
                ahead = filled == size ? FillAsync(content, next, size, cancellationToken) : Task.FromResult(0);
            }

            var committed = await client.CommitBlockListAsync(blockIds, new CommitBlockListOptions
            {
                HttpHeaders = Headers(options),
                Metadata = Metadata(options),
                Conditions = Conditions(options.Condition),
            }, cancellationToken).ConfigureAwait(false);
            return committed.Value.ETag.ToString("H");
        }
        catch (Exception e) when (IsServiceFailure(e, cancellationToken))
        {
            // If-Match on a missing blob: the service says "not found", the contract says the condition failed.
            if (options.Condition?.IfMatch is not null && e is RequestFailedException { Status: 404, ErrorCode: "BlobNotFound" })
            {
                throw new ArtifactConditionFailedException("Upload", container, blob, 404, "BlobNotFound",
                    "The blob does not exist, so it cannot match the given ETag.");
            }

            throw Map(e, "Upload", container, blob, options.Condition is not null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    public async Task<Stream> DownloadAsync(string container, string blob, ByteRange? range = null,
        CancellationToken cancellationToken = default)
    {
        Validate(container, blob);
        range?.Validate();
        BlobDownloadStreamingResult result;
        try
        {
            var client = _service.GetBlobContainerClient(container).GetBlobClient(blob);
            var httpRange = range is { } r ? new HttpRange(r.Offset, r.Length) : default;
            result = (await client.DownloadStreamingAsync(new BlobDownloadOptions { Range = httpRange }, cancellationToken)
                .ConfigureAwait(false)).Value;
        }
        catch (Exception e) when (IsServiceFailure(e, cancellationToken))
        {
            throw Map(e, "Download", container, blob, hadCondition: false);
        }

        // The SDK's stream resumes a dropped read itself (pinned to this ETag); ours keeps the length honest.
        return new ArtifactReadStream(result.Content, result.Details.ContentLength, result);
    }

    public async Task<BlobProperties?> GetPropertiesAsync(string container, string blob, CancellationToken cancellationToken = default)
    {
        Validate(container, blob);
        try
        {
            var properties = (await _service.GetBlobContainerClient(container).GetBlobClient(blob)
                .GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return new BlobProperties(blob, properties.ContentLength, properties.ETag.ToString("H"), properties.LastModified,
                properties.ContentType, CaseInsensitive(properties.Metadata));
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (Exception e) when (IsServiceFailure(e, cancellationToken))
        {
            throw Map(e, "Get properties", container, blob, hadCondition: false);
        }
    }

    public async IAsyncEnumerable<BlobProperties> ListAsync(string container, string? prefix = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArtifactNames.ValidateContainer(container);
        ArtifactNames.ValidatePrefix(prefix);
        var pages = _service.GetBlobContainerClient(container)
            .GetBlobsAsync(BlobTraits.Metadata, BlobStates.None, string.IsNullOrEmpty(prefix) ? null : prefix, cancellationToken)
            .AsPages(pageSizeHint: _options.ListPageSize);
        var enumerator = pages.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            while (true)
            {
                // Each page is a request; a failure there must name the container like every other call.
                bool more;
                try
                {
                    more = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (IsServiceFailure(e, cancellationToken))
                {
                    throw Map(e, "List", container, null, hadCondition: false);
                }

                if (!more)
                {
                    yield break;
                }

                foreach (var item in enumerator.Current.Values)
                {
                    var p = item.Properties;
                    yield return new BlobProperties(item.Name, p.ContentLength ?? 0, p.ETag?.ToString("H") ?? "",
                        p.LastModified ?? DateTimeOffset.MinValue, p.ContentType, CaseInsensitive(item.Metadata));
                }
            }
        }
    }

    public async Task<bool> DeleteAsync(string container, string blob, BlobCondition? condition = null,
        CancellationToken cancellationToken = default)
    {
        Validate(container, blob);
        try
        {
            await _service.GetBlobContainerClient(container).GetBlobClient(blob)
                .DeleteAsync(DeleteSnapshotsOption.None, Conditions(condition), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
        catch (Exception e) when (IsServiceFailure(e, cancellationToken))
        {
            throw Map(e, "Delete", container, blob, condition is not null);
        }
    }

    public async Task<bool> ExistsAsync(string container, string blob, CancellationToken cancellationToken = default) =>
        await GetPropertiesAsync(container, blob, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>The SDK's clients hold no resources of their own to release; kept so callers' <c>using</c> stays valid.</summary>
    public void Dispose()
    {
    }

    private static async Task StageAsync(BlockBlobClient client, string blockId, byte[] buffer, int count,
        CancellationToken cancellationToken)
    {
        using var block = new MemoryStream(buffer, 0, count, writable: false);
        await client.StageBlockAsync(blockId, block, new BlockBlobStageBlockOptions(), cancellationToken).ConfigureAwait(false);
    }

    private static BlobHttpHeaders Headers(UploadOptions options) => new() { ContentType = options.ContentType ?? DefaultContentType };

    private static Dictionary<string, string>? Metadata(UploadOptions options) =>
        options.Metadata is null ? null : new Dictionary<string, string>(options.Metadata);

    private static BlobRequestConditions? Conditions(BlobCondition? condition) => condition is null
        ? null
        : new BlobRequestConditions
        {
            IfMatch = condition.IfMatch is { } match ? new ETag(match) : null,
            IfNoneMatch = condition.IfNoneMatch switch
            {
                null => null,
                "*" => ETag.All,
                var noneMatch => new ETag(noneMatch),
            },
        };

    private static Dictionary<string, string> CaseInsensitive(IDictionary<string, string>? metadata) =>
        metadata is null
            ? new(StringComparer.OrdinalIgnoreCase)
            : new(metadata, StringComparer.OrdinalIgnoreCase);

    /// <summary>What we turn into an <see cref="ArtifactStoreException"/>; a caller's own cancellation stays a cancellation.</summary>
    private static bool IsServiceFailure(Exception e, CancellationToken cancellationToken) =>
        e is RequestFailedException or AggregateException or IOException or HttpRequestException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private ArtifactStoreException Map(Exception e, string operation, string container, string? blob, bool hadCondition)
    {
        if (e is RequestFailedException { Status: > 0 } failed)
        {
            // The SDK's message: the service's own first line, then status, headers and body; the first line says it.
            var detail = failed.Message.Split('\n', 2)[0].Trim();
            return ArtifactStoreException.FromResponse(operation, container, blob, failed.Status, failed.ErrorCode, detail, hadCondition);
        }

        // No answer at all (status 0, or every retry failed to connect: an AggregateException of those).
        var cause = e is AggregateException { InnerExceptions.Count: > 0 } all ? all.InnerExceptions[^1] : e;
        return new ArtifactStoreException(operation, container, blob, null, null,
            $"The blob service at {_endpoint} did not answer after {_options.MaxRetries + 1} attempts: {cause.Message}", e);
    }

    private static void Validate(string container, string blob)
    {
        ArtifactNames.ValidateContainer(container);
        ArtifactNames.ValidateBlob(blob);
    }

    /// <summary>Base64 of (upload id, block index): unique per upload, equal length for all blocks.</summary>
    private static string BlockId(Guid uploadId, int index)
    {
        Span<byte> raw = stackalloc byte[20];
        uploadId.TryWriteBytes(raw);
        BinaryPrimitives.WriteInt32BigEndian(raw[16..], index);
        return Convert.ToBase64String(raw);
    }

    /// <summary>Reads until <paramref name="buffer"/> holds <paramref name="size"/> bytes or the stream ends.</summary>
    private static async Task<int> FillAsync(Stream content, byte[] buffer, int size, CancellationToken cancellationToken) =>
        await content.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
}
