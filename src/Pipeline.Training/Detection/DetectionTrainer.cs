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
using Pipeline.Vision.Detection;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Sampling;
using static Pipeline.Torch.torch;

namespace Pipeline.Training.Detection;

/// <summary>How a <see cref="DetectionTrainer"/> runs, apart from the recipe.</summary>
public sealed record DetectionTrainerOptions
{
    /// <summary>Run folder for <c>checkpoints/</c> and <c>best.safetensors</c> (null: nothing is written).</summary>
    public string? OutputDirectory { get; init; }
    public IReadOnlyList<IDetectionTrainingSink> Sinks { get; init; } = [];
    /// <summary>Stop (with a checkpoint) once this many optimizer steps have been taken in the whole run.</summary>
    public long? MaxSteps { get; init; }
    /// <summary>Ranks shard the training order and average gradients; each evaluates the whole validation set.</summary>
    public IDataParallel Parallel { get; init; } = SingleProcess.Instance;
}

/// <summary>
/// Trains an FCOS detector as a detect recipe says: the recipe's ResNet backbone (optionally pretrained), shuffled
/// mini-batches with box-aware horizontal flips, the recipe's optimizer and lr schedule per optimizer step, gradient
/// accumulation and clipping, bf16 autocast on CUDA; after every epoch the validation loss and COCO mAP
/// (<see cref="DetectionEvaluator"/>), the best model by <c>map</c>, <c>map50</c> or <c>loss</c>, early stopping;
/// checkpoints that resume where they stopped, mid-epoch included (flips are drawn from the seed, epoch and batch).
/// </summary>
public sealed class DetectionTrainer : IDisposable
{
    public const string BestModelFile = "best.safetensors";
    public const string CheckpointFolder = "checkpoints";

    private readonly Recipe recipe;
    private readonly DetectionTrainerOptions options;
    private readonly IDataParallel parallel;
    private readonly Device device;
    private readonly IEpochSampler sampler;
    private readonly DetectionTensorDataset train;
    private readonly DetectionTensorDataset validation;
    private readonly DetectionBatcher batcher;
    private readonly CheckpointStore? checkpoints;
    private Dictionary<string, Tensor>? bestWeights;
    private TrainingState state = new();

    public DetectionTrainer(Recipe recipe, DetectionTensorDataset train, DetectionTensorDataset validation, DetectionTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (recipe.Task != TaskKind.Detect) throw new ArgumentException($"a detection trainer needs a detect recipe, got task '{recipe.Task}'", nameof(recipe));
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("the validation set is empty", nameof(validation));
        if (!train.Classes.SequenceEqual(validation.Classes)) throw new ArgumentException("training and validation sets name different classes", nameof(validation));
        if (train.Images.shape[1] != validation.Images.shape[1]) throw new ArgumentException("training and validation images differ in channels", nameof(validation));
        this.recipe = recipe;
        this.train = train;
        this.validation = validation;
        this.options = options ?? new DetectionTrainerOptions();
        parallel = this.options.Parallel;
        // The data-parallel engine wraps image classifiers (one tensor in, one out); the detector's gradients are not
        // reduced across ranks yet, so several ranks would train apart.
        if (parallel.WorldSize > 1) throw new NotSupportedException("detection training runs in one process for now; data-parallel training is for classifiers");
        device = TrainingDevice.Resolve(recipe.Device);

        manual_seed(recipe.Seed);
        var channels = train.Images.shape[1];
        Model = DetectionEvaluation.CreateModel(recipe, train.Classes.Count, channels);
        // Pretrained weights are a classifier's (torchvision names without "backbone.body."): they go into the body.
        if (recipe.Model.Pretrained is { } weights) PretrainedWeights.Load(Model.backbone.body, weights);
        Model.to(device);
        Optimizer = OptimizerFactory.Create(Model, recipe.Optimizer);

        sampler = parallel.Shard(new ShuffleSampler(train.Count, recipe.Seed), padToEqual: true);
        // The last incomplete batch is dropped (batch norm), unless it is the only one.
        BatchesPerEpoch = Math.Max(1, sampler.Length / recipe.BatchSize);
        StepsPerEpoch = (BatchesPerEpoch + recipe.GradAccumulation - 1) / recipe.GradAccumulation;
        Scheduler = LrScheduler.FromRecipe(Optimizer, recipe, StepsPerEpoch);
        batcher = new DetectionBatcher(recipe.Input, channels, device);
        if (this.options.OutputDirectory is { } dir)
            checkpoints = new CheckpointStore(Path.Combine(dir, CheckpointFolder), recipe.Checkpoint.KeepLast);
    }

