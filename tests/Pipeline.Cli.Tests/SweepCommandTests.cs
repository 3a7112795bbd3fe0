using System.Globalization;
using System.Text.Json;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Training.Sweeps;
using Pipeline.Vision.Data;

namespace Pipeline.Cli.Tests;

/// <summary><c>pipeline sweep</c>: trials as real <c>pipeline train</c> processes, watched and stopped by ASHA.</summary>
public sealed class SweepCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-sweep-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliApp.RunCaptured(args);

    // A small CNN for 3 epochs without warmup; the sweep's values go over it.
    private const string BaseRecipe = """
        model: {name: small_cnn, width: 8}
        epochs: 3
        batch_size: 32
        device: cpu
        log_every: 10
        schedule: {warmup_epochs: 0}
        """;

    // lr 0.05 trains; lr 1e-5 leaves the model about where it started (near chance on 10 classes).
    private static string SweepText(int seed) => $$"""
        recipe: base.yaml
        trials: 4
        seed: {{seed}}
        scheduler: asha
        asha: {min_epochs: 1, reduction: 2}
        metric: accuracy
        space:
          optimizer.lr: [0.05, 0.00001]
          model.width: {int: [6, 10]}
        """;

    private static double Lr(SweepTrialPlan t) => t.Values["optimizer.lr"]!.GetValue<double>();

    [Fact]
    public void A_local_sweep_trains_two_trials_at_a_time_stops_a_hopeless_one_by_asha_and_names_the_best()
    {
        var basePath = Path.Combine(dir, "base.yaml");
        File.WriteAllText(basePath, BaseRecipe);
        var sweepPath = Path.Combine(dir, "sweep.yaml");
        // A seed whose trials 1 and 2 train (lr 0.05) and trial 3 does not. Two run at a time, so trial 3 starts only when
        // one of the first two has ended, past epoch 1: it reaches that rung with a good value already recorded, as one of
        // 2 or 3 trials there, and with reduction 2 only the best one of those goes on. Whatever the order the trials end
        // in, trial 3 stops at rung 1. The seed is found by planning, as the command plans.
        var baseJson = RecipeLoader.Compose(basePath, null).Root.ToJsonString();
        var (seed, plan) = Enumerable.Range(0, 500)
            .Select(s => (s, SweepPlanner.Plan(SweepSpec.Parse(SweepText(s), sweepPath), "classify", baseJson, sweepPath)))
            .First(x => Lr(x.Item2.Trials[0]) == 0.05 && Lr(x.Item2.Trials[1]) == 0.05 && Lr(x.Item2.Trials[2]) == 0.00001);
        File.WriteAllText(sweepPath, SweepText(seed));

        var output = Path.Combine(dir, "sweep");
        var (code, stdout, stderr) = Run("sweep", FashionMnist.DebianPath, "--config", sweepPath, "--nproc", "2", "--limit", "2000", "--output", output, "--json");
        Assert.True(code == 0, stderr);

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "sweep.json")));
        var root = summary.RootElement;
        Assert.Equal("accuracy", root.GetProperty("metric").GetString());
        Assert.Equal("max", root.GetProperty("mode").GetString());
        Assert.Equal(["optimizer.lr", "model.width"], root.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
        Assert.Contains("sweep: 4 trials (random search), 2 at once", stderr, StringComparison.Ordinal);
        var trials = root.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(4, trials.Count);
        foreach (var (trial, planned) in trials.Zip(plan.Trials))
        {
            var number = trial.GetProperty("number").GetInt32();
            Assert.Equal(planned.Number, number);
            var values = trial.GetProperty("values");
            Assert.Equal(Lr(planned), values.GetProperty("optimizer.lr").GetDouble());
            Assert.Equal(planned.Values["model.width"]!.GetValue<long>(), values.GetProperty("model.width").GetInt64());
            // The trial trained with its values: the recipe its run resolved and wrote has them.
            var folder = trial.GetProperty("folder").GetString()!;
            Assert.Equal(Path.Combine(output, $"trial-{number:D2}"), folder);
            var ran = RecipeLoader.Load(Path.Combine(folder, "recipe.json"));
            Assert.Equal(Lr(planned), ran.Optimizer.Lr);
            Assert.Equal(planned.Values["model.width"]!.GetValue<long>(), ran.Model.Width!.Value);
            Assert.Equal("small_cnn", ran.Model.Name);
            // Its curve is its results.csv's validation accuracy; every trial was judged at rung 1.
            var csv = ResultsCsv.Read(Path.Combine(folder, "results.csv"));
            Assert.Equal(csv["val_accuracy"], trial.GetProperty("curve").EnumerateArray().Select(p => p.GetProperty("value").GetDouble()));
            Assert.Equal(csv["epoch"].Length, trial.GetProperty("epochs_done").GetInt32());
            Assert.Equal(csv["val_accuracy"].Max(), trial.GetProperty("best_value").GetDouble());
            var first = trial.GetProperty("decisions").EnumerateArray().First();
            Assert.Equal((1, 1), (first.GetProperty("rung").GetInt32(), first.GetProperty("epoch").GetInt32()));
            // Finished or stopped, each trial evaluated its best weights on the test set.
            Assert.InRange(trial.GetProperty("test").GetProperty("accuracy").GetDouble(), 0, 1);
            Assert.True(File.Exists(Path.Combine(folder, "best.safetensors")), $"trial {number} has no best.safetensors");
            var state = trial.GetProperty("state").GetString();
            Assert.True(state is "finished" or "stopped", $"trial {number}: {state} {trial}");
            if (state == "stopped")
            {
                var rung = trial.GetProperty("decisions").EnumerateArray().Last();
                Assert.False(rung.GetProperty("continue").GetBoolean());
                var reason = trial.GetProperty("reason").GetString()!;
                Assert.StartsWith($"ASHA rung {rung.GetProperty("rung").GetInt32()} (epoch {rung.GetProperty("epoch").GetInt32()}): validation accuracy ", reason, StringComparison.Ordinal);
                Assert.EndsWith("so this trial stops", reason, StringComparison.Ordinal);
                Assert.True(trial.GetProperty("epochs_done").GetInt32() < 3, $"trial {number} was stopped but trained every epoch");
            }
            else Assert.Equal(3, trial.GetProperty("epochs_done").GetInt32());
        }
        var third = trials[2];
        Assert.Equal("stopped", third.GetProperty("state").GetString());
        Assert.StartsWith("ASHA rung 1 (epoch 1): ", third.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains($"trial 3: {third.GetProperty("reason").GetString()}", stderr, StringComparison.Ordinal);
        // Every decision is kept, in the order taken.
        Assert.Equal(trials.Sum(t => t.GetProperty("decisions").GetArrayLength()), root.GetProperty("decisions").GetArrayLength());

        // The best trial has the best validation value (the earlier one of equals); its run folder is the sweep's model.
        var best = root.GetProperty("best");
        var expected = trials.OrderByDescending(t => t.GetProperty("best_value").GetDouble()).ThenBy(t => t.GetProperty("number").GetInt32()).First();
        Assert.Equal(expected.GetProperty("number").GetInt32(), best.GetProperty("trial").GetInt32());
        Assert.Equal(expected.GetProperty("best_value").GetDouble(), best.GetProperty("value").GetDouble());
        Assert.Equal(0.05, best.GetProperty("values").GetProperty("optimizer.lr").GetDouble());
        Assert.Equal(0.05, best.GetProperty("recipe").GetProperty("optimizer").GetProperty("lr").GetDouble());
        Assert.True(File.Exists(best.GetProperty("model").GetString()), "the best trial's model is missing");
        var value = best.GetProperty("value").GetDouble().ToString("0.####", CultureInfo.InvariantCulture);
        Assert.Contains($"sweep best trial={best.GetProperty("trial").GetInt32()} accuracy={value} optimizer.lr=0.05 model.width=", stderr, StringComparison.Ordinal);

        // --json: one JSON object on stdout, the summary.
        var lines = stdout.TrimEnd().Split('\n');
        Assert.Single(lines);
        using var printed = JsonDocument.Parse(lines[0]);
        Assert.Equal(best.GetProperty("trial").GetInt32(), printed.RootElement.GetProperty("best").GetProperty("trial").GetInt32());

        var rows = File.ReadAllLines(Path.Combine(output, "trials.csv"));
        Assert.Equal(5, rows.Length);
        Assert.StartsWith("trial,state,optimizer.lr,model.width,epochs,epochs_done,best_val_accuracy,best_epoch,test_accuracy,", rows[0], StringComparison.Ordinal);
        Assert.StartsWith("3,stopped,", rows[3], StringComparison.Ordinal);
        var png = File.ReadAllBytes(Path.Combine(output, "trials.png"));
        Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G']), "trials.png is not a PNG");
        var image = Pipeline.Vision.Imaging.PngCodec.Decode(png, "trials.png");
        Assert.True(image.Width >= 1000 && image.Height >= 600, $"trials.png is {image.Width}x{image.Height}");
    }

    [Fact]
    public void A_bad_sweep_file_fails_before_any_trial_naming_the_file_and_the_key()
    {
        var sweepPath = Path.Combine(dir, "sweep.yaml");
        File.WriteAllText(sweepPath, "trials: 2\nspace: {optimizer.lr: {log_uniform: [0, 0.1]}}\n");
        var output = Path.Combine(dir, "sweep");
        var (code, _, stderr) = Run("sweep", FashionMnist.DebianPath, "--config", sweepPath, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains($"error: {sweepPath}: key 'space.optimizer.lr': log_uniform needs a low bound above 0, got 0", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));

        // The recipe file is looked for beside the sweep file.
        File.WriteAllText(sweepPath, "recipe: missing.yaml\ntrials: 2\nspace: {optimizer.lr: [0.1]}\n");
        (code, _, stderr) = Run("sweep", FashionMnist.DebianPath, "--config", sweepPath, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains($"error: {sweepPath}: key 'recipe': the recipe file 'missing.yaml' ({Path.Combine(dir, "missing.yaml")}) does not exist", stderr, StringComparison.Ordinal);

        // A value the recipe cannot take is refused at planning, naming the trial.
        File.WriteAllText(sweepPath, "search: grid\nspace: {model.width: [8, 0]}\n");
        (code, _, stderr) = Run("sweep", FashionMnist.DebianPath, "--config", sweepPath, "--output", output);
        Assert.Equal(2, code);
        Assert.Contains($"error: {sweepPath}: trial 2 (model.width=0) makes a recipe that cannot run", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_failing_trial_leaves_the_others_running_and_a_sweep_whose_trials_all_fail_exits_naming_the_first_error()
    {
        // Weights that exist (the recipe takes them) but are not a safetensors file: each trial fails building its model.
        var garbage = Path.Combine(dir, "garbage.safetensors");
        File.WriteAllText(garbage, "not weights");
        File.WriteAllText(Path.Combine(dir, "base.yaml"), BaseRecipe);
        var sweepPath = Path.Combine(dir, "sweep.yaml");
        File.WriteAllText(sweepPath, $"recipe: base.yaml\nsearch: grid\nspace:\n  model.pretrained: ['{garbage}']\n  model.width: [6, 8]\n");
        var output = Path.Combine(dir, "sweep");
        var (code, stdout, stderr) = Run("sweep", FashionMnist.DebianPath, "--config", sweepPath, "--limit", "200", "--output", output);
        Assert.True(code == 1, $"exit code {code}: {stderr}");
        Assert.Contains($"error: every trial failed; the first, trial 1: {garbage}: not a safetensors file", stderr, StringComparison.Ordinal);

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "sweep.json")));
        var trials = summary.RootElement.GetProperty("trials").EnumerateArray().ToList();
        // Trial 2 ran after trial 1 had failed.
        Assert.Equal(2, trials.Count);
        Assert.All(trials, t =>
        {
            Assert.Equal("failed", t.GetProperty("state").GetString());
            Assert.StartsWith($"{garbage}: not a safetensors file", t.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, t.GetProperty("epochs_done").GetInt32());
        });
        Assert.Equal(JsonValueKind.Null, summary.RootElement.GetProperty("best").ValueKind);
        Assert.Contains("trial 2 failed: ", stderr, StringComparison.Ordinal);
        Assert.Contains("| failed |", stdout.Replace('\u2502', '|'), StringComparison.Ordinal);
    }

    [Fact]
    public void An_interrupt_stops_every_running_trial_which_still_evaluates_and_the_sweep_exits_130()
    {
        File.WriteAllText(Path.Combine(dir, "base.yaml"), BaseRecipe.Replace("epochs: 3", "epochs: 50", StringComparison.Ordinal));
        var sweepPath = Path.Combine(dir, "sweep.yaml");
        File.WriteAllText(sweepPath, "recipe: base.yaml\ntrials: 4\nparallel: 2\nspace: {optimizer.lr: {log_uniform: [0.01, 0.1]}}\n");
        var output = Path.Combine(dir, "sweep");
        // The command as a user runs it (its own process); SIGINT goes to it alone, and it passes the stop on.
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "pipeline.dll"), "sweep", FashionMnist.DebianPath, "--config", sweepPath, "--limit", "2000", "--output", output })
            psi.ArgumentList.Add(a);
        using var sweep = System.Diagnostics.Process.Start(psi)!;
        var stderr = new System.Collections.Concurrent.ConcurrentQueue<string>();
        sweep.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderr.Enqueue(e.Data); };
        sweep.OutputDataReceived += (_, _) => { };
        sweep.BeginOutputReadLine();
        sweep.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (DateTime.UtcNow < deadline && !sweep.HasExited && !(stderr.Any(l => l.StartsWith("trial 1 epoch 1:", StringComparison.Ordinal)) && stderr.Any(l => l.StartsWith("trial 2 epoch 1:", StringComparison.Ordinal))))
                Thread.Sleep(100);
            Assert.False(sweep.HasExited, string.Join("\n", stderr));
            var pids = stderr.Where(l => l.Contains(" started (pid ", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf("(pid ", StringComparison.Ordinal) + 5)..l.IndexOf(')', StringComparison.Ordinal)]).ToList();
            Assert.Equal(2, pids.Count);
            using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", sweep.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();

            Assert.True(sweep.WaitForExit(TimeSpan.FromSeconds(60)), "the sweep did not stop after SIGINT");
            sweep.WaitForExit();
            Assert.True(sweep.ExitCode == 130, $"exit code {sweep.ExitCode}; stderr:\n{string.Join("\n", stderr)}");
            foreach (var pid in pids) Assert.False(Directory.Exists($"/proc/{pid}"), $"trial pid {pid} is still running");
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "sweep.json")));
            Assert.Equal("interrupted", summary.RootElement.GetProperty("state").GetString());
            var trials = summary.RootElement.GetProperty("trials").EnumerateArray().ToList();
            Assert.Equal(["interrupted", "interrupted", "not started", "not started"], trials.Select(t => t.GetProperty("state").GetString()));
            // The interrupted trials stopped between steps, restored their best weights and evaluated them.
            foreach (var t in trials.Take(2))
            {
                Assert.InRange(t.GetProperty("epochs_done").GetInt32(), 1, 49);
                Assert.InRange(t.GetProperty("test").GetProperty("accuracy").GetDouble(), 0, 1);
            }
            Assert.False(Directory.Exists(Path.Combine(output, "trial-03")), "a trial started after the interrupt");
        }
        finally
        {
            if (!sweep.HasExited) sweep.Kill(entireProcessTree: true);
        }
    }
}
