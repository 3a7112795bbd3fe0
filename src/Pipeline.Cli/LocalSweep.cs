using System.Diagnostics;
using System.Globalization;
using Pipeline.Training.Progress;
using Pipeline.Training.Sweeps;

namespace Pipeline.Cli;

/// <summary>Where and how a local sweep runs. Paths are absolute.</summary>
/// <param name="Parallel">Trials trained at once.</param>
/// <param name="Limit">--limit passed to every trial (null: the whole dataset).</param>
internal sealed record LocalSweepOptions(string Dataset, string SweepFile, string Output, int Parallel, int? Limit);

internal enum TrialState { Pending, Running, Finished, Stopped, Failed, Cancelled }

/// <summary>One trial of a local sweep: its plan, its run folder, and what happened to it.</summary>
internal sealed class LocalTrial(SweepTrialPlan plan, string folder)
{
    public SweepTrialPlan Plan { get; } = plan;
    /// <summary>The trial's run folder (<c>trial-NN</c> in the sweep folder).</summary>
    public string Folder { get; } = folder;
    public TrialState State { get; internal set; }
    /// <summary>The validation metric after each epoch, in epoch order (epochs numbered from 1).</summary>
    public List<(int Epoch, double Value)> Curve { get; } = [];
    /// <summary>Every ASHA decision about this trial, in order.</summary>
    public List<AshaDecision> Decisions { get; } = [];
    /// <summary>The decision that stopped it (it may still have finished, when the stop came after its last epoch).</summary>
    public AshaDecision? Stop { get; internal set; }
    /// <summary>Why it failed (its last error line), when it did.</summary>
    public string? Error { get; internal set; }
    /// <summary>Its test metrics, from its evaluation.json.</summary>
    public IReadOnlyDictionary<string, double>? Test { get; internal set; }

    internal Process? Process { get; set; }
    internal bool Interrupted { get; set; }
    internal string? LastErrorLine { get; set; }
    internal string? LastLine { get; set; }
    internal StreamWriter? Log { get; set; }

    public string RecipeFile => Path.Combine(Folder, "trial-recipe.json");

    /// <summary>The best validation value and its epoch (the earliest of equals), or null before the first epoch.</summary>
    public (double Value, int Epoch)? Best(SweepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        (double Value, int Epoch)? best = null;
        foreach (var (epoch, value) in Curve)
            if (!double.IsNaN(value) && (best is null || plan.Better(value, best.Value.Value))) best = (value, epoch);
        return best;
    }
}

/// <summary>
/// Runs a planned sweep on this machine: each trial is <c>pipeline train &lt;dataset&gt; --task T --config
/// trial-NN/trial-recipe.json --output trial-NN --json</c>, a child process of this command (as the data-parallel
/// launcher starts its ranks), at most <see cref="LocalSweepOptions.Parallel"/> at once, each with its share of the
/// cores as intra-op threads. With ASHA, the trials' <c>results.csv</c> is watched: each epoch that is a rung is judged
/// (<see cref="Asha.Judge"/>) against the values other trials recorded at that rung, and a trial told to stop gets
/// SIGTERM, on which <c>pipeline train</c> stops at its next step, restores its best weights, evaluates them on the test
/// set and writes its run folder. A trial that fails leaves the others running; Ctrl+C stops them all.
/// </summary>
internal sealed class LocalSweep
{
    /// <summary>How long trials get to stop by themselves after Ctrl+C before they are killed.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(25);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private readonly Lock writeGate = new();
    // The values trials had at each rung (by epoch), in the order they were judged.
    private readonly Dictionary<int, List<double>> rungs = [];

    private readonly SweepPlan plan;
    private readonly LocalSweepOptions options;
    private readonly TextWriter log;

    public LocalSweep(SweepPlan plan, LocalSweepOptions options, TextWriter log)
    {
        this.plan = plan;
        this.options = options;
        this.log = log;
        Trials = [.. plan.Trials.Select(t => new LocalTrial(t, Path.Combine(options.Output, string.Create(CultureInfo.InvariantCulture, $"trial-{t.Number:D2}"))))];
        Threads = Math.Max(1, Environment.ProcessorCount / options.Parallel);
    }

    public SweepPlan Plan => plan;

    public IReadOnlyList<LocalTrial> Trials { get; }

    /// <summary>Every ASHA decision, in the order they were taken.</summary>
    public List<(int Trial, AshaDecision Decision)> Decisions { get; } = [];