    public Fcos Model { get; }
    public optim.Optimizer Optimizer { get; }
    public LrScheduler Scheduler { get; }
    public long BatchesPerEpoch { get; }
    public long StepsPerEpoch { get; }
    public long TotalSteps => StepsPerEpoch * recipe.Epochs;
    public IReadOnlyList<string> Classes => train.Classes;
    /// <summary>Where the run is (a copy).</summary>
    public TrainingState State => state with { };

    /// <summary>Continues from a checkpoint folder: weights, optimizer, schedule, position and best-model bookkeeping.</summary>
    public void Resume(string checkpoint)
    {
        state = CheckpointStore.Load(checkpoint, Model, Optimizer);
        if (state.Scheduler is { } s) Scheduler.LoadStateDict(s);
        // A run that completed its epochs (not one stopped early) goes on when the recipe now asks for more.
        var stoppedEarly = recipe.EarlyStopping.Patience is { } patience && state.EpochsWithoutImprovement >= patience;
        if (state.Finished && state.Epoch < recipe.Epochs && !stoppedEarly) state.Finished = false;
        DisposeBest();
    }

    /// <summary>Trains until the recipe's epochs are done, early stopping, the step limit, or cancellation.</summary>
    public DetectionTrainingSummary Fit(CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var reason = StopReason.Completed;
        DetectionReport? last = null;
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
            var (report, validationLoss) = Evaluate(validation);
            last = report;
            var metric = recipe.EarlyStopping.Metric switch
            {
                "map" => report.Map ?? double.NaN,
                "map50" => report.Map50 ?? double.NaN,
                "loss" => validationLoss,
                var m => throw new InvalidOperationException($"unknown detection metric '{m}'"),
            };
            Scheduler.EpochEnd(metric);
            var isBest = Improves(metric);
            if (isBest) KeepBest(metric, epoch);
            else state.EpochsWithoutImprovement++;
            var trainLoss = state.EpochLossCount == 0 ? double.NaN : state.EpochLossSum / state.EpochLossCount;
            state.Epoch++;
            state.BatchInEpoch = 0;
            state.EpochLossSum = 0;
            state.EpochLossCount = 0;
            var stopEarly = recipe.EarlyStopping.Patience is { } patience && state.EpochsWithoutImprovement >= patience;
            if (stopEarly) state.Finished = true;
            var result = new DetectionEpochResult(epoch, state.Step, trainLoss, validationLoss, Optimizer.param_groups[0].lr, report, metric, isBest, epochClock.Elapsed);
            Report(s => s.OnEpoch(result));
            if (stopEarly)
            {
                reason = StopReason.EarlyStopped;
                break;
            }
            if (recipe.Checkpoint.EveryEpochs > 0 && state.Epoch % recipe.Checkpoint.EveryEpochs == 0) SaveCheckpoint();
        }
        if (reason == StopReason.Completed) state.Finished = true;
        SaveCheckpoint();
        var summary = new DetectionTrainingSummary(reason, state.Epoch, state.Step, recipe.EarlyStopping.Metric, state.BestMetric, state.BestEpoch, last, clock.Elapsed);
        Report(s => s.OnFinished(summary));
        return summary;
    }

    /// <summary>COCO metrics and the mean loss of the current model on <paramref name="data"/> (no augmentation).</summary>
    public (DetectionReport Report, double Loss) Evaluate(DetectionTensorDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.Classes.SequenceEqual(Classes)) throw new ArgumentException("the set names other classes than the model's", nameof(data));
        return DetectionEvaluation.Evaluate(recipe, Model, batcher, data, device);
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

    private StopReason? TrainEpoch(int epoch, CancellationToken cancellation)
    {
        Model.train();
        var order = sampler.Order(epoch);
        var parameters = Model.parameters().ToArray();
        var batchSize = recipe.BatchSize;
        var window = Stopwatch.StartNew();
        double windowLoss = 0;
        long windowBatches = 0, windowSamples = 0, windowSteps = 0;
        var b = state.BatchInEpoch;
        while (b < BatchesPerEpoch)
        {
            // Stop only between optimizer steps, so that a checkpoint never holds half-accumulated gradients.
            if (cancellation.IsCancellationRequested) return StopReason.Cancelled;
            if (options.MaxSteps is { } max && state.Step >= max) return StopReason.StepLimit;
            var groupEnd = Math.Min(b + recipe.GradAccumulation, BatchesPerEpoch);
            var groupSize = groupEnd - b;
            for (; b < groupEnd; b++)
            {
                using var scope = NewDisposeScope();
                var start = (int)(b * batchSize);
                var indices = order.AsSpan(start, (int)Math.Min(batchSize, order.Length - start));
                var flips = recipe.Augment.HorizontalFlip ? SeedMix.Random(recipe.Seed, epoch, b, parallel.Rank) : null;
                var (images, targets) = batcher.Batch(train, indices, flips);
                using var output = DetectionEvaluation.Forward(Model, images, AutocastCuda);
                var loss = DetectionEvaluation.TotalLoss(Model, output, targets);
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
                (windowLoss, windowBatches, windowSamples, windowSteps) = (0, 0, 0, 0);
            }
            if (recipe.Checkpoint.EverySteps > 0 && state.Step % recipe.Checkpoint.EverySteps == 0) SaveCheckpoint();
        }
        return null;
    }

    private bool AutocastCuda => recipe.Bf16 && device.Type == DeviceType.CUDA;

    private bool Improves(double metric) => EarlyStopping.Improves(recipe.EarlyStopping, metric, state.BestMetric);

    private void KeepBest(double metric, int epoch)
    {
        state.BestMetric = metric;
        state.BestEpoch = epoch;
        state.EpochsWithoutImprovement = 0;
        DisposeBest();
        using (var scope = NewDisposeScope())
            bestWeights = Model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone().DetachFromDisposeScope(), StringComparer.Ordinal);
        if (options.OutputDirectory is { } dir && parallel.IsPrimary)
        {
            Directory.CreateDirectory(dir);
            SafeTensors.Save(Path.Combine(dir, BestModelFile), bestWeights);
        }
    }

    private void SaveCheckpoint()
    {
        if (checkpoints is null || !parallel.IsPrimary) return;
        state.Scheduler = Scheduler.StateDict();
        var folder = checkpoints.Save(Model, Optimizer, state);
        Report(s => s.OnCheckpoint(new CheckpointWritten(folder, state.Epoch, state.Step, state.Finished)));
    }

    private void ApplyFreezePlan(int epoch)
    {
        if (recipe.Freeze.Length == 0) return;
        foreach (var (name, parameter) in Model.named_parameters())
            parameter.requires_grad = !recipe.Freeze.Any(stage => epoch < stage.UntilEpoch &&
                stage.Modules.Any(prefix => name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal)));
    }

    private void Report(Action<IDetectionTrainingSink> send)
    {
        if (!parallel.IsPrimary) return;
        foreach (var sink in options.Sinks) send(sink);
    }

    private void DisposeBest()
    {
        if (bestWeights is null) return;
        foreach (var t in bestWeights.Values) t.Dispose();
        bestWeights = null;
    }

    public void Dispose()
    {
        DisposeBest();
        batcher.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}
