using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Sources;

namespace Pipeline.Cli.Client;

/// <summary>A call to the system's API that did not succeed; the message says what the server answered.</summary>
public sealed class PipelineApiException(string message, HttpStatusCode? status = null) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;
}

/// <summary>
/// The system's HTTP API as the CLI uses it: jobs, uploads, artifacts and predictions. It finds the system through
/// <c>PIPELINE_URL</c> and <c>PIPELINE_API_KEY</c>, which the AppHost prints at start.
/// </summary>
public sealed class PipelineClient : IDisposable
{
    public const string UrlVariable = "PIPELINE_URL";
    public const string KeyVariable = "PIPELINE_API_KEY";

    private readonly HttpClient http;

    public PipelineClient(Uri baseAddress, string apiKey, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = baseAddress;
        http.Timeout = Timeout.InfiniteTimeSpan;
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
    }

    /// <summary>The client for the explicit settings, else the environment's; throws naming what is missing.</summary>
    public static PipelineClient FromSettings(string? url, string? apiKey)
    {
        url ??= Environment.GetEnvironmentVariable(UrlVariable);
        apiKey ??= Environment.GetEnvironmentVariable(KeyVariable);
        if (string.IsNullOrWhiteSpace(url))
            throw new PipelineApiException($"{UrlVariable} is not set: start the system with `dotnet run --project AppHost` and export the PIPELINE_URL it prints (or pass --url)");
        if (string.IsNullOrWhiteSpace(apiKey))
            throw new PipelineApiException($"{KeyVariable} is not set: export the PIPELINE_API_KEY the AppHost prints (or pass --api-key)");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new PipelineApiException($"{UrlVariable} '{url}' is not an http(s) URL");
        return new PipelineClient(uri, apiKey);
    }

    public async Task<JsonElement> SubmitAsync(object request, CancellationToken cancellationToken) =>
        await SendJsonAsync(HttpMethod.Post, "/api/jobs", JsonContent.Create(request), cancellationToken).ConfigureAwait(false);

    /// <summary>Streams an archive to the store; returns the source a submission names it by.</summary>
    public async Task<string> UploadAsync(string archive, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(archive);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = file.Length;
        var answer = await SendJsonAsync(HttpMethod.Post, $"/api/uploads?name={Uri.EscapeDataString(Path.GetFileName(archive))}", content, cancellationToken).ConfigureAwait(false);
        return answer.GetProperty("source").GetString() ?? throw new PipelineApiException("the upload answer has no source");
    }

    /// <summary>Streams a dataset folder as a tar archive of its dataset files (images, label and IDX files) without writing
    /// it anywhere first; returns the source. A linked file leading outside the folder refuses the upload, naming it, as the
    /// server refuses such a folder: leaving it out silently would train on less than the user sees.</summary>
    public async Task<string> UploadFolderAsync(string folder, CancellationToken cancellationToken)
    {
        using var source = new FolderSource(folder);
        var outside = source.Problems.Where(p => p.Kind == Vision.Data.Validation.ProblemKind.LinkOutsideDataset).ToList();
        if (outside.Count > 0)
            throw new PipelineApiException(string.Join(Environment.NewLine, outside) +
                Environment.NewLine + $"{folder}: not uploaded; copy the linked files into the folder, or name a folder on the server with --server-path");
        var files = source.Files.Where(DatasetLoader.IsDatasetFile).ToList();
        if (files.Count == 0) throw new PipelineApiException($"{folder}: no dataset files (images, label or IDX files) in the folder");
        using var content = new FolderTarContent(Path.GetFullPath(folder), files);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        var name = Path.GetFileName(Path.GetFullPath(folder).TrimEnd('/'));
        var answer = await SendJsonAsync(HttpMethod.Post, $"/api/uploads?name={Uri.EscapeDataString((name.Length == 0 ? "dataset" : name) + ".tar")}", content, cancellationToken).ConfigureAwait(false);
        return answer.GetProperty("source").GetString() ?? throw new PipelineApiException("the upload answer has no source");
    }

