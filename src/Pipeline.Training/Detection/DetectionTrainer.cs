using Pipeline.Distributed;
using TorchSharp;
using Pipeline.Training.Data;
using Pipeline.Training.Distributed;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Detection;
using Pipeline.Vision.Evaluation;
using Pipeline.Vision.Sampling;
using Pipeline.Training.Precision;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Detection;

/// <summary>How a <see cref="DetectionTrainer"/> runs, apart from the recipe.</summary>
public sealed record DetectionTrainerOptions
{
    /// <summary>Run folder for <c>checkpoints/</c> and <c>best.safetensors</c> (null: nothing is written).</summary>
    public string? OutputDirectory { get; init; }
    public IReadOnlyList<IDetectionTrainingSink> Sinks { get; init; } = [];
    /// <summary>Told of this rank's own steps, on every rank (the primary's run goes to <see cref="Sinks"/>).</summary>
    public IReadOnlyList<IStepSink> RankSinks { get; init; } = [];
    /// <summary>Stop (with a checkpoint) once this many optimizer steps have been taken in the whole run.</summary>
    public long? MaxSteps { get; init; }
    /// <summary>Ranks shard the training order and average gradients; each evaluates the whole validation set with the
    /// primary's BatchNorm statistics, so every rank keeps the same best model.</summary>
    public IDataParallel Parallel { get; init; } = SingleProcess.Instance;
}

/// <summary>A detector's validation: COCO metrics and the mean loss.</summary>
public sealed record DetectionValidation(DetectionReport Report, double Loss);

/// <summary>
/// Trains an FCOS detector as a detect recipe says: the recipe's ResNet backbone (optionally pretrained), shuffled
/// mini-batches with box-aware horizontal flips, data-parallel over ranks as classifiers are (rank 0's weights at the
/// start, gradients averaged once per optimizer step, each rank's BatchNorm on its own batch, rank 0's running statistics
/// at validation and at the end), and what every task shares (<see cref="BaseTrainer{TSink, TReport}"/>:
/// the optimizer and lr schedule per step, accumulation, clipping, checkpoints that resume mid-epoch, early stopping);
/// bf16 on CUDA through a bf16 copy with fp32 master weights (<see cref="Bf16MasterWeights{TOut}"/>); after every epoch the validation loss and COCO mAP (<see cref="DetectionEvaluator"/>), the
/// best model by <c>map</c>, <c>map50</c> or <c>loss</c>. Flips are drawn from the seed, epoch and batch, so a resumed
/// run draws the same ones.
/// </summary>
public sealed class DetectionTrainer : BaseTrainer<IDetectionTrainingSink, DetectionValidation>
{
    public const string BestModelFile = RunFolderFiles.BestModel;
    public const string CheckpointFolder = RunFolderFiles.Checkpoints;

    private readonly Device device;
    private readonly DetectionTensorDataset train;
    private readonly DetectionTensorDataset validation;
    private readonly DetectionBatcher batcher;
    private readonly Bf16MasterWeights<FcosOutput>? bf16;
    private DistributedDataParallel? ddp;

    public DetectionTrainer(Recipe recipe, DetectionTensorDataset train, DetectionTensorDataset validation, DetectionTrainerOptions? options = null)
        : base(recipe, (options ??= new DetectionTrainerOptions()).Parallel, options.OutputDirectory, options.MaxSteps, options.Sinks, options.RankSinks)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (recipe.Task != TaskKind.Detect) throw new ArgumentException($"a detection trainer needs a detect recipe, got task '{recipe.Task}'", nameof(recipe));
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        if (validation.Count == 0) throw new ArgumentException("the validation set is empty", nameof(validation));
        if (!train.Classes.SequenceEqual(validation.Classes)) throw new ArgumentException("training and validation sets name different classes", nameof(validation));
        if (train.Images.shape[1] != validation.Images.shape[1]) throw new ArgumentException("training and validation images differ in channels", nameof(validation));
        this.train = train;
        this.validation = validation;
        if (recipe.BatchSize % Parallel.WorldSize != 0)
            throw new ArgumentException($"batch_size {recipe.BatchSize} is the global batch: it must be a multiple of the {Parallel.WorldSize} ranks", nameof(recipe));
        device = TrainingDevice.Resolve(recipe.Device, Parallel.LocalRank);

