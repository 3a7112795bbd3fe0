using System.Diagnostics;
using Pipeline.Torch;
using Pipeline.Torch.Serialization;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Data;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Training.Schedules;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Models;
using static Pipeline.Torch.torch;

namespace Pipeline.Training;

/// <summary>
/// Trains a classifier as a recipe says: epochs of shuffled (or class-balanced) mini-batches with augmentation,
/// gradient accumulation, clipping and bf16 autocast on CUDA; the lr schedule per optimizer step; validation after every
/// epoch, best model by the recipe's metric, early stopping; checkpoints that resume bit-exactly (on CPU), mid-epoch
/// included; cancellation between optimizer steps. Data-parallel training plugs in through <see cref="IDataParallel"/>:
/// the recipe's batch size is the global one (each of N ranks trains on batch_size / N), so that N ranks take the same
/// steps as one process; every rank evaluates its part of the validation set and the counts are summed, so all ranks
/// see the same metric and agree on the best epoch and early stopping.
/// </summary>
public sealed class Trainer : IDisposable
{
    public const string BestModelFile = "best.safetensors";
    public const string CheckpointFolder = "checkpoints";

    private readonly Recipe recipe;
    private readonly TrainerOptions options;
    private readonly IDataParallel parallel;
    private readonly Device device;
    private readonly IEpochSampler sampler;
    private readonly ImageBatcher trainBatches;
    private readonly ImageBatcher validationBatches;
    private readonly IEpochSampler validationSampler;
    private readonly IReadOnlyList<string> classes;
    private readonly Tensor? classWeights;
    private readonly CheckpointStore? checkpoints;
    private readonly int rankBatchSize;
    private nn.Module<Tensor, Tensor> training;
    private Dictionary<string, Tensor>? bestWeights;
    private TrainingState state = new();

    public Trainer(Recipe recipe, TensorDataset train, TensorDataset validation, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (recipe.Task != TaskKind.Classify) throw new NotSupportedException($"task '{recipe.Task}' is not trainable yet; only classify is");
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("the validation set is empty", nameof(validation));
        this.recipe = recipe;
        this.options = options ?? new TrainerOptions();
        parallel = this.options.Parallel;
        classes = train.Classes;
        device = TrainingDevice.Resolve(recipe.Device, parallel.LocalRank);

        // The seed fixes the initial weights; libtorch's generator then drives augmentation and dropout.
        manual_seed(recipe.Seed);
        Model = ModelRegistry.Create(recipe.Model.Name, new ModelSpec(train.Images.shape[1], classes.Count, recipe.Model.Width));
        if (recipe.Model.Pretrained is { } weights) PretrainedWeights.Load(Model, weights);
        Model.to(device);
        // The wrapper starts every rank from rank 0's weights and buffers.
        training = parallel.Wrap(Model);
        // Ranks draw their own augmentation and dropout (their weights are rank 0's anyway).
        if (parallel.WorldSize > 1) manual_seed(recipe.Seed + parallel.Rank);
        Optimizer = OptimizerFactory.Create(Model, recipe.Optimizer);
        if (recipe.BatchSize % parallel.WorldSize != 0)
            throw new ArgumentException($"batch_size {recipe.BatchSize} is the global batch: it must be a multiple of the {parallel.WorldSize} ranks", nameof(recipe));
        rankBatchSize = recipe.BatchSize / parallel.WorldSize;

        var labels = train.Labels.ToArray<long>();
        sampler = parallel.Shard(recipe.Sampler == SamplerKind.ClassBalanced
            ? new ClassBalancedSampler(labels, recipe.Seed)
            : new ShuffleSampler(labels.Length, recipe.Seed), padToEqual: true);
        // The last incomplete batch is dropped (a batch of one breaks batch norm), unless it is the only one.
        BatchesPerEpoch = Math.Max(1, sampler.Length / rankBatchSize);
        StepsPerEpoch = (BatchesPerEpoch + recipe.GradAccumulation - 1) / recipe.GradAccumulation;
        Scheduler = LrScheduler.FromRecipe(Optimizer, recipe, StepsPerEpoch);

        var augment = recipe.Augment.CropPadding > 0 || recipe.Augment.HorizontalFlip ? new TensorAugmenter(recipe.Augment) : null;
        trainBatches = new ImageBatcher(train, recipe.Input, device, augment);
        validationBatches = new ImageBatcher(validation, recipe.Input, device);
        validationSampler = parallel.Shard(new SequentialSampler(validation.Count), padToEqual: false);
        if (ClassWeights.From(train.ClassCounts(), recipe.Loss.ClassWeights, recipe.Loss.Beta) is { } w)
            classWeights = tensor(w.Select(v => (float)v).ToArray(), device: device).DetachFromDisposeScope();
        if (this.options.OutputDirectory is { } dir)
            checkpoints = new CheckpointStore(Path.Combine(dir, CheckpointFolder), recipe.Checkpoint.KeepLast);
    }

