using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Pipeline.Ingest;
using Pipeline.Ingest.Api;
using Pipeline.Ingest.Consumers;
using Pipeline.Ingest.Registry;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
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
builder.Services.AddSingleton<DatasetIngestor>();

var apiKey = builder.Configuration["PIPELINE_API_KEY"];
if (string.IsNullOrWhiteSpace(apiKey))
{
    apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
    Console.WriteLine($"PIPELINE_API_KEY is not set; this run's key is {apiKey}");
}
builder.Services.AddSingleton(new ApiKey(apiKey));

var app = builder.Build();
await app.Services.GetRequiredService<JobRegistry>().InitializeAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
app.UseMiddleware<ApiKeyMiddleware>();
app.MapDefaultEndpoints();
app.MapJobsApi();
await app.RunAsync().ConfigureAwait(false);
