using System.Text.Json;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;

namespace Pipeline.Cli.Tests;

public sealed class TrainCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliApp.RunCaptured(args);

    [Fact]
    public void Train_on_a_fashion_mnist_subset_writes_the_run_folder_and_ends_with_one_json_line()
    {
        var output = Path.Combine(dir, "run");
        var (code, stdout, stderr) = Run("train", FashionMnist.DebianPath, "--limit", "400", "--epochs", "2", "--output", output, "--json",
            "--model.name=small_cnn", "--model.width=8", "--batch_size=32", "log_every=5");
        Assert.True(code == 0, stderr);

        var last = stdout.TrimEnd().Split('\n')[^1];
        using var json = JsonDocument.Parse(last);
        var accuracy = json.RootElement.GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.Equal(400, json.RootElement.GetProperty("test_images").GetInt64());
        Assert.Equal(2, json.RootElement.GetProperty("epochs").GetInt32());
        Assert.Contains("epoch 1 step 5/", stderr, StringComparison.Ordinal);

        // The resolved recipe loads back as it ran: the command-line overrides are in it.
        var recipe = RecipeLoader.Load(Path.Combine(output, "recipe.json"));
        Assert.Equal(8, recipe.Model.Width);
        Assert.Equal(2, recipe.Epochs);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "results.csv")).Length);
        Assert.True(File.Exists(Path.Combine(output, "best.safetensors")));
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(output, "checkpoints"), "step-*"));
        var report = ClassificationReport.FromJson(File.ReadAllText(Path.Combine(output, "evaluation.json")));
        Assert.Equal(10, report.PerClass.Count);
        Assert.Equal(400, report.ConfusionMatrix.Sum(row => row.Sum()));
        Assert.Equal(accuracy, report.Accuracy);
        // One-vs-rest PR figures for every class present in the test images.
        Assert.InRange(report.MeanAp!.Value, 0, 1);
        Assert.All(report.PerClass.Where(c => c.Support > 0), c => Assert.Equal(101, c.PrecisionAtRecall!.Count));
        // The pictures: PNG files (signature) of a readable size.
        foreach (var picture in (string[])["confusion_matrix.png", "pr_curves.png", "training_curves.png"])
        {
            var png = File.ReadAllBytes(Path.Combine(output, picture));
            Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G']), $"{picture} is not a PNG");
            var image = Pipeline.Vision.Imaging.PngCodec.Decode(png, picture);
            Assert.True(image.Width >= 600 && image.Height >= 500, $"{picture} is {image.Width}x{image.Height}");
        }
    }

    [Fact]
    public void A_bad_override_fails_naming_the_command_line_and_the_key()
    {
        var (code, _, stderr) = Run("train", FashionMnist.DebianPath, "--output", Path.Combine(dir, "run"), "--optimizer.lrr=1");
        Assert.Equal(2, code);
        Assert.Contains("command line: key 'optimizer.lrr': unknown key", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_processes_complete_a_run_owned_by_rank_0_with_the_accuracy_of_one()
    {
        // batch_size is the global batch: 2 ranks of 32 take the steps one process of 64 takes. They still differ in
        // batch-norm statistics (per rank), augmentation and dropout draws: on 4,000 images, 1 epoch (65% here, both
        // ways), the accuracies agree within 3 points (the acceptance figure, 0.5 points, is for the full 60,000).
        string[] common = ["train", FashionMnist.DebianPath, "--limit", "4000", "--epochs", "1", "--json", "--model.name=small_cnn", "--model.width=16", "--batch_size=64",
            "--schedule.warmup_epochs=0.2", "log_every=5"];
        var single = Run([.. common, "--output", Path.Combine(dir, "one")]);
        Assert.True(single.Code == 0, single.Stderr);
        var output = Path.Combine(dir, "two");
        var pair = Run([.. common, "--output", output, "--nproc", "2"]);
        Assert.True(pair.Code == 0, pair.Stderr);

        // One JSON line (rank 0's), one results row, rank 0's checkpoints; rank 1 reported nothing.
        var lines = pair.Stdout.TrimEnd().Split('\n');
        Assert.Single(lines);
        using var one = JsonDocument.Parse(single.Stdout.TrimEnd().Split('\n')[^1]);
        using var two = JsonDocument.Parse(lines[0]);
        Assert.Contains("launched 2 ranks", pair.Stderr, StringComparison.Ordinal);
        // Each rank takes its share of the cores (PIPELINE_TORCH_THREADS), not libtorch's default of all of them.
        Assert.Contains($"on 2 ranks (batch 32 each, {Math.Max(1, Environment.ProcessorCount / 2)} intra-op threads each)", pair.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("[rank 1]", pair.Stderr, StringComparison.Ordinal);
        Assert.Equal(one.RootElement.GetProperty("steps").GetInt64(), two.RootElement.GetProperty("steps").GetInt64());
        Assert.Equal(4000, two.RootElement.GetProperty("test_images").GetInt64());
        Assert.Equal(2, File.ReadAllLines(Path.Combine(output, "results.csv")).Length);
        Assert.Single(Directory.GetDirectories(Path.Combine(output, "checkpoints"), "step-*"));
        var report = ClassificationReport.FromJson(File.ReadAllText(Path.Combine(output, "evaluation.json")));
        Assert.Equal(4000, report.ConfusionMatrix.Sum(row => row.Sum()));
        // The score histograms came through the all-reduce with the other counts: every class has its curve.
        Assert.All(report.PerClass, c => Assert.NotNull(c.PrecisionAtRecall));
        Assert.InRange(report.MeanAp!.Value, 0.5, 1);
        var a1 = one.RootElement.GetProperty("accuracy").GetDouble();
        var a2 = two.RootElement.GetProperty("accuracy").GetDouble();
        Assert.True(a1 > 0.5, $"one process reached only {a1}");
        Assert.True(Math.Abs(a1 - a2) <= 0.03, $"accuracy with 2 processes {a2} vs 1 process {a1}");
    }

    [Fact]
    public void A_rank_that_dies_makes_the_launcher_stop_the_others_and_fail_naming_it()
    {
        var output = Path.Combine(dir, "run");
        (int Code, string Stdout, string Stderr)? result = null;
        var launcher = new Thread(() => result = Run("train", FashionMnist.DebianPath, "--limit", "4000", "--epochs", "50", "--output", output,
            "--nproc", "2", "--model.name=small_cnn", "--model.width=8", "--batch_size=64", "log_every=1"));
        launcher.Start();
        int[] ranks = [];
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        // Rank 0 writes recipe.json once the group has formed.
        while (DateTime.UtcNow < deadline && launcher.IsAlive && (ranks.Length < 2 || !File.Exists(Path.Combine(output, "recipe.json"))))
        {
            var children = Children.OfThisProcess("pipeline.dll").OrderBy(c => c.Rank).ToArray();
            ranks = [.. children.Select(c => c.Pid)];
            // torchrun's variables, one rendezvous port, and the cores shared out.
            foreach (var (_, rank, env) in children)
            {
                Assert.Equal("2", env["WORLD_SIZE"]);
                Assert.Equal(rank.ToString(System.Globalization.CultureInfo.InvariantCulture), env["LOCAL_RANK"]);
                Assert.Equal(children[0].Environment["MASTER_PORT"], env["MASTER_PORT"]);
                Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), env["PIPELINE_TORCH_THREADS"]);
            }
            Thread.Sleep(100);
        }
        Assert.True(ranks.Length == 2 && launcher.IsAlive, $"ranks did not start: {result?.Stderr}");
        // Each rank trains on jemalloc: it re-executed itself (same PID) with the library preloaded.
        foreach (var pid in ranks) Assert.Contains("libjemalloc", File.ReadAllText($"/proc/{pid}/maps"), StringComparison.Ordinal);
        Thread.Sleep(2000);
        using (var victim = System.Diagnostics.Process.GetProcessById(ranks[1])) victim.Kill();
        Assert.True(launcher.Join(TimeSpan.FromSeconds(30)), "the launcher did not return after rank 1 was killed");
        Assert.Equal(1, result!.Value.Code);
        Assert.Contains($"error: rank 1 (pid {ranks[1]}) was killed by signal 9; stopped the other ranks", result.Value.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/proc/{ranks[0]}"), "rank 0 is still running");
    }

    [Fact]
    public void An_interrupt_to_the_launcher_stops_every_rank_at_one_step_with_a_checkpoint()
    {
        // The command as a user runs it (its own process); SIGINT goes to the launcher only, which passes it on.
        var output = Path.Combine(dir, "run");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "pipeline.dll"), "train", FashionMnist.DebianPath, "--limit", "4000", "--epochs", "50",
                     "--output", output, "--nproc", "2", "--json", "--model.name=small_cnn", "--model.width=8", "--batch_size=64", "log_every=5" })
            psi.ArgumentList.Add(a);
        using var launcher = System.Diagnostics.Process.Start(psi)!;
        var stderr = new System.Collections.Concurrent.ConcurrentQueue<string>();
        launcher.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderr.Enqueue(e.Data); };
        var stdout = new System.Collections.Concurrent.ConcurrentQueue<string>();
        launcher.OutputDataReceived += (_, e) => { if (e.Data is not null) stdout.Enqueue(e.Data); };
        launcher.BeginOutputReadLine();
        launcher.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (DateTime.UtcNow < deadline && !launcher.HasExited && !stderr.Any(l => l.StartsWith("epoch 1 step 10/", StringComparison.Ordinal))) Thread.Sleep(100);
            Assert.False(launcher.HasExited, string.Join("\n", stderr));
            var pids = stderr.First(l => l.StartsWith("launched 2 ranks", StringComparison.Ordinal));
            using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", launcher.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();

            Assert.True(launcher.WaitForExit(TimeSpan.FromSeconds(60)), "the launcher did not stop after SIGINT");
            launcher.WaitForExit();
            Assert.True(launcher.ExitCode == 130, $"exit code {launcher.ExitCode}; stderr:\n{string.Join("\n", stderr)}");
            using var json = JsonDocument.Parse(stdout.Last());
            Assert.Equal("cancelled", json.RootElement.GetProperty("stop_reason").GetString());
            // The checkpoint of the step where both ranks stopped, resumable.
            var steps = json.RootElement.GetProperty("steps").GetInt64();
            Assert.True(Directory.Exists(Path.Combine(output, "checkpoints", $"step-{steps:D8}")), $"no checkpoint at step {steps}");
            foreach (var pid in pids[(pids.IndexOf("pids ", StringComparison.Ordinal) + 5)..pids.IndexOf(')', StringComparison.Ordinal)].Split(", "))
                Assert.False(Directory.Exists($"/proc/{pid}"), $"rank pid {pid} is still running");
        }
        finally
        {
            if (!launcher.HasExited) launcher.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void Fewer_than_one_process_is_refused()
    {
        var (code, _, stderr) = Run("train", FashionMnist.DebianPath, "--nproc", "0");
        Assert.Equal(2, code);
        Assert.Contains("--nproc 0", stderr, StringComparison.Ordinal);
    }
}
