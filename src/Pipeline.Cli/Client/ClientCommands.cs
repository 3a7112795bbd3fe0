using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;
using Spectre.Console;

namespace Pipeline.Cli.Client;

/// <summary>
/// The commands that talk to a running system: <c>submit</c> (a job, or with <c>--sweep</c> a sweep), <c>jobs</c>,
/// <c>show</c>, <c>cancel</c>, <c>download</c>, <c>predict</c> and <c>sweeps</c>. Each takes <c>--url</c>/<c>--api-key</c>, defaulting to <c>PIPELINE_URL</c>/<c>PIPELINE_API_KEY</c>.
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
            Sweeps(stdout, stderr, console, Url(), Key(), Json()),
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
        var sweep = new Option<string?>("--sweep") { Description = "A sweep file: submit a hyper-parameter sweep (its trials are jobs; --trainers per trial) instead of one job; prints the sweep id" };
        var command = new Command("submit", "Submit a dataset to train and evaluate a model on (or, with --sweep, a sweep of trials); recipe keys can be overridden as --key.sub=value.")
        {
            dataset, task, format, config, trainers, wait, serverPath, sweep, json, url, key,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            var path = parse.GetValue(dataset)!;
            if (parse.GetValue(sweep) is { } sweepFile)
            {
                if (parse.GetValue(wait)) throw new PipelineApiException("--wait follows one job; follow a sweep with `pipeline sweeps <id>`");
                var (sweepYaml, baseRecipe) = ResolveSweep(sweepFile, parse.GetValue(config), parse.UnmatchedTokens, parse.GetValue(task));
                var (serverDataset, uploaded) = await DatasetReference(client, path, parse.GetValue(serverPath), stderr, cancellation).ConfigureAwait(false);
                // Only what is given: the server's defaults stand for the rest.
                var body = new Dictionary<string, object?> { ["sweepYaml"] = sweepYaml, ["trainers"] = parse.GetValue(trainers) };
                foreach (var (name, value) in new[] { ("path", serverDataset), ("source", uploaded), ("task", parse.GetValue(task)), ("format", parse.GetValue(format)), ("recipeYaml", baseRecipe) })
                    if (value is not null) body[name] = value;
                var view = await client.SubmitSweepAsync(body, cancellation).ConfigureAwait(false);
                stdout.WriteLine(parse.GetValue(json) ? view.GetRawText() : view.GetProperty("id").GetString());
                return 0;
            }
            var recipeYaml = ResolveRecipe(parse.GetValue(config), parse.UnmatchedTokens, parse.GetValue(task));
            var (onServer, source) = await DatasetReference(client, path, parse.GetValue(serverPath), stderr, cancellation).ConfigureAwait(false);
            object request = onServer is not null
                ? new { path = onServer, task = parse.GetValue(task), format = parse.GetValue(format), recipeYaml, trainers = parse.GetValue(trainers) }
                : new { source, task = parse.GetValue(task), format = parse.GetValue(format), recipeYaml, trainers = parse.GetValue(trainers) };
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

    private static Command Sweeps(TextWriter stdout, TextWriter stderr, IAnsiConsole console, Option<string?> url, Option<string?> key, Option<bool> json)
    {
        var sweep = new Argument<string?>("sweep") { Description = "A sweep id: show its trials and best trial (without it: the newest sweeps)", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int>("--limit") { Description = "How many of the newest sweeps", DefaultValueFactory = _ => 20 };
        var cancel = new Option<bool>("--cancel") { Description = "Cancel the sweep: every trial not finished yet" };
        var command = new Command("sweeps", "List the newest sweeps, or show one sweep: its trials, ASHA's stops and the best trial.") { sweep, limit, cancel, json, url, key };
        command.SetAction(async (parse, cancellation) => await Guarded(stderr, async () =>
        {
            using var client = PipelineClient.FromSettings(parse.GetValue(url), parse.GetValue(key));
            if (parse.GetValue(sweep) is not { } id)
            {
                if (parse.GetValue(cancel)) throw new PipelineApiException("--cancel needs the sweep id");
                var sweeps = await client.SweepsAsync(parse.GetValue(limit), cancellation).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    stdout.WriteLine(sweeps.GetRawText());
                    return 0;
                }
                var list = new Table().AddColumns("sweep", "state", "task", "metric", "search", "trials done", "best", "updated (UTC)", "source / reason");
                foreach (var s in sweeps.EnumerateArray())
                    list.AddRow(Markup.Escape(Str(s, "id")), Markup.Escape(Str(s, "state")), Markup.Escape(Str(s, "task")),
                        Markup.Escape($"{Str(s, "metric")} ({Str(s, "mode")})"), Markup.Escape(Str(s, "search") + (Bool(s, "asha") ? " + ASHA" : "")),
                        Markup.Escape(TrialsDone(s)), Markup.Escape(BestOf(s)), Markup.Escape(Time(s, "updatedAt")),
                        Markup.Escape(s.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : Str(s, "source")));
                console.Write(list);
                return 0;
            }
            if (parse.GetValue(cancel))
            {
                await client.CancelSweepAsync(id, cancellation).ConfigureAwait(false);
                stdout.WriteLine($"sweep {id} cancelled");
                return 0;
            }
            var detail = await client.SweepAsync(id, cancellation).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(detail.GetRawText());
                return 0;
            }
            var view = detail.GetProperty("sweep");
            stdout.WriteLine($"sweep {Str(view, "id")}: {Str(view, "state")} ({Str(view, "task")}, {Str(view, "search")} search{(Bool(view, "asha") ? " with ASHA" : "")}), ranked by validation {Str(view, "metric")} ({Str(view, "mode")}); {TrialsDone(view)}");
            stdout.WriteLine($"source {Str(view, "source")}");
            if (view.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String) stdout.WriteLine($"reason: {reason.GetString()}");
            var keys = detail.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).ToList();
            var trials = detail.GetProperty("trials").EnumerateArray().ToList();
            // The first test metric the trials have (accuracy for classifiers, mAP for detectors).
            var primary = trials.SelectMany(t => t.TryGetProperty("test", out var test) && test.ValueKind == JsonValueKind.Object ? test.EnumerateObject().Select(p => p.Name) : Enumerable.Empty<string>())
                .OrderBy(n => Array.IndexOf(PrimaryTests, n) is var k && k < 0 ? int.MaxValue : k).FirstOrDefault();
            var table = new Table().AddColumns(["trial", "job", "state", .. keys.Select(Markup.Escape), "epochs", "best val", "best epoch", Markup.Escape($"test {primary ?? ""}".Trim()), "note"]);
            foreach (var t in trials)
            {
                var values = t.GetProperty("values");
                table.AddRow([
                    t.GetProperty("number").GetInt32().ToString(CultureInfo.InvariantCulture), Markup.Escape(Str(t, "jobId")), Markup.Escape(Str(t, "state")),
                    .. keys.Select(k => Markup.Escape(values.TryGetProperty(k, out var v) ? Plain(v) : "")),
                    string.Create(CultureInfo.InvariantCulture, $"{Long(t, "epochsDone") ?? 0}/{Long(t, "epochs") ?? 0}"),
                    Markup.Escape(Double(t, "bestValue")), Long(t, "bestEpoch")?.ToString(CultureInfo.InvariantCulture) ?? "",
                    Markup.Escape(primary is not null && t.TryGetProperty("test", out var test) && test.ValueKind == JsonValueKind.Object && test.TryGetProperty(primary, out var m) ? Double(m) : ""),
                    Markup.Escape(Bool(t, "stoppedEarly") ? Str(t, "stopReason") : ""),
                ]);
            }
            console.Write(table);
            if (detail.TryGetProperty("best", out var best) && best.ValueKind == JsonValueKind.Object)
            {
                var values = string.Join(' ', best.GetProperty("values").EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}"));
                stdout.WriteLine($"best trial {best.GetProperty("number").GetInt32()} is job {Str(best, "jobId")}: `pipeline download {Str(best, "jobId")} DIR` fetches its model");
                stdout.WriteLine($"sweep best trial={best.GetProperty("number").GetInt32()} {Str(view, "metric")}={Double(best, "value")} {values}");
            }
            return 0;
        }).ConfigureAwait(false));
        return command;
    }

    private static readonly string[] PrimaryTests = ["accuracy", "map", "map50"];

    private static string TrialsDone(JsonElement sweep) =>
        string.Create(CultureInfo.InvariantCulture, $"{Long(sweep, "finished") ?? 0}/{Long(sweep, "trials") ?? 0} trials done, {Long(sweep, "stoppedEarly") ?? 0} stopped early");

    private static string BestOf(JsonElement sweep) =>
        Long(sweep, "bestTrial") is { } trial ? string.Create(CultureInfo.InvariantCulture, $"trial {trial}: {Double(sweep, "bestValue")}") : "";

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string Double(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? Double(v) : "";

    private static string Double(JsonElement v) =>
        v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("0.####", CultureInfo.InvariantCulture) : "";

    // A searched value as a person writes it: a string without its quotes.
    private static string Plain(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText();

    /// <summary>Where the server finds the dataset: its own path (--server-path), or the source of an upload of the
    /// folder (its dataset files, as a tar stream) or the archive.</summary>
    private static async Task<(string? Path, string? Source)> DatasetReference(PipelineClient client, string path, bool serverPath, TextWriter stderr,
        CancellationToken cancellation)
    {
        if (serverPath)
        {
            if (!Path.IsPathFullyQualified(path)) throw new PipelineApiException($"{path}: --server-path needs the absolute path on the server");
            return (path, null);
        }
        if (Directory.Exists(path))
        {
            stderr.WriteLine($"uploading the dataset files of {path}");
            return (null, await client.UploadFolderAsync(path, cancellation).ConfigureAwait(false));
        }
        if (File.Exists(path))
        {
            stderr.WriteLine($"uploading {path} ({new FileInfo(path).Length / 1048576.0:F1} MiB)");
            return (null, await client.UploadAsync(path, cancellation).ConfigureAwait(false));
        }
        throw new PipelineApiException($"{path}: no such folder or archive");
    }

    /// <summary>
    /// The sweep to send: its text, and the base recipe as self-contained JSON. The server opens no file a client names,
    /// so a <c>recipe:</c> file name (relative to the sweep file, its <c>_base_</c> files merged, the overrides applied)
    /// is put into the sweep as a map; a <c>--config</c> recipe goes as the request's recipe. With <c>--task</c> the
    /// trials are planned here as the server will, so a value the recipe refuses fails before any upload.
    /// </summary>
    private static (string SweepYaml, string? RecipeYaml) ResolveSweep(string sweepFile, string? config, IReadOnlyList<string> overrides, string? task)
    {
        var text = Pipeline.Cli.SweepCommand.ReadSweepFile(sweepFile);
        var spec = SweepSpec.Parse(text, sweepFile);
        var sweepYaml = text;
        string? recipeYaml = null;
        if (config is not null)
        {
            if (spec.RecipeFile is not null || spec.InlineRecipe is not null)
                throw new RecipeException(sweepFile, "recipe", $"the sweep names its recipe and --config names {config}; give the base recipe once");
            recipeYaml = RecipeLoader.Compose(config, overrides).Root.ToJsonString();
        }
        else if (spec.RecipeFile is not null || (spec.InlineRecipe is not null && overrides.Count > 0))
        {
            RecipeDocument document;
            if (spec.RecipeFile is { } file) document = RecipeLoader.Compose(Pipeline.Cli.SweepCommand.RecipePath(spec, sweepFile, file), overrides);
            else
            {
                document = RecipeLoader.ComposeText(spec.InlineRecipe!.ToJsonString(), $"{sweepFile}: recipe");
                RecipeLoader.ApplyOverrides(document, overrides);
            }
            var map = RecipeDocument.ParseText(text, sweepFile);
            map["recipe"] = document.Root.DeepClone();
            sweepYaml = map.ToJsonString();
        }
        else if (overrides.Count > 0) recipeYaml = RecipeLoader.Compose(null, overrides).Root.ToJsonString();
        if (task is not null)
        {
            var sent = SweepSpec.Parse(sweepYaml, sweepFile);
            SweepPlanner.Plan(sent, task, recipeYaml ?? sent.InlineRecipe?.ToJsonString(), sweepFile);
        }
        return (sweepYaml, recipeYaml);
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