    public nn.Module<Tensor, Tensor> Model { get; }
    public optim.Optimizer Optimizer { get; }
    public LrScheduler Scheduler { get; }
    public long BatchesPerEpoch { get; }
    public long StepsPerEpoch { get; }
    public long TotalSteps => StepsPerEpoch * recipe.Epochs;
    /// <summary>Where the run is (a copy).</summary>
    public TrainingState State => state with { };

    /// <summary>Continues from a checkpoint folder: weights, optimizer, schedule, RNG, position and best-model bookkeeping.</summary>
    public void Resume(string checkpoint)
    {
        state = CheckpointStore.Load(checkpoint, Model, Optimizer);
        if (state.Scheduler is { } s) Scheduler.LoadStateDict(s);
        // The checkpoint holds the epoch's loss sums over all ranks: rank 0 carries them on.
        if (!parallel.IsPrimary) (state.EpochLossSum, state.EpochLossCount) = (0, 0);
        var rng = state.RankRngStates is { } perRank && perRank.Length == parallel.WorldSize ? perRank[parallel.Rank] : state.RngState;
        if (rng is not null)
        {
            using var scope = NewDisposeScope();
            set_rng_state(tensor(Convert.FromBase64String(rng)));
        }
        bestWeights = null;
    }

    /// <summary>Trains until the recipe's epochs are done, early stopping, the step limit, or cancellation.</summary>
    public TrainingSummary Fit(CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var reason = StopReason.Completed;
        ClassificationReport? last = null;
        while (state.Epoch < recipe.Epochs && !state.Finished)
        {
            var epochClock = Stopwatch.StartNew();
            var epoch = state.Epoch;
            ApplyFreezePlan(epoch);
            if (TrainEpoch(epoch, cancellation) is { } stop)
            {
                reason = stop;
                break;
            }
            last = Evaluate(validationBatches, validationSampler);
            var metric = MetricOf(last);
            var (lossSum, lossCount) = (state.EpochLossSum, (double)state.EpochLossCount);
            if (parallel.WorldSize > 1 && parallel.SumOverRanks([lossSum, lossCount]) is [var sum, var count]) (lossSum, lossCount) = (sum, count);
            Scheduler.EpochEnd(metric);
            var isBest = Improves(metric);
            if (isBest) KeepBest(metric, epoch);
            else state.EpochsWithoutImprovement++;
            var trainLoss = lossCount == 0 ? double.NaN : lossSum / lossCount;
            state.Epoch++;
            state.BatchInEpoch = 0;
            state.EpochLossSum = 0;
            state.EpochLossCount = 0;
            var stopEarly = recipe.EarlyStopping.Patience is { } patience && state.EpochsWithoutImprovement >= patience;
            if (stopEarly) state.Finished = true;
            Report(s => s.OnEpoch(new EpochResult(epoch, state.Step, trainLoss, Optimizer.param_groups[0].lr, last, metric, isBest, epochClock.Elapsed)));
            if (stopEarly)
            {
                reason = StopReason.EarlyStopped;
                break;
            }
            if (recipe.Checkpoint.EveryEpochs > 0 && state.Epoch % recipe.Checkpoint.EveryEpochs == 0) SaveCheckpoint();
        }
        if (reason == StopReason.Completed) state.Finished = true;
        // Buffers drift apart after the last training forward: the run ends with rank 0's everywhere.
        parallel.SyncBuffers(Model);
        SaveCheckpoint();
        var summary = new TrainingSummary(reason, state.Epoch, state.Step, recipe.EarlyStopping.Metric, state.BestMetric, state.BestEpoch, last, clock.Elapsed);
        Report(s => s.OnFinished(summary));
        return summary;
    }