    /// <summary>A tar stream of files under a folder, written straight into the request.</summary>
    private sealed class FolderTarContent(string root, IReadOnlyList<string> files) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true);
            foreach (var file in files)
                await writer.WriteEntryAsync(Path.Combine(root, file), file, cancellationToken).ConfigureAwait(false);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Posts a sweep (<c>POST /api/sweeps</c>); returns its SweepView.</summary>
    public async Task<JsonElement> SubmitSweepAsync(object request, CancellationToken cancellationToken) =>
        await SendJsonAsync(HttpMethod.Post, "/api/sweeps", JsonContent.Create(request), cancellationToken).ConfigureAwait(false);

    public Task<JsonElement> SweepsAsync(int limit, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"/api/sweeps?limit={limit}", null, cancellationToken);

    /// <summary>A sweep's SweepDetail: the sweep, its searched keys, trials, events and best trial.</summary>
    public Task<JsonElement> SweepAsync(string sweep, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"/api/sweeps/{Id(sweep, "sweep", "pipeline sweeps")}", null, cancellationToken);

    /// <summary>Cancels every trial of a sweep that has not finished.</summary>
    public Task<JsonElement> CancelSweepAsync(string sweep, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Post, $"/api/sweeps/{Id(sweep, "sweep", "pipeline sweeps")}/cancel", null, cancellationToken);

    public Task<JsonElement> JobsAsync(int limit, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"/api/jobs?limit={limit}", null, cancellationToken);

    public Task<JsonElement> JobAsync(string job, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"/api/jobs/{Id(job)}", null, cancellationToken);

    public Task<JsonElement> CancelAsync(string job, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Post, $"/api/jobs/{Id(job)}/cancel", null, cancellationToken);

    public Task<JsonElement> ArtifactsAsync(string job, CancellationToken cancellationToken) =>
        SendJsonAsync(HttpMethod.Get, $"/api/jobs/{Id(job)}/artifacts", null, cancellationToken);

    /// <summary>Downloads one artifact to <paramref name="path"/> (through a temporary file, so a failure leaves nothing half-written).</summary>
    public async Task DownloadAsync(string job, string name, string path, CancellationToken cancellationToken)
    {
        var escaped = string.Join('/', name.Split('/').Select(Uri.EscapeDataString));
        using var response = await http.GetAsync(new Uri($"/api/jobs/{Id(job)}/artifacts/{escaped}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        var temp = path + ".part";
        await using (var output = File.Create(temp))
            await response.Content.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }

    /// <param name="top">Classes (classifier) or boxes at most (detector); null: the server's default.</param>
    /// <param name="minScore">A detector's boxes scoring below this are left out; null: the server's default.</param>
    public async Task<JsonElement> PredictAsync(string job, string image, int? top, double? minScore, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(image, cancellationToken).ConfigureAwait(false);
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var query = string.Join("&", new[] { top is { } t ? $"top={t}" : null, minScore is { } m ? FormattableString.Invariant($"min_score={m}") : null }.OfType<string>());
        return await SendJsonAsync(HttpMethod.Post, $"/api/jobs/{Id(job)}/predict{(query.Length > 0 ? "?" + query : "")}", content, cancellationToken).ConfigureAwait(false);
    }

    private async Task<JsonElement> SendJsonAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new PipelineApiException($"cannot reach the system at {http.BaseAddress}: {e.Message} (is the AppHost running, and {UrlVariable} right?)");
        }
        using (response)
        {
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength == 0) return default;
            return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var detail = body;
        try
        {
            using var problem = JsonDocument.Parse(body);
            if (problem.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (problem.RootElement.TryGetProperty("detail", out var d)) detail = d.GetString() ?? body;
                else if (problem.RootElement.TryGetProperty("error", out var e)) detail = e.GetString() ?? body;
            }
        }
        catch (JsonException)
        {
            // Not JSON: the body as it is.
        }
        var status = (int)response.StatusCode;
        var message = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"401 unauthorized: the API key was refused (check {KeyVariable})",
            HttpStatusCode.NotFound when detail.Length == 0 => $"404: not found ({response.RequestMessage?.RequestUri?.AbsolutePath})",
            _ => $"{status} {response.ReasonPhrase}: {(detail.Length == 0 ? "(no details)" : detail)}",
        };
        throw new PipelineApiException(message, response.StatusCode);
    }

    // Job and sweep ids are GUIDs; a clear message beats a 404 for a typo.
    private static string Id(string job, string what = "job", string lister = "pipeline jobs") => Guid.TryParse(job, out var id) ? id.ToString()
        : throw new PipelineApiException($"'{job}' is not a {what} id (a GUID, as `{lister}` lists them)");

    public void Dispose() => http.Dispose();
}
