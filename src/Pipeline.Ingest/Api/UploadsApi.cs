using Microsoft.AspNetCore.Http.Features;
using Pipeline.Storage;

namespace Pipeline.Ingest.Api;

/// <summary>
/// <c>POST /api/uploads?name=data.zip</c>: the request body (a .zip, .tar, .tar.gz or .tgz) streamed into the store.
/// The answer's <c>source</c> is what <c>POST /api/jobs</c> takes to train on it; the archive is read and validated
/// when the job is ingested.
/// </summary>
public static class UploadsApi
{
    public const string Container = "uploads";
    public const string SourcePrefix = "blob:" + Container + "/";
    private static readonly string[] ArchiveExtensions = [".zip", ".tar", ".tar.gz", ".tgz"];

    public sealed record UploadView(string Source, string Name, long Bytes);

    public static void MapUploadsApi(this WebApplication app, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapPost("/api/uploads", async (HttpContext context, string? name, IArtifactStore store, CancellationToken cancellationToken) =>
        {
            var fileName = Path.GetFileName(name ?? "");
            if (fileName.Length == 0 || fileName != name || !ArchiveExtensions.Any(e => fileName.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
                return Results.Problem($"name '{name}' must be a plain file name ending in {string.Join(", ", ArchiveExtensions)}", statusCode: 400);
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
            if (context.Request.ContentLength is { } declared && declared > maxBytes)
                return Results.Problem($"{fileName}: {declared} bytes is over the upload limit of {maxBytes} bytes", statusCode: 413);

            await store.CreateContainerIfMissingAsync(Container, cancellationToken).ConfigureAwait(false);
            var blob = $"{Guid.NewGuid():N}/{fileName}";
            try
            {
                await store.UploadAsync(Container, blob, context.Request.Body, new UploadOptions { ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Results.Problem($"{fileName}: over the upload limit of {maxBytes} bytes", statusCode: 413);
            }
            var stored = await store.GetPropertiesAsync(Container, blob, cancellationToken).ConfigureAwait(false);
            if (stored is null || stored.Length == 0)
            {
                await store.DeleteAsync(Container, blob, cancellationToken: cancellationToken).ConfigureAwait(false);
                return Results.Problem($"{fileName}: the upload is empty", statusCode: 400);
            }
            return Results.Created($"/api/uploads/{blob}", new UploadView(SourcePrefix + blob, fileName, stored.Length));
        });
    }
}
