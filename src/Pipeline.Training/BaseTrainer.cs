using System.Diagnostics;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Data;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Training.Schedules;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>The files of a run folder that trainers write and services and the CLI read.</summary>
public static class RunFolderFiles
{
    public const string BestModel = "best.safetensors";
    public const string Checkpoints = "checkpoints";
}

/// <summary>
/// What every task's training shares (as Ultralytics' BaseTrainer): epochs of optimizer steps over the sampler's order,
/// with gradient accumulation, clipping and the lr schedule per step; progress every <c>log_every</c> steps and at the
/// first step, each epoch's end and at least every few seconds; validation
/// after every epoch, the best model by the recipe's metric, early stopping; checkpoints that resume bit-exactly (on
/// CPU), mid-epoch included; cancellation between optimizer steps, at the same step on every rank. A task brings its
/// model, the loss of one micro-batch, and its validation.
/// </summary>
/// <typeparam name="TSink">what the task reports its epochs and its end to</typeparam>
/// <typeparam name="TReport">what the task's validation returns</typeparam>
public abstract class BaseTrainer<TSink, TReport> : IDisposable where TSink : IStepSink
{
    private readonly string? outputDirectory;
    private readonly long? maxSteps;
    private readonly IReadOnlyList<TSink> sinks;
    private readonly IReadOnlyList<IStepSink> rankSinks;
    private nn.Module model = null!;
    private IEpochSampler sampler = null!;
    private CheckpointStore? checkpoints;
    private Dictionary<string, Tensor>? bestWeights;
    private TrainingState state = new();

