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
/// included; cancellation between optimizer steps. Data-parallel training plugs in through <see cref="IDataParallel"/>.
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
        device = recipe.Device == "auto" ? (cuda.is_available() ? Device.CUDA() : Device.CPU) : Device.Parse(recipe.Device);

        // The seed fixes the initial weights; libtorch's generator then drives augmentation and dropout.
        manual_seed(recipe.Seed);
        Model = ModelRegistry.Create(recipe.Model.Name, new ModelSpec(train.Images.shape[1], classes.Count, recipe.Model.Width));
        if (recipe.Model.Pretrained is { } weights) PretrainedWeights.Load(Model, weights);
        Model.to(device);
        parallel.BroadcastModel(Model);
        Optimizer = OptimizerFactory.Create(Model, recipe.Optimizer);

        var labels = train.Labels.ToArray<long>();
        sampler = parallel.Shard(recipe.Sampler == SamplerKind.ClassBalanced
            ? new ClassBalancedSampler(labels, recipe.Seed)
            : new ShuffleSampler(labels.Length, recipe.Seed));
        // The last incomplete batch is dropped (a batch of one breaks batch norm), unless it is the only one.
        BatchesPerEpoch = Math.Max(1, sampler.Length / recipe.BatchSize);
        StepsPerEpoch = (BatchesPerEpoch + recipe.GradAccumulation - 1) / recipe.GradAccumulation;
        Scheduler = LrScheduler.FromRecipe(Optimizer, recipe, StepsPerEpoch);

        var augment = recipe.Augment.CropPadding > 0 || recipe.Augment.HorizontalFlip ? new TensorAugmenter(recipe.Augment) : null;
        trainBatches = new ImageBatcher(train, recipe.Input, device, augment);
        validationBatches = new ImageBatcher(validation, recipe.Input, device);
        validationSampler = parallel.Shard(new SequentialSampler(validation.Count));
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
        if (state.RngState is { } rng)
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
            Report(s => s.OnEpoch(new EpochResult(epoch, state.Step, trainLoss, Optimizer.param_groups[0].lr, last, metric, isBest, epochClock.Elapsed)));
            if (stopEarly)
            {
                reason = StopReason.EarlyStopped;
                break;
            }
            if (recipe.Checkpoint.EveryEpochs > 0 && state.Epoch % recipe.Checkpoint.EveryEpochs == 0) SaveCheckpoint();
        }
        if (reason == StopReason.Completed) state.Finished = true;
        SaveCheckpoint();
        var summary = new TrainingSummary(reason, state.Epoch, state.Step, recipe.EarlyStopping.Metric, state.BestMetric, state.BestEpoch, last, clock.Elapsed);
        Report(s => s.OnFinished(summary));
        return summary;
    }

    /// <summary>Evaluates the current model on <paramref name="dataset"/> (normalised as the training data, no augmentation).</summary>
    public ClassificationReport Evaluate(TensorDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Evaluate(new ImageBatcher(dataset, recipe.Input, device), parallel.Shard(new SequentialSampler(dataset.Count)));
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
        var batchSize = recipe.BatchSize;
        var useAutocast = recipe.Bf16 && device.Type == DeviceType.CUDA;
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
                var (images, labels) = trainBatches.Batch(indices);
                Tensor loss;
                using (useAutocast ? autocast(DeviceType.CUDA) : null)
                    loss = nn.functional.cross_entropy(Model.call(images), labels, classWeights, label_smoothing: recipe.Loss.LabelSmoothing);
                (loss / groupSize).backward();
                var value = loss.item<double>();
                windowLoss += value;
                windowBatches++;
                windowSamples += indices.Length;
                state.EpochLossSum += value;
                state.EpochLossCount++;
            }
            parallel.AverageGradients(parameters);
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
                var eta = TimeSpan.FromSeconds(seconds / windowSteps * Math.Max(0, TotalSteps - state.Step));
                var progress = new StepProgress(epoch, state.Step, TotalSteps, windowLoss / windowBatches, Optimizer.param_groups[0].lr,
                    windowSamples * parallel.WorldSize / seconds, eta);
                Report(s => s.OnStep(progress));
                (windowLoss, windowBatches, windowSamples, windowSteps) = (0, 0, 0, 0);
                window.Restart();
            }
            if (recipe.Checkpoint.EverySteps > 0 && state.Step % recipe.Checkpoint.EverySteps == 0) SaveCheckpoint();
        }
        return null;
    }

    private ClassificationReport Evaluate(ImageBatcher batches, IEpochSampler evaluationSampler)
    {
        var evaluator = new ClassificationEvaluator(classes, 1, 5);
        var order = evaluationSampler.Order(0);
        Model.eval();
        try
        {
            using var noGrad = no_grad();
            for (var start = 0; start < order.Length; start += recipe.BatchSize)
            {
                using var scope = NewDisposeScope();
                var indices = order.AsSpan(start, Math.Min(recipe.BatchSize, order.Length - start));
                var (images, labels) = batches.Batch(indices);
                Tensor logits;
                using (recipe.Bf16 && device.Type == DeviceType.CUDA ? autocast(DeviceType.CUDA) : null)
                    logits = Model.call(images).to(float32);
                var lossSum = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<double>();
                evaluator.Update(logits, labels, lossSum);
            }
        }
        finally { Model.train(); }
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

    private bool Improves(double metric)
    {
        if (double.IsNaN(metric)) return false;
        if (state.BestMetric is not { } best) return true;
        var delta = recipe.EarlyStopping.MinDelta;
        return recipe.EarlyStopping.Metric == "loss" ? metric < best - delta : metric > best + delta;
    }

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

    private void SaveCheckpoint()
    {
        if (checkpoints is null || !parallel.IsPrimary) return;
        state.Scheduler = Scheduler.StateDict();
        using (var scope = NewDisposeScope())
            state.RngState = Convert.ToBase64String(get_rng_state().ToArray<byte>());
        var folder = checkpoints.Save(Model, Optimizer, state);
        Report(s => s.OnCheckpoint(new CheckpointWritten(folder, state.Epoch, state.Step, state.Finished)));
    }

    // A parameter is frozen while any stage that names its module prefix has not reached its until_epoch.
    private void ApplyFreezePlan(int epoch)
    {
        if (recipe.Freeze.Length == 0) return;
        foreach (var (name, parameter) in Model.named_parameters())
            parameter.requires_grad = !recipe.Freeze.Any(stage => epoch < stage.UntilEpoch &&
                stage.Modules.Any(prefix => name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal)));
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
        Optimizer.Dispose();
        Model.Dispose();
    }
}