    /// <summary>Intra-op threads each trial gets.</summary>
    public int Threads { get; }

    /// <summary>Runs every trial; false when interrupted (Ctrl+C), after the running trials have stopped.</summary>
    public bool Run(CancellationToken cancellation)
    {
        Directory.CreateDirectory(options.Output);
        var asha = plan.Spec.Asha is { } a
            ? string.Create(CultureInfo.InvariantCulture, $"ASHA (min_epochs {a.MinEpochs}, reduction {a.Reduction}) judges rungs at epochs {string.Join(", ", a.Rungs(plan.Trials.Max(t => t.Epochs)))}")
            : "no early stopping between trials";
        Write(string.Create(CultureInfo.InvariantCulture,
            $"sweep: {Trials.Count} trials ({plan.Spec.Search.ToString().ToLowerInvariant()} search), {options.Parallel} at once with {Threads} intra-op threads each; ranked by validation {plan.Metric} ({plan.Mode.ToString().ToLowerInvariant()}); {asha}; folder {options.Output}"));
        var pending = new Queue<LocalTrial>(Trials);
        var running = new List<LocalTrial>();
        try
        {
            while (pending.Count > 0 || running.Count > 0)
            {
                if (cancellation.IsCancellationRequested)
                {
                    // The trials not started yet stay so (their state says it).
                    StopAll(running);
                    return false;
                }
                while (running.Count < options.Parallel && pending.Count > 0)
                {
                    var trial = pending.Dequeue();
                    if (Start(trial)) running.Add(trial);
                }
                foreach (var trial in running.ToList())
                {
                    Observe(trial);
                    if (!trial.Process!.HasExited) continue;
                    Conclude(trial);
                    running.Remove(trial);
                }
                cancellation.WaitHandle.WaitOne(PollInterval);
            }
            return true;
        }
        finally
        {
            foreach (var trial in Trials)
            {
                if (trial.Process is { } p)
                {
                    DistributedLauncher.KillQuietly(p);
                    p.Dispose();
                    trial.Process = null;
                }
                trial.Log?.Dispose();
                trial.Log = null;
            }
        }
    }