    /// <summary>Evaluates the current model on <paramref name="dataset"/> (normalised as the training data, no augmentation).</summary>
    public ClassificationReport Evaluate(TensorDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Evaluate(new ImageBatcher(dataset, recipe.Input, device), parallel.Shard(new SequentialSampler(dataset.Count), padToEqual: false));
    }

    /// <summary>Loads the best weights seen (this run's, or the run folder's <c>best.safetensors</c>) into the model.</summary>
    public bool RestoreBestWeights()
    {
        if (bestWeights is not null)
        {
            Model.load_state_dict(bestWeights);
            return true;
        }
        if (options.OutputDirectory is { } dir && File.Exists(Path.Combine(dir, BestModelFile)))
        {
            using var scope = NewDisposeScope();
            Model.load_state_dict(SafeTensors.Load(Path.Combine(dir, BestModelFile)));
            return true;
        }
        return false;
    }

    /// <summary>Trains the rest of one epoch; returns why it stopped early, or null when the epoch is complete.</summary>
    private StopReason? TrainEpoch(int epoch, CancellationToken cancellation)
    {
        var order = sampler.Order(epoch);
        var parameters = Model.parameters().ToArray();
        var batchSize = rankBatchSize;
        var useAutocast = recipe.Bf16 && device.Type == DeviceType.CUDA;
        var window = Stopwatch.StartNew();
        double windowLoss = 0;
        long windowBatches = 0, windowSamples = 0, windowSteps = 0;
        var b = state.BatchInEpoch;
        while (b < BatchesPerEpoch)
        {
            // Stop only between optimizer steps, so that a checkpoint never holds half-accumulated gradients; all
            // ranks stop at the same step when any of them is cancelled.
            if (AnyRank(cancellation.IsCancellationRequested)) return StopReason.Cancelled;
            if (options.MaxSteps is { } max && state.Step >= max) return StopReason.StepLimit;
            var groupEnd = Math.Min(b + recipe.GradAccumulation, BatchesPerEpoch);
            var groupSize = groupEnd - b;
            for (; b < groupEnd; b++)
            {
                using var scope = NewDisposeScope();
                // Gradients are averaged over ranks once per optimizer step, in the last micro-batch's backward.
                using var local = b < groupEnd - 1 ? parallel.NoSync(training) : null;
                var start = (int)(b * batchSize);
                var indices = order.AsSpan(start, (int)Math.Min(batchSize, order.Length - start));
                var (images, labels) = trainBatches.Batch(indices);
                Tensor loss;
                using (useAutocast ? autocast(DeviceType.CUDA) : null)
                    loss = nn.functional.cross_entropy(training.call(images), labels, classWeights, label_smoothing: recipe.Loss.LabelSmoothing);
                (loss / groupSize).backward();
                var value = loss.item<double>();
                windowLoss += value;
                windowBatches++;
                windowSamples += indices.Length;
                state.EpochLossSum += value;
                state.EpochLossCount++;
            }
            if (recipe.ClipGradNorm is { } maxNorm) nn.utils.clip_grad_norm_(parameters, maxNorm);
            Optimizer.step();
            Optimizer.zero_grad();
            Scheduler.Step();
            state.Step++;
            state.BatchInEpoch = b;
            windowSteps++;
            if (state.Step % recipe.LogEvery == 0 || state.Step == TotalSteps)
            {
                var seconds = Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                // The sinks' time (publishing progress, on rank 0) counts in the next window, as it does for the ranks that
                // wait for rank 0 meanwhile: every rank then reports the group's true rate.
                window.Restart();
                var eta = TimeSpan.FromSeconds(seconds / windowSteps * Math.Max(0, TotalSteps - state.Step));
                var progress = new StepProgress(epoch, state.Step, TotalSteps, windowLoss / windowBatches, Optimizer.param_groups[0].lr,
                    windowSamples * parallel.WorldSize / seconds, eta);
                Report(s => s.OnStep(progress));
                foreach (var sink in options.RankSinks) sink.OnStep(progress);
                (windowLoss, windowBatches, windowSamples, windowSteps) = (0, 0, 0, 0);
            }
            if (recipe.Checkpoint.EverySteps > 0 && state.Step % recipe.Checkpoint.EverySteps == 0) SaveCheckpoint();
        }
        return null;
    }

