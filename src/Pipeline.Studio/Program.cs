using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Pipeline.ServiceDefaults;
using Pipeline.Studio;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

// Started by hand, with no address given: this machine only (the token is the one lock on the jobs and the key).
if (!StudioHosting.HasConfiguredAddress(builder.Configuration))
{
    builder.WebHost.UseUrls(StudioHosting.LocalAddress);
}

var settings = StudioSettings.From(builder.Configuration);
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton<StudioLogin>();
builder.Services.AddSingleton<JobsApiProxy>();
builder.Services.AddSingleton<QueueMetrics>();
builder.Services.AddHttpClient(JobsApiProxy.PollClient, c => c.Timeout = TimeSpan.FromSeconds(30));
// Browser requests pass through once, however long (an upload): no retry (a body is read once), no timeout. Taking the
// defaults' resilience handler off one client is what RemoveAllResilienceHandlers is for; it is marked experimental.
#pragma warning disable EXTEXP0001
builder.Services.AddHttpClient(JobsApiProxy.ProxyClient, c => c.Timeout = Timeout.InfiniteTimeSpan).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
builder.Services.AddHttpClient(QueueMetrics.Client, c => c.Timeout = TimeSpan.FromSeconds(30));

var app = builder.Build();
var login = app.Services.GetRequiredService<StudioLogin>();
app.Use(login.InvokeAsync);
app.MapDefaultEndpoints();

app.MapGet("/", () => StudioHosting.Asset("index.html", "text/html; charset=utf-8"));
app.MapGet("/assets/{name}", (string name) => StudioHosting.Asset(name, name.EndsWith(".css", StringComparison.Ordinal) ? "text/css" : "text/javascript"));
app.MapGet("/api/config", () => Results.Json(new
{
    jobs = settings.JobsApi is not null,
    metrics = settings.Prometheus is not null,
    datasets = settings.BundledDatasets.Where(d => Directory.Exists(d.Value)).Select(d => new { name = d.Key, path = d.Value }),
}, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
app.Services.GetRequiredService<JobsApiProxy>().Map(app);
app.MapGet("/api/metrics", (QueueMetrics metrics, CancellationToken cancellationToken) => metrics.QueryAsync(cancellationToken));

// A token nobody was given: the only way in is the link printed here.
app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    foreach (var address in addresses)
    {
        Console.WriteLine(settings.TokenGenerated
            ? $"Studio: {address.TrimEnd('/')}/login?t={settings.Token} ({StudioSettings.TokenKey} was not set; this run's token)"
            : $"Studio: {address.TrimEnd('/')}/ (log in with the link holding {StudioSettings.TokenKey})");
    }
});

await app.RunAsync().ConfigureAwait(false);
