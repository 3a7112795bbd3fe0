using Pipeline.Vision.Data;

namespace Pipeline.Training.Recipes;

// Everything about a run. Files spell keys in snake_case (batch_size, early_stopping.patience); enums too
// (multi_step, class_balanced). Every default here is the default classify recipe, so no file is needed: on
// Fashion-MNIST, ResNet-20 for 12 epochs reaches 93.5% test accuracy in 10.0 minutes on 2 CPU cores (bench fashion;
// machines of this kind vary, see the README).

public enum OptimizerKind { Sgd, Adamw }
public enum ScheduleKind { Constant, Cosine, MultiStep, Plateau }
public enum SamplerKind { Shuffle, ClassBalanced }
public enum ClassWeighting { None, InverseFrequency, EffectiveNumber }
public enum MetricMode { Max, Min }

public sealed record Recipe
{
    public TaskKind Task { get; set; } = TaskKind.Classify;
    public ModelRecipe Model { get; set; } = new();
    public InputRecipe Input { get; set; } = new();
    public DataRecipe Data { get; set; } = new();
    public int Epochs { get; set; } = 12;
    public int BatchSize { get; set; } = 128;
    public long Seed { get; set; }
    /// <summary>cpu, cuda, cuda:N, or auto (CUDA when there is one).</summary>
    public string Device { get; set; } = "auto";
    public OptimizerRecipe Optimizer { get; set; } = new();
    public ScheduleRecipe Schedule { get; set; } = new();
    /// <summary>Clip the joint gradient norm to this (null: no clipping).</summary>
    public double? ClipGradNorm { get; set; }
    /// <summary>Micro-batches whose gradients add up to one optimizer step.</summary>
    public int GradAccumulation { get; set; } = 1;
    /// <summary>bf16 forward and backward through a bf16 copy with fp32 master weights (losses in fp32); applies on CUDA only (CPU always trains in float32).</summary>
    public bool Bf16 { get; set; } = true;
    public LossRecipe Loss { get; set; } = new();
    public SamplerKind Sampler { get; set; } = SamplerKind.Shuffle;
    public AugmentRecipe Augment { get; set; } = new();
    /// <summary>Progressive unfreezing: each stage keeps the named modules frozen until its epoch.</summary>
    public FreezeStage[] Freeze { get; set; } = [];
    public EarlyStoppingRecipe EarlyStopping { get; set; } = new();
    public CheckpointRecipe Checkpoint { get; set; } = new();
    /// <summary>Report progress every this many optimizer steps.</summary>
    public int LogEvery { get; set; } = 50;
    /// <summary>What only detection recipes use (task: detect).</summary>
    public DetectionRecipe Detection { get; set; } = new();
}

public sealed record DetectionRecipe
{
    /// <summary>How images are brought to input.size: resize (aspect ratio not kept) or letterbox (square sizes).</summary>
    public DetectionFit Fit { get; set; } = DetectionFit.Resize;
    /// <summary>Channels of the feature pyramid and the head (a multiple of 32).</summary>
    public long FpnChannels { get; set; } = 64;
    /// <summary>conv/GroupNorm/ReLU layers per head tower (torchvision: 4).</summary>
    public int HeadConvs { get; set; } = 4;
    /// <summary>Detections scoring below this are dropped (low, as COCO evaluation wants the whole ranking).</summary>
    public double ScoreThreshold { get; set; } = 0.05;
    public double NmsThreshold { get; set; } = 0.6;
    public int DetectionsPerImage { get; set; } = 100;
}

public sealed record ModelRecipe
{
    /// <summary>A name from <c>ModelRegistry</c>.</summary>
    public string Name { get; set; } = "resnet20";
    /// <summary>Channel width for models that have one (small_cnn and cnn6: 32; CIFAR ResNets: 16; their first stage's).</summary>
    public long? Width { get; set; }
    /// <summary>Safetensors weights to start from (tensors whose shape differs, a new head, are left as initialised), or
    /// a named backbone (<c>imagenet-resnet18</c>: see <c>PretrainedBackbones</c>), which also sets the model and input.</summary>
    public string? Pretrained { get; set; }
}

public sealed record InputRecipe
{
    /// <summary>[height, width] the images are resized to (null: as they come).</summary>
    public int[]? Size { get; set; }
    /// <summary>Channels the model takes (null: the images' own); 3 repeats grey images on three channels (a colour backbone).</summary>
    public int? Channels { get; set; }
    /// <summary>Per-channel mean and std of pixel values in [0, 1]; one value applies to every channel.</summary>
    public double[] Mean { get; set; } = [0.5];
    public double[] Std { get; set; } = [0.5];
}

