using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Pipeline.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry wired by hand (the hosting-extension and instrumentation packages are not in the NuGet copy):
/// metrics from our meters, ASP.NET Core, HttpClient, MassTransit and the runtime, scraped at /metrics;
/// traces and logs exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, as under Aspire.
/// </summary>
public static class TelemetryRegistration
{
    /// <summary>Meters and activity sources every service reports.</summary>
    public static readonly string[] Sources =
        ["Pipeline.*", "MassTransit", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "System.Runtime"];

    public static IHostApplicationBuilder AddPipelineTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName;
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName, serviceInstanceId: Environment.GetEnvironmentVariable("PIPELINE_REPLICA_INDEX") ?? "0");

        var exporter = new PrometheusTextExporter();
        var reader = new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
        var meters = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(Sources).AddReader(reader);
        if (otlp) meters.AddOtlpExporter();
        var meterProvider = meters.Build();

        var traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource)
            .AddSource("Pipeline.*", "MassTransit", "Microsoft.AspNetCore", "System.Net.Http")
            .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()));
        if (otlp) traces.AddOtlpExporter();
        var tracerProvider = traces.Build();

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.SetResourceBuilder(resource);
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            if (otlp) logging.AddOtlpExporter();
        });

        // The container disposes the providers at shutdown, flushing what is pending.
        builder.Services.AddSingleton(meterProvider);
        builder.Services.AddSingleton(tracerProvider);
        builder.Services.AddSingleton(new MetricsScrapeEndpoint(exporter));
        Activity.DefaultIdFormat = ActivityIdFormat.W3C;
        return builder;
    }
}
