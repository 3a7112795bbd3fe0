using Microsoft.EntityFrameworkCore;
using Pipeline.Ingest;
using Pipeline.Ingest.Api;
using Pipeline.Ingest.Consumers;
using Pipeline.Ingest.Registry;
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
});

// The registry: SQLite in the service's data folder (PIPELINE_DATA_DIR, set by the AppHost) so jobs survive restarts.
var dataDir = builder.Configuration["PIPELINE_DATA_DIR"] ?? Path.Combine(AppContext.BaseDirectory, "data");
Directory.CreateDirectory(dataDir);
builder.Services.AddDbContextFactory<JobRegistryDbContext>(options => options.UseSqlite($"Data Source={Path.Combine(dataDir, "jobs.db")}"));
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<JobRegistry>();
builder.Services.AddSingleton(DatasetRoots.FromConfiguration(builder.Configuration));
builder.Services.AddSingleton<DatasetIngestor>();
builder.Services.AddHostedService<UploadExpiry>();
builder.Services.AddSingleton<Pipeline.Artifacts.JobArtifacts>();
builder.Services.AddHttpClient("evaluator", client => client.Timeout = TimeSpan.FromMinutes(2));

builder.AddApiKey();

var app = builder.Build();
await app.Services.GetRequiredService<JobRegistry>().InitializeAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
app.UseApiKey();
app.MapDefaultEndpoints();
app.MapJobsApi();
app.MapPredictProxy();
app.MapUploadsApi(builder.Configuration.GetValue(UploadsApi.MaxBytesVariable, 8L << 30), builder.Configuration.GetValue(UploadsApi.QuotaVariable, 32L << 30));
await app.RunAsync().ConfigureAwait(false);