public sealed record DataRecipe
{
    /// <summary>Share of the training set held out (seeded) for validation when no validation split is given.</summary>
    public double ValidationFraction { get; set; } = 0.1;
    /// <summary>Share held out (seeded, stratified) for the test set when the dataset gives no test split.</summary>
    public double TestFraction { get; set; } = 0.1;
}

public sealed record OptimizerRecipe
{
    public OptimizerKind Name { get; set; } = OptimizerKind.Sgd;
    public double Lr { get; set; } = 0.05;
    public double Momentum { get; set; } = 0.9;
    public bool Nesterov { get; set; } = true;
    public double WeightDecay { get; set; } = 5e-4;
    public double[] Betas { get; set; } = [0.9, 0.999];
    public double Eps { get; set; } = 1e-8;
    /// <summary>Leave biases and normalisation weights (every parameter of one dimension) without weight decay.</summary>
    public bool NoDecayOnNormAndBias { get; set; } = true;
    /// <summary>Per-layer settings: the first group whose prefix names a parameter gives its lr and weight decay.</summary>
    public ParamGroupRecipe[] ParamGroups { get; set; } = [];
}

public sealed record ParamGroupRecipe
{
    /// <summary>Parameter-name prefix, e.g. <c>features</c> or <c>layer4.</c>.</summary>
    public string Prefix { get; set; } = "";
    public double? Lr { get; set; }
    public double? WeightDecay { get; set; }
}

public sealed record ScheduleRecipe
{
    public ScheduleKind Name { get; set; } = ScheduleKind.Cosine;
    /// <summary>Linear warmup length, in epochs (fractions allowed), counted in optimizer steps; at most half the run.</summary>
    public double WarmupEpochs { get; set; } = 1;
    /// <summary>The warmup starts at this fraction of each group's lr.</summary>
    public double WarmupStartFactor { get; set; } = 0.1;
    /// <summary>Cosine: the lr reached at the end.</summary>
    public double MinLr { get; set; }
    /// <summary>Multi-step: epochs (from the start of training) at which the lr is multiplied by gamma.</summary>
    public int[] Milestones { get; set; } = [];
    public double Gamma { get; set; } = 0.1;
    /// <summary>Plateau: multiply the lr by factor after patience epochs without improvement of the early-stopping metric.</summary>
    public double Factor { get; set; } = 0.1;
    public int Patience { get; set; } = 2;
    public double Threshold { get; set; } = 1e-4;
    public int Cooldown { get; set; }
    public double PlateauMinLr { get; set; }
}

public sealed record LossRecipe
{
    public string Name { get; set; } = "cross_entropy";
    public double LabelSmoothing { get; set; } = 0.1;
    public ClassWeighting ClassWeights { get; set; } = ClassWeighting.None;
    /// <summary>Effective-number weighting's beta (Cui et al. 2019).</summary>
    public double Beta { get; set; } = 0.999;
}

public sealed record AugmentRecipe
{
    /// <summary>Random crop back to size after zero padding by this many pixels (0: off).</summary>
    public int CropPadding { get; set; } = 2;
    public bool HorizontalFlip { get; set; } = true;
}

public sealed record FreezeStage
{
    /// <summary>Module-name prefixes to freeze (e.g. <c>features</c>).</summary>
    public string[] Modules { get; set; } = [];
    /// <summary>First epoch (0-based) at which they train again.</summary>
    public int UntilEpoch { get; set; }
}

public sealed record EarlyStoppingRecipe
{
    /// <summary>accuracy, macro_f1, weighted_f1 or loss: picks the best model and drives early stopping and plateau.</summary>
    public string Metric { get; set; } = "accuracy";
    /// <summary>Epochs without improvement before stopping (null: never stop early).</summary>
    public int? Patience { get; set; } = 5;
    public double MinDelta { get; set; }
}

public sealed record CheckpointRecipe
{
    /// <summary>Write a checkpoint every this many epochs (0: only at the end, on cancellation or a step limit).</summary>
    public int EveryEpochs { get; set; } = 1;
    /// <summary>Also every this many optimizer steps (0: off).</summary>
    public int EverySteps { get; set; }
    /// <summary>How many checkpoints to keep (the newest).</summary>
    public int KeepLast { get; set; } = 2;
}
