using Pipeline.Distributed;
using Pipeline.Training.Data;
using Pipeline.Training.Distributed;
using Pipeline.Training.Precision;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Models;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training;

/// <summary>
/// Trains a classifier as a recipe says: epochs of shuffled (or class-balanced) mini-batches with augmentation,
/// gradient accumulation, clipping and bf16 on CUDA (fp32 master weights: <see cref="Bf16MasterWeights{TOut}"/>); the lr
/// schedule per optimizer step; validation after every
/// epoch, best model by the recipe's metric, early stopping; checkpoints that resume bit-exactly (on CPU), mid-epoch
/// included; cancellation between optimizer steps. Data-parallel training plugs in through <see cref="IDataParallel"/>:
/// the recipe's batch size is the global one (each of N ranks trains on batch_size / N), so that N ranks take the same
/// steps as one process; every rank evaluates its part of the validation set and the counts are summed, so all ranks
/// see the same metric and agree on the best epoch and early stopping.
/// </summary>
public sealed class Trainer : BaseTrainer<ITrainingSink, ClassificationReport>
{
    public const string BestModelFile = RunFolderFiles.BestModel;
    public const string CheckpointFolder = RunFolderFiles.Checkpoints;

    private readonly Device device;
    private readonly ImageBatcher trainBatches;
    private readonly ImageBatcher validationBatches;
    private readonly IEpochSampler validationSampler;
    private readonly IReadOnlyList<string> classes;
    private readonly Tensor? classWeights;
    private DistributedDataParallel? ddp;
    private readonly Bf16MasterWeights<Tensor>? bf16;

    public Trainer(Recipe recipe, TensorDataset train, TensorDataset validation, TrainerOptions? options = null)
        : base(recipe, (options ??= new TrainerOptions()).Parallel, options.OutputDirectory, options.MaxSteps, options.Sinks, options.RankSinks)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (recipe.Task != TaskKind.Classify) throw new NotSupportedException($"task '{recipe.Task}' is not trainable yet; only classify is");
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("the validation set is empty", nameof(validation));
        var parallel = Parallel;
        classes = train.Classes;
        device = TrainingDevice.Resolve(recipe.Device, parallel.LocalRank);

        // The seed fixes the initial weights; libtorch's generator then drives augmentation and dropout.
        manual_seed(recipe.Seed);
        var spec = new ModelSpec(ImageBatcher.ModelChannels(recipe.Input, train.Images.shape[1]), classes.Count, recipe.Model.Width);
        Model = ModelRegistry.Create(recipe.Model.Name, spec);
        // A named backbone is imported on first use (one line on stderr says which file).
        if (recipe.Model.Pretrained is { } weights) PretrainedWeights.Load(Model, weights, Console.Error);
        Model.to(device);
        // Every rank starts from rank 0's weights and buffers.
        ddp = parallel.Attach(Model);
        // The bf16 copy's own initial weights are overwritten by the masters' before every forward.
        if (UsesBf16(recipe, device)) bf16 = new Bf16MasterWeights<Tensor>(Model, ModelRegistry.Create(recipe.Model.Name, spec));
        // Ranks draw their own augmentation and dropout (their weights are rank 0's anyway).
        if (parallel.WorldSize > 1) manual_seed(recipe.Seed + parallel.Rank);
        if (recipe.BatchSize % parallel.WorldSize != 0)
            throw new ArgumentException($"batch_size {recipe.BatchSize} is the global batch: it must be a multiple of the {parallel.WorldSize} ranks", nameof(recipe));

        var labels = train.Labels.ToArray<long>();
        var sampler = parallel.Shard(recipe.Sampler == SamplerKind.ClassBalanced
            ? new ClassBalancedSampler(labels, recipe.Seed)
            : new ShuffleSampler(labels.Length, recipe.Seed), padToEqual: true);
        Initialize(Model, sampler, recipe.BatchSize / parallel.WorldSize);

