using Microsoft.AspNetCore.Http.Features;
using Pipeline.Storage;

namespace Pipeline.Ingest.Api;

/// <summary>
/// <c>POST /api/uploads?name=data.zip</c>: the request body (a .zip, .tar, .tar.gz or .tgz) streamed into the store.
/// The answer's <c>source</c> is what <c>POST /api/jobs</c> takes to train on it; the archive is read and validated
/// when the job is ingested. The body must start as its name says (a zip, gzip or tar header); one request may hold
/// at most <c>PIPELINE_MAX_UPLOAD_BYTES</c> and all stored uploads together at most <c>PIPELINE_UPLOAD_QUOTA_BYTES</c>.
/// An upload is deleted once its job has ingested it (or refused it), when the request breaks off, and when nothing
/// has submitted it within <c>PIPELINE_UPLOAD_TTL_HOURS</c>.
/// </summary>
public static class UploadsApi
{
    public const string Container = "uploads";
    public const string SourcePrefix = "blob:" + Container + "/";
    public const string MaxBytesVariable = "PIPELINE_MAX_UPLOAD_BYTES";
    public const string QuotaVariable = "PIPELINE_UPLOAD_QUOTA_BYTES";
    private static readonly string[] ArchiveExtensions = [".zip", ".tar", ".tar.gz", ".tgz"];

    public sealed record UploadView(string Source, string Name, long Bytes);

