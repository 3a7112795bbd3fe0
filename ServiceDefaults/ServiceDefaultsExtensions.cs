using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Pipeline.ServiceDefaults.Errors;
using Pipeline.ServiceDefaults.Telemetry;

namespace Pipeline.ServiceDefaults;

/// <summary>
/// The Aspire ServiceDefaults pattern: <c>builder.AddServiceDefaults()</c> at start-up, <c>app.MapDefaultEndpoints()</c>
/// before run. Bus and store are opted into per service (<c>AddPipelineBus</c>, <c>AddArtifactStore</c>).
/// </summary>
public static class ServiceDefaultsExtensions
{
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddPipelineTelemetry();
        builder.AddProblemResponses();
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), tags: ["live"]);
        // Give consumers time to finish the message in hand (a training step, an upload) on SIGTERM.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(30));
        return builder;
    }

    /// <summary><c>/health/live</c> (the process answers), <c>/health/ready</c> (its broker and store too), <c>/metrics</c>.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") || check.Tags.Contains("live") });
        app.MapGet("/metrics", (MetricsScrapeEndpoint metrics) => Results.Text(metrics.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        return app;
    }
}
