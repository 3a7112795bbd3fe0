using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Pipeline.Services.Tests;

/// <summary>
/// The hostile-input suite: broken and malicious datasets, recipes, API requests and paths, each sent to the running
/// services and the datasets and recipes also to local <c>pipeline train</c>. Each must end in one clear error that
/// names the file or field; no service may restart, the ingest service must stay under 1 GB resident, and a good job
/// must succeed afterwards.
/// </summary>
[Collection(ServicesCollection.Name)]
public sealed class HostileInputTests(ServicesFixture fixture) : IDisposable
{
    private const long IngestMemoryLimit = 1L << 30;
    private readonly string dir = Directory.CreateTempSubdirectory("hostile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task Each_hostile_input_gets_one_clear_error_the_services_stay_up_and_small_and_a_good_job_succeeds_after()
    {
        var corpus = new HostileCorpus(dir);
        var restartsBefore = Restarts();
        using var memory = new PeakResidentMemory(fixture.App.ServicePid("ingest"));
        var wrong = new List<string>();
        var items = 0;

        // Datasets, through the services: the CLI uploads each (a folder as a tar of its dataset files).
        var datasets = corpus.Datasets();
        var submitted = new List<(HostileDataset Dataset, string Job)>();
        foreach (var dataset in datasets)
        {
            items++;
            var (code, stdout, stderr) = await fixture.CliAsync("submit", dataset.Path, "--task", dataset.Task);
            if (code == 0) submitted.Add((dataset, stdout.Trim()));
            else Check(wrong, $"submit {Name(dataset)}", stderr, Name(dataset), dataset.Expected);
        }
        foreach (var (dataset, job) in submitted)
        {
            var view = (await fixture.WaitForJobAsync(job, "Failed", "Prepared", "Training", "Succeeded")).GetProperty("job");
            if (view.GetProperty("state").GetString() != "Failed") wrong.Add($"{Name(dataset)}: the job was not refused but {view.GetProperty("state").GetString()}");
            else Check(wrong, $"job of {Name(dataset)}", view.GetProperty("reason").GetString() ?? "", Name(dataset), dataset.Expected);
        }

        // The same datasets, trained locally: the same readers and validation, the same errors.
        foreach (var dataset in datasets)
        {
            var output = Path.Combine(dir, "runs", Name(dataset));
            var (code, _, stderr) = await Task.Run(() => Pipeline.Cli.CliApp.RunCaptured("train", dataset.Path, "--task", dataset.Task, "--epochs", "1",
                "--limit", "4", "--output", output));
            if (code == 0) wrong.Add($"local train of {Name(dataset)} exited 0");
            else Check(wrong, $"local train of {Name(dataset)}", stderr, Name(dataset), dataset.Expected);
        }

        // Recipes: refused at submit, naming the key or the problem; and locally from a file.
        var good = Path.Combine(dir, "good-folder");
        foreach (var (cls, red) in new[] { ("red", true), ("blue", false) })
        {
            Directory.CreateDirectory(Path.Combine(good, cls));
            for (var k = 0; k < 6; k++) File.WriteAllBytes(Path.Combine(good, cls, $"{k}.png"), HostileCorpus.Png(red ? k : 100 + k, 12, 12, red));
        }
        foreach (var (name, recipe, expected) in Recipes())
        {
            items++;
            using var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path = good, task = "classify", recipeYaml = recipe });
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.BadRequest) wrong.Add($"recipe {name}: answered {(int)response.StatusCode} {body}");
            else Check(wrong, $"recipe {name}", Detail(body), "recipe", expected);
            if (name == "base") continue; // a local recipe file may name its own bases
            var file = Path.Combine(dir, $"{name}.yaml");
            await File.WriteAllTextAsync(file, recipe);
            var (code, _, stderr) = await Task.Run(() => Pipeline.Cli.CliApp.RunCaptured("train", good, "--config", file, "--limit", "4", "--output", Path.Combine(dir, "runs", name)));
            if (code == 0) wrong.Add($"local train with recipe {name} exited 0");
            else Check(wrong, $"local train with recipe {name}", stderr, file, expected);
        }

        // API requests and paths: refused with problem details naming the field, never a stack trace.
        foreach (var (name, request, status, expected) in Requests(good))
        {
            items++;
            using var response = await fixture.Http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != status) wrong.Add($"{name}: answered {(int)response.StatusCode}, not {(int)status}: {body}");
            else if (status != HttpStatusCode.NotFound) Check(wrong, name, Detail(body), "", expected);
            if (body.Contains("   at ", StringComparison.Ordinal)) wrong.Add($"{name}: the answer holds a stack trace");
            request.Dispose();
        }

        Assert.True(items >= 40, $"only {items} hostile inputs");
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {items} hostile inputs were not refused as they should be:\n{string.Join("\n", wrong)}");
        Assert.Equal(restartsBefore, Restarts());
        Assert.True(memory.Peak < IngestMemoryLimit, $"ingest reached {memory.Peak >> 20} MiB resident");

        // The services are still up: a good dataset right after trains to an evaluated model.
        var (goodCode, goodOut, goodErr) = await fixture.CliAsync("submit", good, "--wait", "--json", "--epochs=2", "--input.size=[12,12]",
            "--model.name=small_cnn", "--model.width=4", "--batch_size=4");
        Assert.True(goodCode == 0, $"{goodErr}\n{goodOut}");
        Assert.Equal("Succeeded", JsonDocument.Parse(goodOut.Trim().Split('\n')[^1]).RootElement.GetProperty("state").GetString());
    }

    private static IEnumerable<(string Name, string Recipe, string Expected)> Recipes()
    {
        var laughs = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (var k = 1; k <= 9; k++)
            laughs.Append(CultureInfo.InvariantCulture, $"a{k}: &a{k} [{string.Join(", ", Enumerable.Repeat($"*a{k - 1}", 10))}]\n");
        return
        [
            ("base", "_base_: /etc/hostname\nepochs: 2\n", "self-contained"),
            ("oversized", "epochs: 2\n" + new string('#', 300_000) + "\n", "over the limit"),
            ("deep", "x: " + new string('[', 5000) + new string(']', 5000) + "\n", "nest deeper"),
            ("alias-bomb", laughs.ToString(), "expands to more than"),
            ("unknown-key", "optimizer:\n  lrr: 0.1\n", "optimizer.lrr"),
            ("bad-value", "epochs: many\n", "epochs"),
            ("bad-task", "task: segment\n", "task"),
            ("not-a-map", "- just\n- a list\n", "a recipe must be a map"),
            ("bad-yaml", "epochs: [1, 2\n", "invalid YAML"),
        ];
    }

    private IEnumerable<(string Name, HttpRequestMessage Request, HttpStatusCode Status, string Expected)> Requests(string good)
    {
        HttpRequestMessage Json(string url, object body) => new(HttpMethod.Post, new Uri(url, UriKind.Relative)) { Content = JsonContent.Create(body) };
        HttpRequestMessage Get(string url) => new(HttpMethod.Get, new Uri(url, UriKind.Relative));
        HttpRequestMessage Upload(string name, byte[] body) =>
            new(HttpMethod.Post, new Uri($"/api/uploads?name={Uri.EscapeDataString(name)}", UriKind.Relative)) { Content = new ByteArrayContent(body) };
        var missing = Guid.NewGuid();
        return
        [
            ("path outside the roots", Json("/api/jobs", new { path = "/etc" }), HttpStatusCode.BadRequest, "not under the service's dataset folders"),
            ("path climbing out of a root", Json("/api/jobs", new { path = "/usr/share/datasets/../../etc/passwd" }), HttpStatusCode.BadRequest, "not under the service's dataset folders"),
            ("relative path", Json("/api/jobs", new { path = "datasets/fashion" }), HttpStatusCode.BadRequest, "must be absolute"),
            ("no dataset", Json("/api/jobs", new { task = "classify" }), HttpStatusCode.BadRequest, "'source'"),
            ("malformed source", Json("/api/jobs", new { source = "blob:datasets/ds-1/raw/x.zip" }), HttpStatusCode.BadRequest, "is not an upload"),
            ("missing upload", Json("/api/jobs", new { source = $"blob:uploads/{missing:N}/x.zip" }), HttpStatusCode.BadRequest, "no such upload"),
            ("zero trainers", Json("/api/jobs", new { path = good, trainers = 0 }), HttpStatusCode.BadRequest, "trainers"),
            ("unknown task", Json("/api/jobs", new { path = good, task = "segment" }), HttpStatusCode.BadRequest, "task 'segment' is unknown"),
            ("unknown format", Json("/api/jobs", new { path = good, format = "bmpfolder" }), HttpStatusCode.BadRequest, "bmpfolder"),
            ("upload that is not a zip", Upload("data.zip", "{}"u8.ToArray()), HttpStatusCode.BadRequest, "not a zip archive"),
            ("upload named with a path", Upload("../data.zip", "PK\u0003\u0004"u8.ToArray()), HttpStatusCode.BadRequest, "plain file name"),
            ("upload of an unknown kind", Upload("data.rar", "Rar!"u8.ToArray()), HttpStatusCode.BadRequest, "plain file name ending in"),
            ("empty upload", Upload("data.zip", []), HttpStatusCode.BadRequest, "empty"),
            ("list limit not a number", Get("/api/jobs?limit=abc"), HttpStatusCode.BadRequest, "limit"),
            ("artifact name with a backslash", Get($"/api/jobs/{missing}/artifacts/a%5Cb"), HttpStatusCode.BadRequest, "artifact name"),
            ("artifact of no job", Get($"/api/jobs/{missing}/artifacts/model/best.safetensors"), HttpStatusCode.NotFound, ""),
            ("predict top not a number", Json($"/api/jobs/{missing}/predict?top=abc", new { }), HttpStatusCode.BadRequest, "top"),
            ("malformed job JSON", new HttpRequestMessage(HttpMethod.Post, new Uri("/api/jobs", UriKind.Relative)) { Content = new StringContent("{\"path\": [1,", Encoding.UTF8, "application/json") }, HttpStatusCode.BadRequest, ""),
        ];
    }

    private int Restarts() => fixture.App.Crashes;

    private static string Name(HostileDataset dataset) => Path.GetFileName(dataset.Path);

    private static string Detail(string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body;
        }
    }

    /// <summary>The error must name <paramref name="file"/> and say <paramref name="expected"/>, and be one error: not a
    /// stack trace.</summary>
    private static void Check(List<string> wrong, string what, string error, string file, string expected)
    {
        if (!error.Contains(file, StringComparison.Ordinal) || !error.Contains(expected, StringComparison.OrdinalIgnoreCase))
            wrong.Add($"{what}: expected an error naming '{file}' and saying '{expected}', got: {error.Trim()}");
        else if (error.Contains("   at ", StringComparison.Ordinal) || error.Contains("Exception:", StringComparison.Ordinal))
            wrong.Add($"{what}: the error holds a stack trace or an exception's type: {error.Trim()}");
    }

    /// <summary>Samples a process's resident memory (VmRSS) until disposed; <see cref="Peak"/> is the highest seen.</summary>
    private sealed class PeakResidentMemory : IDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task sampler;
        private long peak;

        public PeakResidentMemory(int pid) => sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is not null)
                    Interlocked.Exchange(ref peak, Math.Max(Interlocked.Read(ref peak), long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024));
                try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { break; }
            }
        });

        public long Peak => Interlocked.Read(ref peak);

        public void Dispose()
        {
            stop.Cancel();
            sampler.Wait();
            stop.Dispose();
        }
    }
}