    /// <summary>Whether <paramref name="source"/> names a stored upload in the form this API hands out
    /// (<c>blob:uploads/{32 hex digits}/{file name}</c>).</summary>
    public static bool IsUploadSource(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.StartsWith(SourcePrefix, StringComparison.Ordinal)) return false;
        var parts = source[SourcePrefix.Length..].Split('/');
        return parts.Length == 2 && parts[0].Length == 32 && parts[0].All(char.IsAsciiHexDigitLower) && IsArchiveName(parts[1]);
    }

    /// <summary>Deletes the upload a finished ingest no longer needs (its dataset's raw copy is stored).</summary>
    public static async Task DeleteAsync(IArtifactStore store, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!IsUploadSource(source)) return;
        await store.DeleteAsync(Container, source[SourcePrefix.Length..], cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public static void MapUploadsApi(this WebApplication app, long maxBytes, long quotaBytes)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/uploads", async (HttpContext context, string? name, IArtifactStore store, ILoggerFactory logs, CancellationToken cancellationToken) =>
        {
            var fileName = Path.GetFileName(name ?? "");
            if (fileName.Length == 0 || fileName != name || !IsArchiveName(fileName))
                return Results.Problem($"name '{name}' must be a plain file name ending in {string.Join(", ", ArchiveExtensions)}", statusCode: 400);

            await store.CreateContainerIfMissingAsync(Container, cancellationToken).ConfigureAwait(false);
            long used = 0;
            await foreach (var stored in store.ListAsync(Container, null, cancellationToken).ConfigureAwait(false)) used += stored.Length;
            var allowed = Math.Min(maxBytes, quotaBytes - used);
            if (allowed <= 0 || context.Request.ContentLength is { } declaredToQuota && declaredToQuota > quotaBytes - used)
                return Results.Problem($"{fileName}: stored uploads hold {used} of the {quotaBytes} bytes allowed ({QuotaVariable}); submit or wait for earlier uploads to be cleaned up", statusCode: 413);
            if (context.Request.ContentLength is { } declared && declared > maxBytes)
                return Results.Problem($"{fileName}: {declared} bytes is over the upload limit of {maxBytes} bytes ({MaxBytesVariable})", statusCode: 413);
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = allowed;

            // The first bytes must be what the name says: nothing else is stored.
            var head = new byte[512];
            int got;
            try
            {
                got = await context.Request.Body.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.Problem($"{fileName}: over the upload limit of {allowed} bytes", statusCode: 413);
            }
            if (got == 0) return Results.Problem($"{fileName}: the upload is empty", statusCode: 400);
            if (ContentProblem(fileName, head.AsSpan(0, got)) is { } problem) return Results.Problem($"{fileName}: {problem}", statusCode: 400);

            var blob = $"{Guid.NewGuid():N}/{fileName}";
            try
            {
                await using var body = new PrefixedStream(head, got, context.Request.Body);
                await store.UploadAsync(Container, blob, body, new UploadOptions { ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException or ArtifactStoreException)
            {
                // A broken-off request leaves nothing behind.
                await store.DeleteAsync(Container, blob, cancellationToken: CancellationToken.None).ConfigureAwait(false);
                if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
                    return Results.Problem($"{fileName}: over the upload limit of {allowed} bytes", statusCode: 413);
                logs.CreateLogger(nameof(UploadsApi)).LogWarning("Upload of {Name} broke off: {Error}", fileName, e.Message);
                if (e is OperationCanceledException) throw;
                return Results.Problem($"{fileName}: the upload broke off before its end", statusCode: 400);
            }
            var properties = await store.GetPropertiesAsync(Container, blob, cancellationToken).ConfigureAwait(false);
            return Results.Created($"/api/uploads/{blob}", new UploadView(SourcePrefix + blob, fileName, properties?.Length ?? got));
        });
    }

    private static bool IsArchiveName(string fileName) => ArchiveExtensions.Any(e => fileName.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Why the first bytes are not the archive the name promises, or null.</summary>
    private static string? ContentProblem(string fileName, ReadOnlySpan<byte> head)
    {
        var lower = fileName.ToLowerInvariant();
        if (lower.EndsWith(".zip", StringComparison.Ordinal))
            return head.StartsWith("PK\u0003\u0004"u8) || head.StartsWith("PK\u0005\u0006"u8) ? null : "not a zip archive (it does not start with a zip header)";
        if (lower.EndsWith(".tar.gz", StringComparison.Ordinal) || lower.EndsWith(".tgz", StringComparison.Ordinal))
            return head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B ? null : "not a gzip-compressed tar archive (it does not start with a gzip header)";
        // A POSIX tar header says "ustar" at offset 257 (GNU, ustar and pax archives all do).
        return head.Length >= 262 && head.Slice(257, 5).SequenceEqual("ustar"u8) ? null : "not a tar archive (no ustar header)";
    }

    /// <summary>The bytes already read to check the content, then the rest of the request.</summary>
    private sealed class PrefixedStream(byte[] prefix, int prefixLength, Stream rest) : Stream
    {
        private int offset;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (offset < prefixLength) return Take(buffer);
            return rest.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (offset < prefixLength) return Take(buffer.Span);
            return await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Take(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, prefixLength - offset);
            prefix.AsSpan(offset, n).CopyTo(buffer);
            offset += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Deletes uploads that no job took within <c>PIPELINE_UPLOAD_TTL_HOURS</c> (default 24), once an hour.</summary>
public sealed class UploadExpiry(IArtifactStore store, IConfiguration configuration, TimeProvider time, ILogger<UploadExpiry> logger) : BackgroundService
{
    public const string TtlVariable = "PIPELINE_UPLOAD_TTL_HOURS";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ttl = TimeSpan.FromHours(configuration.GetValue(TtlVariable, 24.0));
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            try
            {
                await ExpireAsync(ttl, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ArtifactStoreException or HttpRequestException or IOException)
            {
                logger.LogWarning("Expiring old uploads failed; trying again in an hour: {Error}", e.Message);
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public async Task<int> ExpireAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        await store.CreateContainerIfMissingAsync(UploadsApi.Container, cancellationToken).ConfigureAwait(false);
        var old = new List<string>();
        await foreach (var blob in store.ListAsync(UploadsApi.Container, null, cancellationToken).ConfigureAwait(false))
            if (time.GetUtcNow() - blob.LastModified > ttl) old.Add(blob.Name);
        foreach (var name in old)
            await store.DeleteAsync(UploadsApi.Container, name, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (old.Count > 0) logger.LogInformation("Deleted {Count} uploads no job took within {Ttl}", old.Count, ttl);
        return old.Count;
    }
}