        manual_seed(recipe.Seed);
        var channels = train.Images.shape[1];
        Model = DetectionEvaluation.CreateModel(recipe, train.Classes.Count, channels);
        // Pretrained weights are a classifier's (torchvision names without "backbone.body."): they go into the body.
        if (recipe.Model.Pretrained is { } weights) PretrainedWeights.Load(Model.backbone.body, weights);
        Model.to(device);
        // Every rank starts from rank 0's weights and buffers.
        ddp = Parallel.Attach(Model);
        if (Trainer.UsesBf16(recipe, device)) bf16 = new Bf16MasterWeights<FcosOutput>(Model, DetectionEvaluation.CreateModel(recipe, train.Classes.Count, channels));
        Initialize(Model, Parallel.Shard(new ShuffleSampler(train.Count, recipe.Seed), padToEqual: true), recipe.BatchSize / Parallel.WorldSize);
        batcher = new DetectionBatcher(recipe.Input, channels, device);
    }

    public Fcos Model { get; }
    public IReadOnlyList<string> Classes => train.Classes;

    /// <summary>Trains until the recipe's epochs are done, early stopping, the step limit, or cancellation.</summary>
    public DetectionTrainingSummary Fit(CancellationToken cancellation = default)
    {
        var (reason, last, elapsed) = Run(cancellation);
        var state = State;
        var summary = new DetectionTrainingSummary(reason, state.Epoch, state.Step, Recipe.EarlyStopping.Metric, state.BestMetric, state.BestEpoch, last?.Report, elapsed);
        Report(s => s.OnFinished(summary));
        return summary;
    }

    /// <summary>COCO metrics and the mean loss of the current model on <paramref name="data"/> (no augmentation).</summary>
    public (DetectionReport Report, double Loss) Evaluate(DetectionTensorDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.Classes.SequenceEqual(Classes)) throw new ArgumentException("the set names other classes than the model's", nameof(data));
        return DetectionEvaluation.Evaluate(Recipe, Model, batcher, data, device);
    }

    protected override double TrainBatch(int epoch, long batch, ReadOnlySpan<long> indices, long accumulation, bool syncGradients)
    {
        var flips = Recipe.Augment.HorizontalFlip ? SeedMix.Random(Recipe.Seed, epoch, batch, Parallel.Rank) : null;
        var (images, targets) = batcher.Batch(train, indices, flips);
        bf16?.Refresh();
        // The losses run on float32 outputs whatever precision the network ran in.
        using var output = bf16 is null ? DetectionEvaluation.Forward(Model, images) : DetectionEvaluation.Forward(bf16.Working, images.to(ScalarType.BFloat16));
        var loss = DetectionEvaluation.TotalLoss(Model, output, targets);
        (loss / accumulation).backward();
        bf16?.AccumulateGradients();
        // Gradient accumulation stays local: the ranks average once per optimizer step.
        if (syncGradients) ddp?.SynchronizeGradients();
        return loss.ToDouble();
    }

    // The gradient buckets hold the parameters that required gradients when they were made: rebuilt on a change.
    protected override void OnTrainableParametersChanged()
    {
        if (ddp is null) return;
        ddp.Dispose();
        ddp = Parallel.Attach(Model);
    }

    protected override (DetectionValidation Report, double Metric) Validate()
    {
        // Every rank evaluates (and keeps as best) the same model: rank 0's running statistics.
        Parallel.SyncBuffers(Model);
        var (report, loss) = Evaluate(validation);
        var metric = Recipe.EarlyStopping.Metric switch
        {
            "map" => report.Map ?? double.NaN,
            "map50" => report.Map50 ?? double.NaN,
            "loss" => loss,
            var m => throw new InvalidOperationException($"unknown detection metric '{m}'"),
        };
        return (new DetectionValidation(report, loss), metric);
    }

    protected override Action<IDetectionTrainingSink> EpochMessage(int epoch, long step, double trainLoss, DetectionValidation report, double metric, bool isBest,
        TimeSpan elapsed)
    {
        var result = new DetectionEpochResult(epoch, step, trainLoss, report.Loss, Optimizer.ParamGroups.ElementAt(0).LearningRate, report.Report, metric, isBest, elapsed);
        return s => s.OnEpoch(result);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            batcher.Dispose();
            ddp?.Dispose();
            bf16?.Dispose();
        }
        base.Dispose(disposing);
    }
}