        var augment = recipe.Augment.CropPadding > 0 || recipe.Augment.HorizontalFlip ? new TensorAugmenter(recipe.Augment) : null;
        trainBatches = new ImageBatcher(train, recipe.Input, device, augment);
        validationBatches = new ImageBatcher(validation, recipe.Input, device);
        validationSampler = parallel.Shard(new SequentialSampler(validation.Count), padToEqual: false);
        if (ClassWeights.From(train.ClassCounts(), recipe.Loss.ClassWeights, recipe.Loss.Beta) is { } w)
            classWeights = tensor(w.Select(v => (float)v).ToArray(), device: device).DetachFromDisposeScope();
    }

    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>Trains until the recipe's epochs are done, early stopping, the step limit, or cancellation.</summary>
    public TrainingSummary Fit(CancellationToken cancellation = default)
    {
        var (reason, last, elapsed) = Run(cancellation);
        var state = State;
        var summary = new TrainingSummary(reason, state.Epoch, state.Step, Recipe.EarlyStopping.Metric, state.BestMetric, state.BestEpoch, last, elapsed);
        Report(s => s.OnFinished(summary));
        return summary;
    }

    /// <summary>Evaluates the current model on <paramref name="dataset"/> (normalised as the training data, no augmentation).</summary>
    public ClassificationReport Evaluate(TensorDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Evaluate(new ImageBatcher(dataset, Recipe.Input, device), Parallel.Shard(new SequentialSampler(dataset.Count), padToEqual: false));
    }

    protected override double TrainBatch(int epoch, long batch, ReadOnlySpan<long> indices, long accumulation, bool syncGradients)
    {
        var (images, labels) = trainBatches.Batch(indices);
        bf16?.Refresh();
        // The loss is computed in fp32 whatever precision the network ran in.
        var logits = bf16 is null ? Model.call(images) : bf16.Working.call(images.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        var loss = nn.functional.cross_entropy(logits, labels, classWeights, label_smoothing: Recipe.Loss.LabelSmoothing);
        (loss / accumulation).backward();
        bf16?.AccumulateGradients();
        // Gradient accumulation stays local: the ranks average once per optimizer step.
        if (syncGradients) ddp?.SynchronizeGradients();
        return loss.ToDouble();
    }

    protected override (ClassificationReport Report, double Metric) Validate()
    {
        var report = Evaluate(validationBatches, validationSampler);
        return (report, MetricOf(report));
    }

    protected override Action<ITrainingSink> EpochMessage(int epoch, long step, double trainLoss, ClassificationReport report, double metric, bool isBest, TimeSpan elapsed)
    {
        var result = new EpochResult(epoch, step, trainLoss, Optimizer.ParamGroups.ElementAt(0).LearningRate, report, metric, isBest, elapsed);
        return s => s.OnEpoch(result);
    }

    // The gradient buckets hold the parameters that required gradients when they were made: rebuilt on a change.
    protected override void OnTrainableParametersChanged()
    {
        if (ddp is null) return;
        ddp.Dispose();
        ddp = Parallel.Attach(Model);
    }

    /// <summary>Whether a recipe trains through a bf16 copy on this device: on CUDA when it asks (CPU trains in fp32).</summary>
    public static bool UsesBf16(Recipe recipe, Device device)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(device);
        return recipe.Bf16 && device.type == DeviceType.CUDA;
    }

    private ClassificationReport Evaluate(ImageBatcher batches, IEpochSampler evaluationSampler)
    {
        // Every rank evaluates (and keeps as best) the same model: rank 0's running statistics.
        Parallel.SyncBuffers(Model);
        var evaluator = ClassifierEvaluation.Run(Model, batches, evaluationSampler.Order(0), RankBatchSize, classes);
        if (Parallel.WorldSize > 1) evaluator.SetCounts(Parallel.SumOverRanks(evaluator.Counts()));
        return evaluator.Report();
    }

    private double MetricOf(ClassificationReport report) => Recipe.EarlyStopping.Metric switch
    {
        "accuracy" => report.Accuracy,
        "macro_f1" => report.MacroF1,
        "weighted_f1" => report.WeightedF1,
        "loss" => report.Loss ?? double.NaN,
        var m => throw new InvalidOperationException($"unknown metric '{m}'"),
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            classWeights?.Dispose();
            ddp?.Dispose();
            bf16?.Dispose();
        }
        base.Dispose(disposing);
    }
}
