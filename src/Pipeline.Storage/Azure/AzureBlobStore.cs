using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Xml.Linq;
using Polly;

namespace Pipeline.Storage;

/// <summary>
/// The artifact store on Azure Blob Storage (or Azurite), spoken over its REST API with Shared Key
/// authorization. Uploads up to <see cref="AzureBlobStoreOptions.BlockSize"/> go up in one Put Blob;
/// larger ones stream block by block and become visible at once with a single Put Block List.
/// </summary>
public sealed class AzureBlobStore : IArtifactStore, IDisposable
{
    /// <summary>The REST API version we speak; Azure and Azurite 3.37 both accept it.</summary>
    public const string ServiceVersion = "2025-01-05";

    private const string DefaultContentType = "application/octet-stream";

    private readonly StorageConnectionString _connection;
    private readonly AzureBlobStoreOptions _options;
    private readonly SharedKeySigner _signer;
    private readonly ResiliencePipeline<HttpResponseMessage> _resilience;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly string _endpoint;

    /// <summary>Connects with an Azure-format connection string (see <see cref="StorageConnectionString"/>).</summary>
    public AzureBlobStore(string connectionString, AzureBlobStoreOptions? options = null)
        : this(StorageConnectionString.Parse(connectionString), options)
    {
    }

    /// <param name="connection">Account, key and endpoint.</param>
    /// <param name="options">Block size, page size, retries.</param>
    /// <param name="httpClient">A client to share (the caller disposes it); by default the store owns one.</param>
    public AzureBlobStore(StorageConnectionString connection, AzureBlobStoreOptions? options = null, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _options = options ?? new AzureBlobStoreOptions();
        _options.Validate();
        _signer = new SharedKeySigner(connection.AccountName, connection.AccountKey);
        _resilience = BlobRetry.Create(_options);
        _endpoint = connection.BlobEndpoint.AbsoluteUri.TrimEnd('/');
        _ownsHttp = httpClient is null;
        // Our per-attempt timeout governs; an HttpClient timeout would also cut off streamed downloads.
        _http = httpClient ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public async Task<bool> CreateContainerIfMissingAsync(string container, CancellationToken cancellationToken = default)
    {
        ArtifactNames.ValidateContainer(container);
        using var response = await SendAsync("Create", container, null,
            () => Request(HttpMethod.Put, container, null, "restype=container"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Conflict && ErrorCodeOf(response) == "ContainerAlreadyExists")
        {
            return false;
        }

        await EnsureSuccessAsync(response, "Create", container, null, hadCondition: false, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<string> UploadAsync(string container, string blob, Stream content, UploadOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        Validate(container, blob);
        ArtifactNames.ValidateMetadata(options?.Metadata);
        options ??= new UploadOptions();

        var size = _options.BlockSize;
        var current = ArrayPool<byte>.Shared.Rent(size);
        var next = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var filled = await FillAsync(content, current, size, cancellationToken).ConfigureAwait(false);
            var more = filled < size ? 0 : await FillAsync(content, next, size, cancellationToken).ConfigureAwait(false);
            if (more == 0)
            {
                return await PutBlobAsync(container, blob, current.AsMemory(0, filled), options, cancellationToken).ConfigureAwait(false);
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
                await Task.WhenAll(PutBlockAsync(container, blob, blockId, current.AsMemory(0, filled), cancellationToken), ahead)
                    .ConfigureAwait(false);
                (current, next) = (next, current);
                filled = await ahead.ConfigureAwait(false);
                ahead = filled == size ? FillAsync(content, next, size, cancellationToken) : Task.FromResult(0);
            }

            return await PutBlockListAsync(container, blob, blockIds, options, cancellationToken).ConfigureAwait(false);
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
        var response = await SendAsync("Download", container, blob, () =>
        {
            var request = Request(HttpMethod.Get, container, blob);
            if (range is { } r)
            {
                var end = r.Length is { } length ? (r.Offset + length - 1).ToString(CultureInfo.InvariantCulture) : "";
                request.Headers.Add("x-ms-range", string.Create(CultureInfo.InvariantCulture, $"bytes={r.Offset}-{end}"));
            }

            return request;
        }, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        try
        {
            await EnsureSuccessAsync(response, "Download", container, blob, hadCondition: false, cancellationToken).ConfigureAwait(false);
            var length = response.Content.Headers.ContentLength
                         ?? throw new ArtifactStoreException("Download", container, blob, (int)response.StatusCode, null,
                             "The response has no Content-Length.");
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new ArtifactReadStream(body, length, response);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public async Task<BlobProperties?> GetPropertiesAsync(string container, string blob, CancellationToken cancellationToken = default)
    {
        Validate(container, blob);
        using var response = await SendAsync("Get properties", container, blob,
            () => Request(HttpMethod.Head, container, blob), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccessAsync(response, "Get properties", container, blob, hadCondition: false, cancellationToken).ConfigureAwait(false);
        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.NonValidated)
        {
            if (name.StartsWith("x-ms-meta-", StringComparison.OrdinalIgnoreCase))
            {
                metadata[name["x-ms-meta-".Length..]] = string.Join(",", values);
            }
        }

        var headers = response.Content.Headers;
        return new BlobProperties(
            blob,
            headers.ContentLength ?? 0,
            ETagOf(response) ?? "",
            headers.LastModified ?? DateTimeOffset.MinValue,
            headers.NonValidated.TryGetValues("Content-Type", out var type) ? type.ToString() : null,
            metadata);
    }

    public async IAsyncEnumerable<BlobProperties> ListAsync(string container, string? prefix = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArtifactNames.ValidateContainer(container);
        ArtifactNames.ValidatePrefix(prefix);
        string? marker = null;
        do
        {
            var query = new StringBuilder("restype=container&comp=list&include=metadata");
            AppendQuery(query, "prefix", prefix);
            AppendQuery(query, "marker", marker);
            AppendQuery(query, "maxresults", _options.ListPageSize?.ToString(CultureInfo.InvariantCulture));
            using var response = await SendAsync("List", container, null,
                () => Request(HttpMethod.Get, container, null, query.ToString()), cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, "List", container, null, hadCondition: false, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var page = await ListBlobsPage.ParseAsync(body, cancellationToken).ConfigureAwait(false);
            foreach (var blob in page.Blobs)
            {
                yield return blob;
            }

            marker = page.NextMarker;
        }
        while (marker is not null);
    }

    public async Task<bool> DeleteAsync(string container, string blob, BlobCondition? condition = null,
        CancellationToken cancellationToken = default)
    {
        Validate(container, blob);
        using var response = await SendAsync("Delete", container, blob, () =>
        {
            var request = Request(HttpMethod.Delete, container, blob);
            AddCondition(request, condition);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, "Delete", container, blob, condition is not null, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> ExistsAsync(string container, string blob, CancellationToken cancellationToken = default) =>
        await GetPropertiesAsync(container, blob, cancellationToken).ConfigureAwait(false) is not null;

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task<string> PutBlobAsync(string container, string blob, ReadOnlyMemory<byte> data, UploadOptions options,
        CancellationToken cancellationToken)
    {
        using var response = await SendAsync("Upload", container, blob, () =>
        {
            var request = Request(HttpMethod.Put, container, blob);
            request.Headers.Add("x-ms-blob-type", "BlockBlob");
            AddBlobHeaders(request, options);
            request.Content = new ReadOnlyMemoryContent(data);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        return await CommittedETagAsync(response, container, blob, options.Condition, cancellationToken).ConfigureAwait(false);
    }

    private async Task PutBlockAsync(string container, string blob, string blockId, ReadOnlyMemory<byte> data,
        CancellationToken cancellationToken)
    {
        var query = new StringBuilder("comp=block");
        AppendQuery(query, "blockid", blockId);
        using var response = await SendAsync("Upload block of", container, blob, () =>
        {
            var request = Request(HttpMethod.Put, container, blob, query.ToString());
            request.Content = new ReadOnlyMemoryContent(data);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, "Upload block of", container, blob, hadCondition: false, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> PutBlockListAsync(string container, string blob, List<string> blockIds, UploadOptions options,
        CancellationToken cancellationToken)
    {
        var xml = new XDocument(new XElement("BlockList", blockIds.Select(id => new XElement("Latest", id))));
        var body = Encoding.UTF8.GetBytes(xml.ToString(SaveOptions.DisableFormatting));
        using var response = await SendAsync("Upload", container, blob, () =>
        {
            var request = Request(HttpMethod.Put, container, blob, "comp=blocklist");
            AddBlobHeaders(request, options);
            request.Content = new ByteArrayContent(body);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        return await CommittedETagAsync(response, container, blob, options.Condition, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> CommittedETagAsync(HttpResponseMessage response, string container, string blob,
        BlobCondition? condition, CancellationToken cancellationToken)
    {
        // If-Match on a missing blob: the service says "not found", the contract says the condition failed.
        if (condition?.IfMatch is not null && response.StatusCode == HttpStatusCode.NotFound
                                           && ErrorCodeOf(response) == "BlobNotFound")
        {
            throw new ArtifactConditionFailedException("Upload", container, blob, 404, "BlobNotFound",
                "The blob does not exist, so it cannot match the given ETag.");
        }

        await EnsureSuccessAsync(response, "Upload", container, blob, condition is not null, cancellationToken).ConfigureAwait(false);
        return ETagOf(response)
               ?? throw new ArtifactStoreException("Upload", container, blob, (int)response.StatusCode, null, "The response has no ETag.");
    }

    /// <summary>Runs one request through the retry pipeline; a connection that never answers becomes an <see cref="ArtifactStoreException"/>.</summary>
    private async Task<HttpResponseMessage> SendAsync(string operation, string container, string? blob,
        Func<HttpRequestMessage> build, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        try
        {
            return await _resilience.ExecuteAsync(async token =>
            {
                using var request = build();
                _signer.Sign(request);
                return await _http.SendAsync(request, completion, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (e is ArtifactStoreException or ArgumentException)
            {
                throw;
            }

            throw new ArtifactStoreException(operation, container, blob, null, null,
                $"The blob service at {_endpoint} did not answer after {_options.MaxRetries + 1} attempts: {e.Message}", e);
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string container, string? blob, string? query = null)
    {
        var path = blob is null ? container : $"{container}/{EscapePath(blob)}";
        var request = new HttpRequestMessage(method, new Uri(query is null ? $"{_endpoint}/{path}" : $"{_endpoint}/{path}?{query}"));
        request.Headers.Add("x-ms-date", DateTimeOffset.UtcNow.ToString("R", CultureInfo.InvariantCulture));
        request.Headers.Add("x-ms-version", ServiceVersion);
        return request;
    }

    private static void AddBlobHeaders(HttpRequestMessage request, UploadOptions options)
    {
        request.Headers.Add("x-ms-blob-content-type", options.ContentType ?? DefaultContentType);
        foreach (var (name, value) in options.Metadata ?? new Dictionary<string, string>())
        {
            request.Headers.Add("x-ms-meta-" + name, value);
        }

        AddCondition(request, options.Condition);
    }

    private static void AddCondition(HttpRequestMessage request, BlobCondition? condition)
    {
        if (condition?.IfMatch is { } match)
        {
            request.Headers.TryAddWithoutValidation("If-Match", match);
        }

        if (condition?.IfNoneMatch is { } noneMatch)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", noneMatch);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string operation, string container, string? blob,
        bool hadCondition, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var code = ErrorCodeOf(response);
        string? detail = null;
        if (response.RequestMessage?.Method != HttpMethod.Head)
        {
            // <Error><Code/><Message/></Error>; the message's first line says it, the rest is request ids.
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var error = XDocument.Parse(text).Root;
                code ??= error?.Element("Code")?.Value;
                detail = error?.Element("Message")?.Value.Split('\n')[0];
            }
            catch (System.Xml.XmlException)
            {
                detail = text.Length > 200 ? text[..200] : text;
            }
        }

        throw ArtifactStoreException.FromResponse(operation, container, blob, (int)response.StatusCode, code,
            detail ?? response.ReasonPhrase, hadCondition);
    }

    private static string? ErrorCodeOf(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("x-ms-error-code", out var values) ? values.ToString() : null;

    private static string? ETagOf(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("ETag", out var values) ? values.ToString() : null;

    private static void Validate(string container, string blob)
    {
        ArtifactNames.ValidateContainer(container);
        ArtifactNames.ValidateBlob(blob);
    }

    private static string EscapePath(string blob) => string.Join('/', blob.Split('/').Select(Uri.EscapeDataString));

    private static void AppendQuery(StringBuilder query, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            query.Append('&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
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
