using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Http.Resilience;
using Pipeline.Ingest;
using Pipeline.Ingest.Api;
using Pipeline.Ingest.Consumers;
using Pipeline.Ingest.Registry;
using Pipeline.Ingest.Sweeps;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Security;
using Pipeline.ServiceDefaults.Storage;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddArtifactStore();
builder.AddPipelineBus(bus =>
{
    bus.AddConsumer<SubmitDatasetConsumer>().Endpoint(e => e.Name = "ingest");
    bus.AddConsumer<JobEventsConsumer>().Endpoint(e => e.Name = "job-registry");
    bus.AddConsumer<SweepCoordinator>().Endpoint(e => e.Name = "sweeps");
});

// The registry: SQLite in the service's data folder (PIPELINE_DATA_DIR, set by the AppHost) so jobs survive restarts.
var dataDir = builder.Configuration["PIPELINE_DATA_DIR"] ?? Path.Combine(AppContext.BaseDirectory, "data");
Directory.CreateDirectory(dataDir);
builder.Services.AddDbContextFactory<JobRegistryDbContext>(options => options.UseSqlite($"Data Source={Path.Combine(dataDir, "jobs.db")}"));
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<JobRegistry>();
builder.Services.AddDbContextFactory<SweepRegistryDbContext>(options => options.UseSqlite($"Data Source={Path.Combine(dataDir, "sweeps.db")}"));
builder.Services.AddSingleton<SweepRegistry>();
builder.Services.AddHostedService<SweepResumer>();
builder.Services.AddSingleton(DatasetRoots.FromConfiguration(builder.Configuration));
builder.Services.AddSingleton<DatasetIngestor>();
builder.Services.AddHostedService<UploadExpiry>();
builder.Services.AddSingleton<Pipeline.Artifacts.JobArtifacts>();
// The evaluator by name (service discovery reads services:evaluator:http:0). A prediction streams the caller's image
// through once, so its POST is never retried (the body cannot be read twice), and the first prediction of a job loads
// its model: two minutes per attempt instead of the standard 10 s. (RemoveAllResilienceHandlers, marked experimental,
// replaces the defaults' handler rather than nesting a second one.)
#pragma warning disable EXTEXP0001
builder.Services.AddHttpClient("evaluator", client =>
    {
        client.BaseAddress = new Uri("http://evaluator");
        client.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline's timeouts govern
    })
    .RemoveAllResilienceHandlers()
    .AddStandardResilienceHandler(options =>
    {
        options.Retry.DisableForUnsafeHttpMethods();
        options.AttemptTimeout.Timeout = TimeSpan.FromMinutes(2);
        options.TotalRequestTimeout.Timeout = TimeSpan.FromMinutes(2);
        options.CircuitBreaker.SamplingDuration = TimeSpan.FromMinutes(4); // at least twice the attempt timeout
    });
#pragma warning restore EXTEXP0001

builder.AddApiKey();

var app = builder.Build();
await app.Services.GetRequiredService<JobRegistry>().InitializeAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
await app.Services.GetRequiredService<SweepRegistry>().InitializeAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
app.UseApiKey();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapSweepsApi();
app.MapPredictProxy();
app.MapUploadsApi(builder.Configuration.GetValue(UploadsApi.MaxBytesVariable, 8L << 30), builder.Configuration.GetValue(UploadsApi.QuotaVariable, 32L << 30));
await app.RunAsync().ConfigureAwait(false);
