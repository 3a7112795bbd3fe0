namespace Pipeline.ServiceDefaults.Telemetry;

/// <summary>Collects on demand and returns the Prometheus text; one scrape at a time.</summary>
public sealed class MetricsScrapeEndpoint(PrometheusTextExporter exporter)
{
    private readonly Lock gate = new();

    public string Scrape()
    {
        lock (gate)
        {
            var collect = exporter.Collect ?? throw new InvalidOperationException("the metrics reader is not attached (provider disposed?)");
            return collect(5000) ? exporter.LastScrape : throw new InvalidOperationException("metrics collection failed");
        }
    }
}