    private bool Start(LocalTrial trial)
    {
        try
        {
            Directory.CreateDirectory(trial.Folder);
            File.WriteAllText(trial.RecipeFile, trial.Plan.RecipeJson);
            trial.Log = new StreamWriter(Path.Combine(trial.Folder, "trial.log")) { AutoFlush = true };
            var psi = new ProcessStartInfo(DistributedLauncher.DotnetHost())
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            psi.ArgumentList.Add(typeof(LocalSweep).Assembly.Location);
            string[] arguments = ["train", options.Dataset, "--task", plan.Task, "--config", trial.RecipeFile, "--output", trial.Folder, "--json"];
            foreach (var a in arguments) psi.ArgumentList.Add(a);
            if (options.Limit is { } limit)
            {
                psi.ArgumentList.Add("--limit");
                psi.ArgumentList.Add(limit.ToString(CultureInfo.InvariantCulture));
            }
            psi.Environment[Pipeline.Vision.TorchThreads.Variable] = Threads.ToString(CultureInfo.InvariantCulture);
            psi.Environment[DistributedLauncher.LauncherPidVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            var process = new Process { StartInfo = psi };
            process.OutputDataReceived += (_, e) => Record(trial, e.Data, error: false);
            process.ErrorDataReceived += (_, e) => Record(trial, e.Data, error: true);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            trial.Process = process;
            trial.State = TrialState.Running;
            Write($"trial {trial.Plan.Number} started (pid {process.Id}): {trial.Plan.Describe()}");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            trial.State = TrialState.Failed;
            trial.Error = $"could not start: {e.Message}";
            Write($"trial {trial.Plan.Number} failed: {trial.Error}");
            return false;
        }
    }

    // The child's output goes to its trial.log; its last error line is kept as the reason it failed.
    private void Record(LocalTrial trial, string? line, bool error)
    {
        if (line is null) return;
        lock (writeGate)
        {
            trial.Log?.WriteLine(line);
            if (!error) return;
            if (line.StartsWith("error:", StringComparison.Ordinal)) trial.LastErrorLine = line["error:".Length..].Trim();
            if (line.Trim().Length > 0) trial.LastLine = line.Trim();
        }
    }

    /// <summary>Reads the epochs the trial has completed since the last look and judges the rungs among them.</summary>
    private void Observe(LocalTrial trial)
    {
        IReadOnlyDictionary<string, double[]>? columns;
        try
        {
            columns = ResultsCsv.ReadWritten(Path.Combine(trial.Folder, LocalRunFolder.ResultsFile));
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Read again at the next look; a file that stays unreadable shows in the trial's outcome.
            return;
        }
        if (columns is null || !columns.TryGetValue(SweepCommand.MetricColumn(plan.Metric), out var values)) return;
        var epochs = columns["epoch"];
        for (var k = trial.Curve.Count; k < epochs.Length; k++)
        {
            var epoch = (int)epochs[k];
            var value = values[k];
            trial.Curve.Add((epoch, value));
            Write(string.Create(CultureInfo.InvariantCulture, $"trial {trial.Plan.Number} epoch {epoch}: validation {plan.Metric} {value:0.####}"));
            // After its stop a trial's further epochs (done before the signal landed) are not judged.
            if (plan.Spec.Asha is not { } settings || trial.Stop is not null || trial.Interrupted) continue;
            if (!rungs.TryGetValue(epoch, out var recorded)) rungs[epoch] = recorded = [];
            var decision = Asha.Judge(settings, plan, trial.Plan.Epochs, epoch, value, recorded);
            if (decision is null) continue;
            recorded.Add(value);
            trial.Decisions.Add(decision);
            Decisions.Add((trial.Plan.Number, decision));
            Write($"trial {trial.Plan.Number}: {decision.Reason}");
            if (decision.Continue) continue;
            trial.Stop = decision;
            if (trial.Process is { HasExited: false } p) _ = DistributedLauncher.Interrupt(p.Id);
        }
    }

    private void Conclude(LocalTrial trial)
    {
        var process = trial.Process!;
        process.WaitForExit();
        // The last rows may have landed between the last look and the exit.
        Observe(trial);
        var code = process.ExitCode;
        if (code == 0) trial.State = TrialState.Finished;
        else if (trial.Interrupted) trial.State = TrialState.Cancelled;
        else if (code == 130 && trial.Stop is not null) trial.State = TrialState.Stopped;
        else
        {
            trial.State = TrialState.Failed;
            lock (writeGate)
                trial.Error = trial.LastErrorLine
                    ?? (code > 128 ? $"killed by signal {code - 128}" : $"exited with code {code}") + (trial.LastLine is { } last ? $" (last output: {last})" : "");
        }
        trial.Test = SweepOutputs.ReadTestMetrics(trial.Folder, plan.Task);
        var best = trial.Best(plan) is { } b ? string.Create(CultureInfo.InvariantCulture, $", best validation {plan.Metric} {b.Value:0.####} at epoch {b.Epoch}") : "";
        var epochs = trial.Curve.Count == 1 ? "1 epoch" : $"{trial.Curve.Count} epochs";
        Write(trial.State switch
        {
            TrialState.Finished => $"trial {trial.Plan.Number} finished after {epochs}{best}",
            TrialState.Stopped => $"trial {trial.Plan.Number} stopped by ASHA after {epochs}{best}",
            TrialState.Cancelled => $"trial {trial.Plan.Number} interrupted after {epochs}{best}",
            _ => $"trial {trial.Plan.Number} failed: {trial.Error}",
        });
        lock (writeGate)
        {
            trial.Log?.Dispose();
            trial.Log = null;
        }
        process.Dispose();
        trial.Process = null;
    }

    // Ctrl+C: every trial stops at its next step and writes its folder; those still running after the grace are killed.
    private void StopAll(List<LocalTrial> running)
    {
        Write($"interrupted: stopping {running.Count} running trial(s)");
        foreach (var trial in running)
        {
            trial.Interrupted = true;
            if (!trial.Process!.HasExited) _ = DistributedLauncher.Interrupt(trial.Process.Id);
        }
        var deadline = DateTime.UtcNow + StopGrace;
        while (running.Any(t => !t.Process!.HasExited) && DateTime.UtcNow < deadline) Thread.Sleep(PollInterval);
        foreach (var trial in running)
        {
            if (!trial.Process!.HasExited)
            {
                Write($"trial {trial.Plan.Number} did not stop after the interrupt; killed it");
                DistributedLauncher.KillQuietly(trial.Process);
            }
            Conclude(trial);
        }
        running.Clear();
    }

    private void Write(string line)
    {
        lock (writeGate)
        {
            log.WriteLine(line);
            log.Flush();
        }
    }
}