    private ClassificationReport Evaluate(ImageBatcher batches, IEpochSampler evaluationSampler)
    {
        // Every rank evaluates (and keeps as best) the same model: rank 0's running statistics.
        parallel.SyncBuffers(Model);
        var evaluator = ClassifierEvaluation.Run(Model, batches, evaluationSampler.Order(0), rankBatchSize, classes, recipe.Bf16 && device.Type == DeviceType.CUDA);
        if (parallel.WorldSize > 1) evaluator.SetCounts(parallel.SumOverRanks(evaluator.Counts()));
        return evaluator.Report();
    }

    private double MetricOf(ClassificationReport report) => recipe.EarlyStopping.Metric switch
    {
        "accuracy" => report.Accuracy,
        "macro_f1" => report.MacroF1,
        "weighted_f1" => report.WeightedF1,
        "loss" => report.Loss ?? double.NaN,
        var m => throw new InvalidOperationException($"unknown metric '{m}'"),
    };

    private bool Improves(double metric) => EarlyStopping.Improves(recipe.EarlyStopping, metric, state.BestMetric);

    private void KeepBest(double metric, int epoch)
    {
        state.BestMetric = metric;
        state.BestEpoch = epoch;
        state.EpochsWithoutImprovement = 0;
        if (bestWeights is not null)
            foreach (var t in bestWeights.Values) t.Dispose();
        using (var scope = NewDisposeScope())
        {
            bestWeights = Model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
        }
        if (options.OutputDirectory is { } dir && parallel.IsPrimary)
        {
            Directory.CreateDirectory(dir);
            SafeTensors.Save(Path.Combine(dir, BestModelFile), bestWeights);
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
        if (parallel.WorldSize > 1)
        {
            saved.RankRngStates = [.. parallel.AllGather(rng).Select(r => Convert.ToBase64String(r))];
            if (parallel.SumOverRanks([state.EpochLossSum, state.EpochLossCount]) is [var sum, var count])
                (saved.EpochLossSum, saved.EpochLossCount) = (sum, (long)count);
        }
        if (!parallel.IsPrimary) return;
        var folder = checkpoints.Save(Model, Optimizer, saved);
        Report(s => s.OnCheckpoint(new CheckpointWritten(folder, state.Epoch, state.Step, state.Finished)));
    }

    private bool AnyRank(bool flag) => parallel.WorldSize == 1 ? flag : parallel.SumOverRanks([flag ? 1 : 0])[0] > 0;

    // A parameter is frozen while any stage that names its module prefix has not reached its until_epoch.
    // The data-parallel wrapper reduces the parameters that required gradients when it was made: rewrap on a change.
    private void ApplyFreezePlan(int epoch)
    {
        if (recipe.Freeze.Length == 0) return;
        var changed = false;
        foreach (var (name, parameter) in Model.named_parameters())
        {
            var trainable = !recipe.Freeze.Any(stage => epoch < stage.UntilEpoch &&
                stage.Modules.Any(prefix => name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal)));
            changed |= parameter.requires_grad != trainable;
            parameter.requires_grad = trainable;
        }
        if (!changed || ReferenceEquals(training, Model)) return;
        training.Dispose();
        training = parallel.Wrap(Model);
    }

    private void Report(Action<ITrainingSink> send)
    {
        if (!parallel.IsPrimary) return;
        foreach (var sink in options.Sinks) send(sink);
    }

    public void Dispose()
    {
        if (bestWeights is not null)
            foreach (var t in bestWeights.Values) t.Dispose();
        classWeights?.Dispose();
        if (!ReferenceEquals(training, Model)) training.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}
