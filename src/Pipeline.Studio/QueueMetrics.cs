using System.Globalization;
using System.Text.Json;

namespace Pipeline.Studio;

/// <summary>What the Aspire dashboard cannot show: the broker's queue depths (RabbitMQ's Prometheus plugin) and the
/// trainers' own throughput and GPU gauges, as range queries against Prometheus for the last 15 minutes.</summary>
public sealed class QueueMetrics(StudioSettings settings, IHttpClientFactory clients)
{
    public const string Client = "prometheus";

    /// <summary>One chart: a range query, a series per value of <paramref name="By"/>; with
    /// <paramref name="IdleAuxiliaryHidden"/>, series named with an underscore are shown only while they are above 0.</summary>
    private sealed record Panel(string Id, string Title, string Unit, string Query, string By, string Empty, bool IdleAuxiliaryHidden = false);

    private static readonly Panel[] Panels =
    [
        new("throughput", "Training throughput per trainer", "1/s", "sum by (replica) (pipeline_trainer_throughput_per_second)", "replica",
            "no trainer is training"),
        // MassTransit's error, skipped and per-instance queues have an underscore in their names; the services' own none.
        new("queues", "Queue depth (ready + unacknowledged)", "messages", "sum by (queue) (rabbitmq_queue_messages)", "queue",
            "no queue data from the broker", IdleAuxiliaryHidden: true),
        new("gpu", "GPU utilisation per trainer", "ratio", "max by (replica, gpu) (pipeline_gpu_utilization_ratio)", "replica,gpu",
            "no GPU: the trainers found none through NVML"),
        new("gpu-memory", "GPU memory used per trainer", "bytes", "max by (replica, gpu) (pipeline_gpu_memory_used_bytes)", "replica,gpu",
            "no GPU: the trainers found none through NVML"),
    ];

    /// <summary>How far back the charts reach, and their resolution (Prometheus scrapes every 5 s).</summary>
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(15), Step = TimeSpan.FromSeconds(5);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<IResult> QueryAsync(CancellationToken cancellationToken)
    {
        if (settings.Prometheus is not { } baseUri)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No Prometheus",
                detail: $"the studio has no Prometheus to ask ({StudioSettings.PrometheusKey} is not set)");
        }
        var end = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var start = end - (long)Window.TotalSeconds;
        var http = clients.CreateClient(Client);
        var panels = await Task.WhenAll(Panels.Select(async panel =>
        {
            var url = new Uri(baseUri, string.Create(CultureInfo.InvariantCulture,
                $"api/v1/query_range?query={Uri.EscapeDataString(panel.Query)}&start={start}&end={end}&step={Step.TotalSeconds}"));
            try
            {
                using var response = await http.GetAsync(url, cancellationToken).ConfigureAwait(false);
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                if (!response.IsSuccessStatusCode)
                {
                    var reason = doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : response.ReasonPhrase;
                    return new PanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, [], $"Prometheus: {reason}");
                }
                var series = doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
                    .Select(r => Series(panel, r))
                    .Where(s => s is not null && Shown(panel, s))
                    .Select(s => s!)
                    .OrderBy(s => s.Label, StringComparer.Ordinal)
                    .ToList();
                return new PanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, series, null);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or KeyNotFoundException
                or Polly.ExecutionRejectedException // timed out, or its circuit open
                || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested)) // Prometheus did not answer in time
            {
                return new PanelView(panel.Id, panel.Title, panel.Unit, panel.Query, panel.Empty, [], e.Message);
            }
        })).ConfigureAwait(false);
        return Results.Json(new { start, end, panels }, Json);
    }

    private sealed record SeriesView(string Label, IReadOnlyList<double[]> Points);

    private sealed record PanelView(string Id, string Title, string Unit, string Query, string Empty, IReadOnlyList<SeriesView> Series, string? Error);

    /// <summary>A range result as [unix seconds, value] pairs, named by the panel's labels (e.g. "trainer-1", "trainer-0 gpu 0").</summary>
    private static SeriesView? Series(Panel panel, JsonElement result)
    {
        var labels = result.GetProperty("metric");
        var label = string.Join(" ", panel.By.Split(',').Select(key =>
            labels.TryGetProperty(key, out var v) ? (key is "replica" or "queue" ? v.GetString() : $"{key} {v.GetString()}") : null).Where(v => v is not null));
        var points = result.GetProperty("values").EnumerateArray()
            .Select(p => new[] { p[0].GetDouble(), double.TryParse(p[1].GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : double.NaN })
            .Where(p => double.IsFinite(p[1]))
            .ToList();
        return points.Count == 0 ? null : new SeriesView(label.Length > 0 ? label : "(all)", points);
    }

    private static bool Shown(Panel panel, SeriesView series) =>
        !panel.IdleAuxiliaryHidden || !series.Label.Contains('_', StringComparison.Ordinal) || series.Points.Any(p => p[1] > 0);
}