    /// <param name="sinks">told of the run by the primary rank only</param>
    /// <param name="rankSinks">told of this rank's own steps, on every rank</param>
    protected BaseTrainer(Recipe recipe, IDataParallel parallel, string? outputDirectory, long? maxSteps, IReadOnlyList<TSink> sinks,
        IReadOnlyList<IStepSink> rankSinks)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(parallel);
        Recipe = recipe;
        Parallel = parallel;
        this.outputDirectory = outputDirectory;
        this.maxSteps = maxSteps;
        this.sinks = sinks;
        this.rankSinks = rankSinks;
    }

    protected Recipe Recipe { get; }
    protected IDataParallel Parallel { get; }
    public TorchSharp.Modules.OptimizerHelper Optimizer { get; private set; } = null!;
    public LrScheduler Scheduler { get; private set; } = null!;
    /// <summary>Images per micro-batch on this rank.</summary>
    protected int RankBatchSize { get; private set; }
    /// <summary>Micro-batches of this rank per epoch.</summary>
    public long BatchesPerEpoch { get; private set; }
    public long StepsPerEpoch { get; private set; }
    public long TotalSteps => StepsPerEpoch * Recipe.Epochs;
    /// <summary>Where the run is (a copy).</summary>
    public TrainingState State => state with { };

    /// <summary>The rest of the set-up, once the task's constructor has its model on its device: the optimizer, the
    /// schedule, the epoch's length from this rank's <paramref name="order"/> in batches of <paramref name="batchSize"/>.</summary>
    protected void Initialize(nn.Module trained, IEpochSampler order, int batchSize)
    {
        model = trained;
        sampler = order;
        RankBatchSize = batchSize;
        Optimizer = OptimizerFactory.Create(trained, Recipe.Optimizer);
        // The last incomplete batch is dropped (a batch of one breaks batch norm), unless it is the only one.
        BatchesPerEpoch = Math.Max(1, order.Length / batchSize);
        StepsPerEpoch = (BatchesPerEpoch + Recipe.GradAccumulation - 1) / Recipe.GradAccumulation;
        Scheduler = LrScheduler.FromRecipe(Optimizer, Recipe, StepsPerEpoch);
        if (outputDirectory is { } dir)
            checkpoints = new CheckpointStore(Path.Combine(dir, RunFolderFiles.Checkpoints), Recipe.Checkpoint.KeepLast);
    }

    /// <summary>Forward and backward of one micro-batch, the loss divided by <paramref name="accumulation"/>; returns the
    /// loss. Runs in a dispose scope. Gradients are averaged over ranks only where <paramref name="syncGradients"/>.</summary>
    protected abstract double TrainBatch(int epoch, long batch, ReadOnlySpan<long> indices, long accumulation, bool syncGradients);

    /// <summary>The current model on the validation set, and the recipe's metric of it; the same on every rank.</summary>
    protected abstract (TReport Report, double Metric) Validate();

    /// <summary>What the sinks are told of an epoch that ended.</summary>
    protected abstract Action<TSink> EpochMessage(int epoch, long step, double trainLoss, TReport report, double metric, bool isBest, TimeSpan elapsed);

    /// <summary>The parameters that take gradients changed (a freeze stage ended).</summary>
    protected virtual void OnTrainableParametersChanged() { }

    /// <summary>Continues from a checkpoint folder: weights, optimizer, schedule, RNG, position and best-model bookkeeping.</summary>
    public void Resume(string checkpoint)
    {
        state = CheckpointStore.Load(checkpoint, model, Optimizer);
        if (state.Scheduler is { } s) Scheduler.LoadStateDict(s);
        // The checkpoint holds the epoch's loss sums over all ranks: rank 0 carries them on.
        if (!Parallel.IsPrimary) (state.EpochLossSum, state.EpochLossCount) = (0, 0);
        var rng = state.RankRngStates is { } perRank && perRank.Length == Parallel.WorldSize ? perRank[Parallel.Rank] : state.RngState;
        if (rng is not null)
        {
            using var scope = NewDisposeScope();
            set_rng_state(tensor(Convert.FromBase64String(rng)));
        }
        // A run that completed its epochs (not one stopped early) goes on when the recipe now asks for more.
        if (state.Finished && state.Epoch < Recipe.Epochs && !StoppedEarly) state.Finished = false;
        DisposeBest();
    }

    /// <summary>Loads the best weights seen (this run's, or the run folder's <c>best.safetensors</c>) into the model.</summary>
    public bool RestoreBestWeights()
    {
        if (bestWeights is not null)
        {
            model.LoadStateDict(bestWeights);
            return true;
        }
        if (outputDirectory is { } dir && File.Exists(Path.Combine(dir, RunFolderFiles.BestModel)))
        {
            using var scope = NewDisposeScope();
            model.LoadStateDict(SafeTensors.Load(Path.Combine(dir, RunFolderFiles.BestModel)));
            return true;
        }
        return false;
    }

    /// <summary>Trains until the recipe's epochs are done, early stopping, the step limit, or cancellation; ends with a
    /// checkpoint. Returns why it stopped and the last validation.</summary>
    protected (StopReason Reason, TReport? Last, TimeSpan Elapsed) Run(CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var reason = StopReason.Completed;
        TReport? last = default;
        while (state.Epoch < Recipe.Epochs && !state.Finished)
        {
            var epochClock = Stopwatch.StartNew();
            var epoch = state.Epoch;
            ApplyFreezePlan(epoch);
            if (TrainEpoch(epoch, cancellation) is { } stop)
            {
                reason = stop;
                break;
            }
            var (report, metric) = Validate();
            last = report;
            var (lossSum, lossCount) = (state.EpochLossSum, (double)state.EpochLossCount);
            if (Parallel.WorldSize > 1 && Parallel.SumOverRanks([lossSum, lossCount]) is [var sum, var count]) (lossSum, lossCount) = (sum, count);
            Scheduler.EpochEnd(metric);
            var isBest = EarlyStopping.Improves(Recipe.EarlyStopping, metric, state.BestMetric);
            if (isBest) KeepBest(metric, epoch);
            else state.EpochsWithoutImprovement++;
            var trainLoss = lossCount == 0 ? double.NaN : lossSum / lossCount;
            state.Epoch++;
            state.BatchInEpoch = 0;
            state.EpochLossSum = 0;
            state.EpochLossCount = 0;
            if (StoppedEarly) state.Finished = true;
            Report(EpochMessage(epoch, state.Step, trainLoss, report, metric, isBest, epochClock.Elapsed));
            if (StoppedEarly)
            {
                reason = StopReason.EarlyStopped;
                break;
            }
            if (Recipe.Checkpoint.EveryEpochs > 0 && state.Epoch % Recipe.Checkpoint.EveryEpochs == 0) SaveCheckpoint();
        }
        if (reason == StopReason.Completed) state.Finished = true;
        // Buffers drift apart after the last training forward: the run ends with rank 0's everywhere.
        Parallel.SyncBuffers(model);
        SaveCheckpoint();
        return (reason, last, clock.Elapsed);
    }

    /// <summary>The longest time between two progress reports, whatever log_every says.</summary>
    public const double ProgressIntervalSeconds = 5;

    // Whether this run reported a step yet (each Fit, resumed or not, reports its first step).
    private bool progressReported;

    private bool StoppedEarly => EarlyStopping.PatienceRanOut(Recipe.EarlyStopping, state.EpochsWithoutImprovement);

    /// <summary>Trains the rest of one epoch; returns why it stopped early, or null when the epoch is complete.</summary>
    private StopReason? TrainEpoch(int epoch, CancellationToken cancellation)
    {
        model.train();
        var order = sampler.Order(epoch);
        var parameters = model.parameters().ToArray();
        var window = Stopwatch.StartNew();
        double windowLoss = 0;
        long windowBatches = 0, windowSamples = 0, windowSteps = 0;
        var b = state.BatchInEpoch;
        while (b < BatchesPerEpoch)
        {
            // Stop only between optimizer steps, so that a checkpoint never holds half-accumulated gradients; all
            // ranks stop at the same step when any of them is cancelled.
            if (AnyRank(cancellation.IsCancellationRequested)) return StopReason.Cancelled;
            if (maxSteps is { } max && state.Step >= max) return StopReason.StepLimit;
            var groupEnd = Math.Min(b + Recipe.GradAccumulation, BatchesPerEpoch);
            var groupSize = groupEnd - b;
            for (; b < groupEnd; b++)
            {
                using var scope = NewDisposeScope();
                var start = (int)(b * RankBatchSize);
                var indices = order.AsSpan(start, Math.Min(RankBatchSize, order.Length - start));
                // Gradients are averaged over ranks once per optimizer step, in the last micro-batch's backward.
                var value = TrainBatch(epoch, b, indices, groupSize, syncGradients: b == groupEnd - 1);
                windowLoss += value;
                windowBatches++;
                windowSamples += indices.Length;
                state.EpochLossSum += value;
                state.EpochLossCount++;
            }
            if (Recipe.ClipGradNorm is { } maxNorm) nn.utils.clip_grad_norm_(parameters, maxNorm);
            Optimizer.step();
            Optimizer.zero_grad();
            Scheduler.Step();
            state.Step++;
            state.BatchInEpoch = b;
            windowSteps++;
            // Besides every log_every steps: the run's first step, each epoch's last and at least every few seconds, so
            // that a small dataset (fewer steps than log_every) or a slow model shows progress from the start.
            if (state.Step % Recipe.LogEvery == 0 || state.Step == TotalSteps || !progressReported || b == BatchesPerEpoch
                || window.Elapsed.TotalSeconds >= ProgressIntervalSeconds)
            {
                progressReported = true;
                var seconds = Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                // The sinks' time (publishing progress, on rank 0) counts in the next window, as it does for the ranks that
                // wait for rank 0 meanwhile: every rank then reports the group's true rate.
                window.Restart();
                var eta = TimeSpan.FromSeconds(seconds / windowSteps * Math.Max(0, TotalSteps - state.Step));
                var progress = new StepProgress(epoch, state.Step, TotalSteps, windowLoss / windowBatches, Optimizer.ParamGroups.ElementAt(0).LearningRate,
                    windowSamples * Parallel.WorldSize / seconds, eta);
                Report(s => s.OnStep(progress));
                foreach (var sink in rankSinks) sink.OnStep(progress);
                (windowLoss, windowBatches, windowSamples, windowSteps) = (0, 0, 0, 0);
            }
            if (Recipe.Checkpoint.EverySteps > 0 && state.Step % Recipe.Checkpoint.EverySteps == 0) SaveCheckpoint();
        }
        return null;
    }

    private void KeepBest(double metric, int epoch)
    {
        state.BestMetric = metric;
        state.BestEpoch = epoch;
        state.EpochsWithoutImprovement = 0;
        DisposeBest();
        using (var scope = NewDisposeScope())
            bestWeights = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
        if (outputDirectory is { } dir && Parallel.IsPrimary)
        {
            Directory.CreateDirectory(dir);
            SafeTensors.Save(Path.Combine(dir, RunFolderFiles.BestModel), bestWeights);
        }
    }

    /// <summary>Every rank calls it at the same points (it gathers what only rank 0 writes).</summary>
    private void SaveCheckpoint()
    {
        if (checkpoints is null) return;
        byte[] rng;
        using (var scope = NewDisposeScope())
            rng = get_rng_state().ToArray<byte>();
        var saved = state with { Scheduler = Scheduler.StateDict(), RngState = Convert.ToBase64String(rng) };
        if (Parallel.WorldSize > 1)
        {
            saved.RankRngStates = [.. Parallel.AllGather(rng).Select(r => Convert.ToBase64String(r))];
            if (Parallel.SumOverRanks([state.EpochLossSum, state.EpochLossCount]) is [var sum, var count])
                (saved.EpochLossSum, saved.EpochLossCount) = (sum, (long)count);
        }
        if (!Parallel.IsPrimary) return;
        var folder = checkpoints.Save(model, Optimizer, saved);
        Report(s => s.OnCheckpoint(new CheckpointWritten(folder, state.Epoch, state.Step, state.Finished)));
    }

    private bool AnyRank(bool flag) => Parallel.WorldSize == 1 ? flag : Parallel.SumOverRanks([flag ? 1 : 0])[0] > 0;

    // A parameter is frozen while any stage that names its module prefix has not reached its until_epoch.
    private void ApplyFreezePlan(int epoch)
    {
        if (Recipe.Freeze.Length == 0) return;
        var changed = false;
        foreach (var (name, parameter) in model.named_parameters())
        {
            var trainable = !Recipe.Freeze.Any(stage => epoch < stage.UntilEpoch &&
                stage.Modules.Any(prefix => name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal)));
            changed |= parameter.requires_grad != trainable;
            parameter.requires_grad = trainable;
        }
        if (changed) OnTrainableParametersChanged();
    }

    /// <summary>Tells the sinks, on the primary rank only.</summary>
    protected void Report(Action<TSink> send)
    {
        ArgumentNullException.ThrowIfNull(send);
        if (!Parallel.IsPrimary) return;
        foreach (var sink in sinks) send(sink);
    }

    private void DisposeBest()
    {
        if (bestWeights is null) return;
        foreach (var t in bestWeights.Values) t.Dispose();
        bestWeights = null;
    }

    /// <summary>Releases the best weights, the optimizer and the model; a task adds what it owns.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        DisposeBest();
        Optimizer?.Dispose();
        model?.Dispose();
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
