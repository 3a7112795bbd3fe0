using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Pipeline.ServiceDefaults.Telemetry;

/// <summary>
/// Renders OpenTelemetry metrics in the Prometheus text exposition format (0.0.4). A pull exporter: its reader
/// gives it <see cref="Collect"/>, which the /metrics endpoint calls; the reader then calls <see cref="Export"/>
/// on the same thread. (The OpenTelemetry Prometheus exporter package is not in the NuGet copy here.)
/// </summary>
[ExportModes(ExportModes.Pull)]
public sealed class PrometheusTextExporter : BaseExporter<Metric>, IPullMetricExporter
{
    private string lastScrape = "";

    /// <summary>Set by the reader: collects and exports, returning false on failure.</summary>
    public Func<int, bool>? Collect { get; set; }

    /// <summary>The text rendered by the last collection.</summary>
    public string LastScrape => lastScrape;

    public override ExportResult Export(in Batch<Metric> batch)
    {
        var text = new StringBuilder();
        foreach (var metric in batch) Write(text, metric);
        lastScrape = text.ToString();
        return ExportResult.Success;
    }

    private static void Write(StringBuilder text, Metric metric)
    {
        var name = MetricName(metric);
        var isCounter = metric.MetricType is MetricType.LongSum or MetricType.DoubleSum;
        var isHistogram = metric.MetricType == MetricType.Histogram;
        if (metric.MetricType == MetricType.ExponentialHistogram) return; // not representable in the text format
        if (isCounter) name += "_total";
        if (!string.IsNullOrEmpty(metric.Description))
            text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(metric.Description)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(isCounter ? "counter" : isHistogram ? "histogram" : "gauge").Append('\n');

        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            switch (metric.MetricType)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    Sample(text, name, labels, null, point.GetSumLong());
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    Sample(text, name, labels, null, point.GetSumDouble());
                    break;
                case MetricType.LongGauge:
                    Sample(text, name, labels, null, point.GetGaugeLastValueLong());
                    break;
                case MetricType.DoubleGauge:
                    Sample(text, name, labels, null, point.GetGaugeLastValueDouble());
                    break;
                case MetricType.Histogram:
                    long cumulative = 0;
                    foreach (var bucket in point.GetHistogramBuckets())
                    {
                        cumulative += bucket.BucketCount;
                        var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                        Sample(text, name + "_bucket", labels, $"le=\"{le}\"", cumulative);
                    }
                    Sample(text, name + "_sum", labels, null, point.GetHistogramSum());
                    Sample(text, name + "_count", labels, null, point.GetHistogramCount());
                    break;
            }
        }
    }

    private static void Sample(StringBuilder text, string name, string labels, string? extra, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || extra is not null)
        {
            text.Append('{').Append(labels);
            if (extra is not null) text.Append(labels.Length > 0 ? "," : "").Append(extra);
            text.Append('}');
        }
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Labels(ReadOnlyTagCollection tags)
    {
        var text = new StringBuilder();
        foreach (var tag in tags)
        {
            if (text.Length > 0) text.Append(',');
            text.Append(Sanitize(tag.Key)).Append("=\"").Append(EscapeLabel(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return text.ToString();
    }

    /// <summary>OpenTelemetry's naming mapped to Prometheus': dots become underscores, units become suffixes.</summary>
    internal static string MetricName(Metric metric)
    {
        var name = Sanitize(metric.Name);
        var suffix = metric.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            "%" => "_percent",
            _ => "",
        };
        return suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal) ? name + suffix : name;
    }

    internal static string Sanitize(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name) text.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':' ? c : '_');
        if (text.Length > 0 && char.IsAsciiDigit(text[0])) text.Insert(0, '_');
        return text.ToString();
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    private static string EscapeLabel(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
