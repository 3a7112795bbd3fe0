using System.Security.Cryptography;
using Pipeline.Hosting;

// The system's resource graph: infrastructure first, then the services that meet through it.
var builder = DistributedApplication.CreateBuilder(args);

var rabbit = builder.AddRabbitMQ("rabbitmq");
var blobs = builder.AddAzurite("storage").AddBlobs("blobs");

// One key per run (or the caller's), shared by the API and the CLI.
var apiKey = Environment.GetEnvironmentVariable("PIPELINE_API_KEY") is { Length: > 0 } given
    ? given
    : Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

// The evaluator also serves predictions; the API reaches it by reference and the key guards both.
var evaluator = builder.AddProject("evaluator", "src/Pipeline.Evaluator")
    .WithReference(rabbit).WithReference(blobs)
    .WaitFor(rabbit).WaitFor(blobs)
    .WithEnvironment("PIPELINE_API_KEY", apiKey);

// Two replicas: a job submitted with --trainers 2 trains on both as one data-parallel group.
const int trainerReplicas = 2;

// The folders of this machine that jobs may name by path: the bundled datasets, and the user's own given as
// PIPELINE_DATASET_ROOTS (':'-separated). Anything else comes as an upload.
var datasetRoots = string.Join(':', new[] { "/usr/share/datasets", Environment.GetEnvironmentVariable("PIPELINE_DATASET_ROOTS") }
    .Where(r => !string.IsNullOrWhiteSpace(r)));

// The job registry lives in the ingest service's data folder.
var ingest = builder.AddProject("ingest", "src/Pipeline.Ingest")
    .WithReference(rabbit).WithReference(blobs).WithReference(evaluator)
    .WaitFor(rabbit).WaitFor(blobs)
    .WithEnvironment("PIPELINE_API_KEY", apiKey)
    .WithEnvironment("PIPELINE_DATASET_ROOTS", datasetRoots)
    .WithEnvironment("PIPELINE_TRAINER_REPLICAS", trainerReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture))
    .WithDataVolume();

builder.AddProject("preprocess", "src/Pipeline.Preprocess")
    .WithReference(rabbit).WithReference(blobs)
    .WaitFor(rabbit).WaitFor(blobs);

builder.AddProject("trainer", "src/Pipeline.Trainer")
    .WithReference(rabbit).WithReference(blobs)
    .WaitFor(rabbit).WaitFor(blobs)
    .WithReplicas(trainerReplicas)
    .WithGpu();

var prometheus = builder.AddPrometheus("prometheus");

// The dashboard calls the jobs API with the key server-side: the browser only holds the dashboard's token.
builder.AddDashboard()
    .WithJobsApi(ingest, apiKey)
    .WithMetrics(prometheus)
    .WithBundledDataset("Fashion-MNIST", "/usr/share/datasets/fashion-mnist");

var app = builder.Build();
_ = PrintClientSettingsAsync(app, apiKey);
await app.RunAsync();

// What the CLI needs, once the API answers.
static async Task PrintClientSettingsAsync(DistributedApplication app, string apiKey)
{
    try
    {
        await app.Resources.WaitForResourceHealthyAsync("ingest");
        Console.WriteLine($"PIPELINE_URL={app.GetEndpoint("ingest")}");
        Console.WriteLine($"PIPELINE_API_KEY={apiKey}");
    }
    catch (InvalidOperationException)
    {
        // The ingest service failed to start: the reporter has said why.
    }
}

/// <summary>Named so that tests can start this graph: DistributedApplicationTestingBuilder.CreateAsync&lt;Program&gt;().</summary>
public partial class Program;
