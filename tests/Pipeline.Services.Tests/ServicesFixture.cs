using System.Net.Http.Json;
using System.Text.Json;
using System.Globalization;
using Pipeline.Tests.Support;

namespace Pipeline.Services.Tests;

/// <summary>The test classes that share one running system.</summary>
[CollectionDefinition(Name)]
public sealed class ServicesCollection : ICollectionFixture<ServicesFixture>
{
    public const string Name = "services";
}

/// <summary>RabbitMQ, Azurite and the services as real processes: the AppHost's graph, started once (for all the classes
/// of the collection) through Aspire.Hosting.Testing.</summary>
public sealed class ServicesFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key-0123456789";
    /// <summary>What all stored uploads may hold together in the tests' system (the default is 32 GiB).</summary>
    public const long UploadQuota = 1L << 30;
    public const int TrainerReplicas = 2;
    public PipelineApp App { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var run = Path.Combine(Path.GetTempPath(), "pipeline-tests", "services-" + Guid.NewGuid().ToString("N")[..8]);
        // The AppHost's own graph with the tests' settings: tests write their dataset folders under the temp folder (the
        // service reads no other folder of the machine), a smaller upload quota, and a group that waits at most 120 s for a live member.
        App = await PipelineApp.StartAsync(run,
        [
            $"--PIPELINE_API_KEY={ApiKey}",
            $"--PIPELINE_DATASET_ROOTS={Path.GetTempPath()}",
            $"--PIPELINE_UPLOAD_QUOTA_BYTES={UploadQuota.ToString(CultureInfo.InvariantCulture)}",
            $"--PIPELINE_TRAINER_REPLICAS={TrainerReplicas.ToString(CultureInfo.InvariantCulture)}",
            // Collectives wait this long for a live member: rank 0 validating a detector and storing its checkpoint kept
            // the others waiting over 20 s on a loaded machine. A killed member is noticed by its missing heartbeat
            // (1.5 s) whatever this says.
            "--PIPELINE_DIST_TIMEOUT=120",
        ], TimeSpan.FromMinutes(8), "rabbitmq", "blobs", "ingest", "preprocess", "trainer", "evaluator");
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
        var run = App.RunDirectory;
        await App.DisposeAsync();
        Directory.Delete(run, recursive: true);
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
