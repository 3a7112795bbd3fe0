using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Pipeline.Training.Recipes;
using Spectre.Console;

namespace Pipeline.Cli.Client;

/// <summary>
/// The commands that talk to a running system: <c>submit</c>, <c>jobs</c>, <c>show</c>, <c>cancel</c>, <c>download</c>
/// and <c>predict</c>. Each takes <c>--url</c>/<c>--api-key</c>, defaulting to <c>PIPELINE_URL</c>/<c>PIPELINE_API_KEY</c>.
/// Exit codes: 0 success; 1 the job (or call) failed; 2 bad usage or an unreachable system.
/// </summary>
public static class ClientCommands
{
    private static readonly string[] TerminalStates = ["Succeeded", "Failed", "Cancelled"];

    public static IEnumerable<Command> Create(TextWriter stdout, TextWriter stderr)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout) });
        Command[] commands =
        [
            Submit(stdout, stderr, Url(), Key(), Json()),
            Jobs(stdout, stderr, console, Url(), Key(), Json()),
            Show(stdout, stderr, console, Url(), Key(), Json()),
            Cancel(stdout, stderr, Url(), Key()),
            Download(stdout, stderr, Url(), Key()),
            Predict(stdout, stderr, console, Url(), Key(), Json()),
        ];
        return commands;
    }

    private static Option<string?> Url() => new("--url") { Description = $"The system's API (default: ${PipelineClient.UrlVariable})" };
    private static Option<string?> Key() => new("--api-key") { Description = $"The API key (default: ${PipelineClient.KeyVariable})" };
    private static Option<bool> Json() => new("--json") { Description = "Print JSON instead of tables" };

    private static Command Submit(TextWriter stdout, TextWriter stderr, Option<string?> url, Option<string?> key, Option<bool> json)
    {
        var dataset = new Argument<string>("dataset") { Description = "A dataset folder or an archive (.zip, .tar, .tar.gz, .tgz), uploaded to the system" };
        var task = new Option<string?>("--task") { Description = "classify or detect (default: what the dataset's format implies)" };
        var format = new Option<string?>("--format") { Description = "idx, imagefolder, coco, yolo or paligemma (default: recognised from the files)" };
        var config = new Option<string?>("--config", "-c") { Description = "Recipe file (YAML or JSON; _base_ is resolved here)" };
        var trainers = new Option<int>("--trainers") { Description = "Trainer replicas that train the job together", DefaultValueFactory = _ => 1 };
        var wait = new Option<bool>("--wait") { Description = "Follow the job until it ends; exit code 0 only if it succeeded" };
        var serverPath = new Option<bool>("--server-path") { Description = "The dataset is a folder or archive on the server, under its dataset folders (PIPELINE_DATASET_ROOTS), read there instead of uploaded" };
        var command = new Command("submit", "Submit a dataset to train and evaluate a model on; recipe keys can be overridden as --key.sub=value.")
        {
            dataset, task, format, config, trainers, wait, serverPath, json, url, key,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var path = parse.GetValue(dataset)!;
            var recipeYaml = ResolveRecipe(parse.GetValue(config), parse.UnmatchedTokens, parse.GetValue(task));
            object request;
            if (parse.GetValue(serverPath))
            {
                if (!Path.IsPathFullyQualified(path)) throw new PipelineApiException($"{path}: --server-path needs the absolute path on the server");
                request = new { path, task = parse.GetValue(task), format = parse.GetValue(format), recipeYaml, trainers = parse.GetValue(trainers) };
            }
            else if (Directory.Exists(path))
            {
                stderr.WriteLine($"uploading the dataset files of {path}");
                var source = await client.UploadFolderAsync(path, cancellation).ConfigureAwait(false);
                request = new { source, task = parse.GetValue(task), format = parse.GetValue(format), recipeYaml, trainers = parse.GetValue(trainers) };
            }
            else if (File.Exists(path))
            {
                stderr.WriteLine($"uploading {path} ({new FileInfo(path).Length / 1048576.0:F1} MiB)");
                var source = await client.UploadAsync(path, cancellation).ConfigureAwait(false);
                request = new { source, task = parse.GetValue(task), format = parse.GetValue(format), recipeYaml, trainers = parse.GetValue(trainers) };
            }
            else throw new PipelineApiException($"{path}: no such folder or archive");
            var job = await client.SubmitAsync(request, cancellation).ConfigureAwait(false);
            var id = job.GetProperty("id").GetString()!;
            if (!parse.GetValue(wait))
            {
                stdout.WriteLine(parse.GetValue(json) ? job.GetRawText() : id);
                return 0;
            }
            stderr.WriteLine($"job {id} submitted; following it (Ctrl+C stops following, not the job)");
            var detail = await Follow(client, id, stderr, cancellation).ConfigureAwait(false);
            var state = detail.GetProperty("job").GetProperty("state").GetString();
            if (parse.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(Summary(detail)));
            else WriteOutcome(stdout, detail);
            return state == "Succeeded" ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Jobs(TextWriter stdout, TextWriter stderr, IAnsiConsole console, Option<string?> url, Option<string?> key, Option<bool> json)
    {
        var limit = new Option<int>("--limit") { Description = "How many of the newest jobs", DefaultValueFactory = _ => 20 };
        var command = new Command("jobs", "List the newest jobs with their state and progress.") { limit, json, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var jobs = await client.JobsAsync(parse.GetValue(limit), cancellation).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(jobs.GetRawText());
                return 0;
            }
            var table = new Table().AddColumns("job", "state", "task", "progress", "updated (UTC)", "source / reason");
            foreach (var job in jobs.EnumerateArray())
                table.AddRow(Markup.Escape(Str(job, "id")), Markup.Escape(Str(job, "state")), Markup.Escape(Str(job, "task")), Markup.Escape(Progress(job)),
                    Markup.Escape(Time(job, "updatedAt")), Markup.Escape(job.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : Str(job, "source")));
            console.Write(table);
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Show(TextWriter stdout, TextWriter stderr, IAnsiConsole console, Option<string?> url, Option<string?> key, Option<bool> json)
    {
        var job = new Argument<string>("job") { Description = "The job id" };
        var command = new Command("show", "Show a job: state, progress, metrics per epoch and the test result.") { job, json, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var detail = await client.JobAsync(parse.GetValue(job)!, cancellation).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(detail.GetRawText());
                return 0;
            }
            var view = detail.GetProperty("job");
            stdout.WriteLine($"job {Str(view, "id")}: {Str(view, "state")} ({Str(view, "task")}, {view.GetProperty("trainers").GetInt32()} trainer(s)), {Progress(view)}");
            stdout.WriteLine($"source {Str(view, "source")}");
            if (view.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String) stdout.WriteLine($"reason: {reason.GetString()}");
            var epochs = detail.GetProperty("metrics").EnumerateArray()
                .Where(m => Str(m, "split") == "val")
                .GroupBy(m => m.GetProperty("epoch").GetInt32()).OrderBy(g => g.Key).ToList();
            if (epochs.Count > 0)
            {
                var names = epochs.SelectMany(g => g.Select(m => Str(m, "name"))).Distinct().Where(n => n is "accuracy" or "macro_f1" or "loss").ToList();
                var table = new Table().AddColumn("epoch");
                foreach (var name in names) table.AddColumn("val " + name);
                foreach (var epoch in epochs)
                    // Validation metrics carry their checkpoint's epoch, numbered from 1 already.
                    table.AddRow([epoch.Key.ToString(CultureInfo.InvariantCulture), .. names.Select(n => Number(epoch.LastOrDefault(m => Str(m, "name") == n)))]);
                console.Write(table);
            }
            WriteOutcome(stdout, detail);
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Cancel(TextWriter stdout, TextWriter stderr, Option<string?> url, Option<string?> key)
    {
        var job = new Argument<string>("job") { Description = "The job id" };
        var command = new Command("cancel", "Cancel a job; training stops between steps.") { job, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            await client.CancelAsync(parse.GetValue(job)!, cancellation).ConfigureAwait(false);
            stdout.WriteLine($"job {parse.GetValue(job)} cancelled");
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Download(TextWriter stdout, TextWriter stderr, Option<string?> url, Option<string?> key)
    {
        var job = new Argument<string>("job") { Description = "The job id" };
        var dir = new Argument<string>("dir") { Description = "Folder to write the job's artifacts into (created if missing)" };
        var all = new Option<bool>("--checkpoints") { Description = "Also download every checkpoint (large)" };
        var command = new Command("download", "Download a job's best model, reports and dataset report.") { job, dir, all, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var id = parse.GetValue(job)!;
            var root = Path.GetFullPath(parse.GetValue(dir)!);
            var artifacts = await client.ArtifactsAsync(id, cancellation).ConfigureAwait(false);
            var count = 0;
            foreach (var artifact in artifacts.EnumerateArray())
            {
                var name = Str(artifact, "name");
                // The dataset's prepared shards are large and the server's business; its report is the user's.
                if (!parse.GetValue(all) && name.StartsWith("checkpoints/", StringComparison.Ordinal)) continue;
                if (name.StartsWith("dataset/", StringComparison.Ordinal) && name != "dataset/report.json") continue;
                var target = Path.GetFullPath(Path.Combine(root, name));
                if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new PipelineApiException($"the server listed '{name}', which would be written outside {root}");
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await client.DownloadAsync(id, name, target, cancellation).ConfigureAwait(false);
                stdout.WriteLine($"{name} ({artifact.GetProperty("length").GetInt64()} bytes)");
                count++;
            }
            if (count == 0) throw new PipelineApiException($"job {id} has no artifacts yet");
            stderr.WriteLine($"{count} files in {root}");
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static Command Predict(TextWriter stdout, TextWriter stderr, IAnsiConsole console, Option<string?> url, Option<string?> key, Option<bool> json)
    {
        var job = new Argument<string>("job") { Description = "A finished job's id" };
        var image = new Argument<string>("image") { Description = "A JPEG or PNG image" };
        var top = new Option<int?>("--top") { Description = "How many classes (default 5), or boxes at most (default: all above --min-score)" };
        var minScore = new Option<double?>("--min-score") { Description = "Detection: leave out boxes scoring below this (default: the server's, 0.3)" };
        var command = new Command("predict", "Classify an image, or detect objects in it, with a finished job's best model.") { job, image, top, minScore, json, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            var path = parse.GetValue(image)!;
            if (!File.Exists(path)) throw new PipelineApiException($"{path}: no such image file");
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var answer = await client.PredictAsync(parse.GetValue(job)!, path, parse.GetValue(top), parse.GetValue(minScore), cancellation).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(answer.GetRawText());
                return 0;
            }
            if (answer.TryGetProperty("boxes", out var boxes))
            {
                // A detector's answer: one row per box, in the image's own pixels.
                if (boxes.GetArrayLength() == 0)
                {
                    stdout.WriteLine("no objects found (none scores above the threshold; try a lower --min-score)");
                    return 0;
                }
                var found = new Table().AddColumns("label", "score", "x1", "y1", "x2", "y2");
                foreach (var b in boxes.EnumerateArray())
                    found.AddRow([Markup.Escape(Str(b, "label")), b.GetProperty("score").GetDouble().ToString("P1", CultureInfo.InvariantCulture),
                        .. ((string[])["x1", "y1", "x2", "y2"]).Select(c => b.GetProperty(c).GetDouble().ToString("F1", CultureInfo.InvariantCulture))]);
                console.Write(found);
                return 0;
            }
            var table = new Table().AddColumns("class", "score");
            foreach (var p in answer.GetProperty("predictions").EnumerateArray())
                table.AddRow(Markup.Escape(Str(p, "class")), p.GetProperty("score").GetDouble().ToString("P2", CultureInfo.InvariantCulture));
            console.Write(table);
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The recipe to send: the user's file with its <c>_base_</c> files merged here (the server opens no file a
    /// client names) and the overrides applied, as self-contained JSON; null for the server's defaults when nothing was
    /// given. The server puts it over the defaults of the job's task, so the dataset is never opened here: an archive is
    /// uploaded as it is. With <c>--task</c> the result is also checked here, so a bad key fails before any upload.</summary>
    private static string? ResolveRecipe(string? config, IReadOnlyList<string> overrides, string? task)
    {
        if (config is null && overrides.Count == 0) return null;
        if (task is not null) TaskRecipes.Load(task, config, overrides);
        return RecipeLoader.Compose(config, overrides).Root.ToJsonString();
    }

    /// <summary>Polls the job until it ends, drawing its progress; returns its final detail.</summary>
    private static async Task<JsonElement> Follow(PipelineClient client, string id, TextWriter stderr, CancellationToken cancellation)
    {
        var interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        JsonElement detail = default;
        if (interactive)
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var bar = context.AddTask("submitted", maxValue: 1);
                    while (true)
                    {
                        detail = await client.JobAsync(id, cancellation).ConfigureAwait(false);
                        var view = detail.GetProperty("job");
                        if (Long(view, "totalSteps") is { } total and > 0)
                        {
                            bar.MaxValue = total;
                            bar.Value = Long(view, "step") ?? 0;
                        }
                        bar.Description = Markup.Escape($"{Str(view, "state")} {Progress(view)}");
                        if (TerminalStates.Contains(Str(view, "state"))) break;
                        await Task.Delay(1000, cancellation).ConfigureAwait(false);
                    }
                    bar.Value = bar.MaxValue;
                }).ConfigureAwait(false);
            return detail;
        }
        var last = "";
        while (true)
        {
            detail = await client.JobAsync(id, cancellation).ConfigureAwait(false);
            var view = detail.GetProperty("job");
            var line = $"{Str(view, "state")} {Progress(view)}";
            if (line != last) stderr.WriteLine(line);
            last = line;
            if (TerminalStates.Contains(Str(view, "state"))) return detail;
            await Task.Delay(1000, cancellation).ConfigureAwait(false);
        }
    }

    private static void WriteOutcome(TextWriter stdout, JsonElement detail)
    {
        var view = detail.GetProperty("job");
        var state = Str(view, "state");
        var test = TestMetrics(detail);
        if (state == "Succeeded")
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"job {Str(view, "id")} succeeded: {string.Join(", ", test.Select(kv => $"test {kv.Key} {kv.Value:0.####}"))}"));
        else if (TerminalStates.Contains(state))
            stdout.WriteLine($"job {Str(view, "id")} {state.ToLowerInvariant()}: {(view.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : "no reason given")}");
    }

    private static Dictionary<string, double> TestMetrics(JsonElement detail) =>
        detail.GetProperty("metrics").EnumerateArray().Where(m => Str(m, "split") == "test")
            .GroupBy(m => Str(m, "name")).ToDictionary(g => g.Key, g => g.Last().GetProperty("value").GetDouble());

    private static object Summary(JsonElement detail)
    {
        var view = detail.GetProperty("job");
        return new
        {
            job = Str(view, "id"),
            state = Str(view, "state"),
            reason = view.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null,
            epochs = Long(view, "epoch") is { } e ? e + 1 : (long?)null,
            best_epoch = Long(view, "bestEpoch"), // numbered from 1, as the job's checkpoints
            test = TestMetrics(detail),
        };
    }

    /// <summary>Runs a command body; expected failures print one line and give exit code 1 (job/API) or 2 (usage).</summary>
    private static async Task<int> Guarded(TextWriter stderr, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (PipelineApiException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return e.Status is null ? 2 : 1;
        }
        catch (RecipeException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    private static string Progress(JsonElement job)
    {
        if (Long(job, "step") is not { } step) return "";
        var total = Long(job, "totalSteps");
        var epoch = Long(job, "epoch");
        return string.Create(CultureInfo.InvariantCulture, $"epoch {(epoch ?? 0) + 1}, step {step}/{total?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
    }

    private static string Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static long? Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    private static string Time(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.TryGetDateTime(out var t) ? t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";

    private static string Number(JsonElement metric) =>
        metric.ValueKind == JsonValueKind.Object ? metric.GetProperty("value").GetDouble().ToString("0.####", CultureInfo.InvariantCulture) : "";
}
