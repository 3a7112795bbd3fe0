using System.Net.Http.Json;
using System.Text.Json;
using Pipeline.Hosting;
using Pipeline.Hosting.Testing;

namespace Pipeline.Services.Tests;

/// <summary>The test classes that share one running system.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<ServicesFixture>
{
    public const string Name = "services";
}

/// <summary>RabbitMQ, Azurite and the services as real processes, started once (for all the classes of the collection)
/// through the orchestrator.</summary>
public sealed class ServicesFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key-0123456789";
    /// <summary>What all stored uploads may hold together in the tests' system (the default is 32 GiB).</summary>
    public const long UploadQuota = 1L << 30;
    public const int TrainerReplicas = 2;
    public DistributedApplication App { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var builder = DistributedApplicationTestingBuilder.Create();
        var rabbit = builder.AddRabbitMQ("rabbitmq");
        var blobs = builder.AddAzurite("storage").AddBlobs("blobs");
        var evaluator = builder.AddProject("evaluator", "src/Pipeline.Evaluator")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs)
            .WithEnvironment("PIPELINE_API_KEY", ApiKey);
        builder.AddProject("ingest", "src/Pipeline.Ingest")
            .WithReference(rabbit).WithReference(blobs).WithReference(evaluator).WaitFor(rabbit).WaitFor(blobs)
            .WithEnvironment("PIPELINE_API_KEY", ApiKey)
            // Tests write their dataset folders under the temp folder; the service reads no other folder of the machine.
            .WithEnvironment("PIPELINE_DATASET_ROOTS", $"/usr/share/datasets:{Path.GetTempPath()}")
            .WithEnvironment("PIPELINE_UPLOAD_QUOTA_BYTES", UploadQuota.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("PIPELINE_TRAINER_REPLICAS", TrainerReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("PIPELINE_DATA_DIR", Path.Combine(Path.GetTempPath(), "pipeline-tests", "ingest-" + Guid.NewGuid().ToString("N")[..8]));
        builder.AddProject("preprocess", "src/Pipeline.Preprocess")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs);
        // Two replicas: a job may train as a group of both; a lost member is noticed within 20 s.
        builder.AddProject("trainer", "src/Pipeline.Trainer")
            .WithReference(rabbit).WithReference(blobs).WaitFor(rabbit).WaitFor(blobs)
            .WithReplicas(TrainerReplicas).WithEnvironment("PIPELINE_DIST_TIMEOUT", "20");
        App = await builder.BuildAsync();
        await App.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await App.Resources.WaitForResourceHealthyAsync("ingest", timeout.Token);
        foreach (var service in (string[])["preprocess", "trainer", "evaluator"])
            await App.Resources.WaitForResourceHealthyAsync(service, timeout.Token);
        Http = new HttpClient { BaseAddress = App.GetEndpoint("ingest"), Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
    }

    /// <summary>Runs the <c>pipeline</c> CLI in-process against this system; returns its exit code and output. A call that
    /// outlives <see cref="CliLimit"/> fails the test rather than hanging it.</summary>
    public Task<(int Code, string Stdout, string Stderr)> CliAsync(params string[] args) =>
        Task.Run(() => Pipeline.Cli.CliApp.RunCaptured([.. args, "--url", App.GetEndpoint("ingest").ToString(), "--api-key", ApiKey])).WaitAsync(CliLimit);

    public static readonly TimeSpan CliLimit = TimeSpan.FromMinutes(10);

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>Polls the job until it reaches one of <paramref name="states"/>.</summary>
    public Task<JsonElement> WaitForJobAsync(string id, params string[] states) => WaitForJobAsync(id, TimeSpan.FromMinutes(5), states);

    public async Task<JsonElement> WaitForJobAsync(string id, TimeSpan limit, params string[] states)
    {
        var deadline = DateTime.UtcNow + limit;
        JsonElement job = default;
        while (DateTime.UtcNow < deadline)
        {
            job = await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
            if (states.Contains(job.GetProperty("job").GetProperty("state").GetString())) return job;
            await Task.Delay(250);
        }
        Assert.Fail($"job {id} did not reach {string.Join("/", states)}: {(job.ValueKind == JsonValueKind.Object ? job.GetProperty("job") : job)}");
        return job;
    }
}
