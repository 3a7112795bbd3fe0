using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pipeline.AppHost.Hosting;

/// <summary>The ingest service's jobs API as the AppHost calls it (with the run's API key): the list, a job's metrics,
/// submit and cancel. The shapes are the API's answers (<c>Pipeline.Ingest.Api.JobsApi</c>), read by name.</summary>
public sealed class IngestJobsClient(Func<Uri> ingest, string apiKey) : IDisposable
{
    // A metric may be NaN (a detector's validation loss before it has one), written by name if at all.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString | System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(15) };

    /// <summary>A job as <c>GET /api/jobs</c> lists it.</summary>
    public sealed record Job(Guid Id, string State, string Task, string Source, string? Reason, string? DatasetId, int Trainers,
        DateTime CreatedAt, DateTime UpdatedAt, int? Epoch, long? Step, long? TotalSteps, int? BestEpoch);

    /// <summary>One point of a job's metric curves.</summary>
    public sealed record Metric(string Name, string Split, int Rank, int Epoch, long Step, double Value);

    private sealed record Detail(Job Job, IReadOnlyList<Metric> Metrics);

    /// <summary>The answer to a submission or a cancel: whether it was taken, and the API's words (a problem's detail).</summary>
    public sealed record Answer(bool Accepted, HttpStatusCode Status, string Text, Job? Job);

    /// <summary>The newest jobs of the registry, newest first.</summary>
    public async Task<IReadOnlyList<Job>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, $"api/jobs?limit={limit}");
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<List<Job>>(Json, cancellationToken).ConfigureAwait(false) ?? [];
    }

    /// <summary>A job's metric points (train loss per reported step, validation metrics per epoch), or null when it is gone.</summary>
    public async Task<IReadOnlyList<Metric>?> MetricsAsync(Guid id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, $"api/jobs/{id}");
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<Detail>(Json, cancellationToken).ConfigureAwait(false))?.Metrics;
    }

    /// <summary>Submits a dataset folder on the ingest service's machine.</summary>
    public async Task<Answer> SubmitAsync(string path, string task, string recipeYaml, int trainers, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, "api/jobs");
        request.Content = JsonContent.Create(new { path, task, recipeYaml, trainers }, options: Json);
        return await AnswerAsync(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Answer> CancelAsync(Guid id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, $"api/jobs/{id}/cancel");
        return await AnswerAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Answer> AnswerAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            var job = body.Length > 0 ? JsonSerializer.Deserialize<Job>(body, Json) : null;
            return new Answer(true, response.StatusCode, body, job);
        }
        return new Answer(false, response.StatusCode, Problem(body) ?? $"{(int)response.StatusCode} {response.ReasonPhrase}", null);
    }

    /// <summary>What a refusal says: a problem's detail, or a conflict's error.</summary>
    private static string? Problem(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            foreach (var name in (string[])["detail", "error", "title"])
            {
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String)
                    return text.GetString();
            }
        }
        catch (JsonException)
        {
        }
        return body.Length > 0 ? body : null;
    }

    private HttpRequestMessage Request(HttpMethod method, string pathAndQuery)
    {
        var request = new HttpRequestMessage(method, new Uri(ingest(), pathAndQuery));
        request.Headers.Add("X-Api-Key", apiKey);
        return request;
    }

    public void Dispose() => http.Dispose();
}
