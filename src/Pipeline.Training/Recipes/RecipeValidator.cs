using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;
using Pipeline.Vision.Data;
using Pipeline.Vision.Models;

namespace Pipeline.Training.Recipes;

/// <summary>Checks what types cannot: ranges, known names, consistent lengths; each failure names the key and its file.</summary>
internal static class RecipeValidator
{
    public static readonly string[] Metrics = ["accuracy", "macro_f1", "weighted_f1", "loss"];
    public static readonly string[] DetectionMetrics = ["map", "map50", "loss"];
    public static readonly string[] DetectionBackbones = ["resnet18", "resnet34", "resnet50"];

    public static void Validate(Recipe r, RecipeDocument document)
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new RecipeException(document.OriginOf(key), key, problem);
        }

        Require(r.Epochs >= 1, "epochs", $"must be at least 1, got {r.Epochs}");
        Require(r.BatchSize >= 1, "batch_size", $"must be at least 1, got {r.BatchSize}");
        Require(r.GradAccumulation >= 1, "grad_accumulation", $"must be at least 1, got {r.GradAccumulation}");
        Require(r.LogEvery >= 1, "log_every", $"must be at least 1, got {r.LogEvery}");
        Require(r.ClipGradNorm is null or > 0, "clip_grad_norm", $"must be positive (or null for no clipping), got {r.ClipGradNorm}");
        Require(ModelRegistry.Contains(r.Model.Name), "model.name", $"unknown model '{r.Model.Name}'; known: {string.Join(", ", ModelRegistry.Names)}");
        Require(r.Model.Width is null or >= 1, "model.width", $"must be at least 1, got {r.Model.Width}");
        Require(r.Model.Pretrained is null || PretrainedBackbones.Find(r.Model.Pretrained) is not null || File.Exists(r.Model.Pretrained), "model.pretrained",
            $"weights file '{r.Model.Pretrained}' does not exist (named backbones: {string.Join(", ", PretrainedBackbones.All.Select(b => b.Name))})");
        Require(r.Input.Channels is null or 1 or 3, "input.channels", $"must be 1 or 3 (or null: the images' own), got {r.Input.Channels}");
        Require(r.Input.Size is null || (r.Input.Size.Length == 2 && r.Input.Size.All(s => s >= 1)), "input.size", "must be [height, width] of positive sizes");
        Require(r.Input.Mean.Length >= 1, "input.mean", "needs at least one value");
        Require(r.Input.Std.Length >= 1 && r.Input.Std.All(s => s > 0), "input.std", "needs positive values");
        Require(r.Data.ValidationFraction is >= 0 and < 1, "data.validation_fraction", $"must be in [0, 1), got {r.Data.ValidationFraction}");
        Require(r.Data.TestFraction is >= 0 and < 1, "data.test_fraction", $"must be in [0, 1), got {r.Data.TestFraction}");
        Require(r.Data.ValidationFraction + r.Data.TestFraction < 1, "data.test_fraction", $"validation_fraction + test_fraction must leave training data, got {r.Data.ValidationFraction + r.Data.TestFraction}");
        Require(r.Optimizer.Lr > 0, "optimizer.lr", $"must be positive, got {r.Optimizer.Lr}");
        Require(r.Optimizer.WeightDecay >= 0, "optimizer.weight_decay", $"must not be negative, got {r.Optimizer.WeightDecay}");
        Require(r.Optimizer.Betas.Length == 2, "optimizer.betas", "must be two numbers [beta1, beta2]");
        for (var k = 0; k < r.Optimizer.ParamGroups.Length; k++)
            Require(r.Optimizer.ParamGroups[k].Prefix.Length > 0, $"optimizer.param_groups[{k}].prefix", "must name a parameter prefix");
        Require(r.Schedule.WarmupEpochs >= 0, "schedule.warmup_epochs", $"must not be negative, got {r.Schedule.WarmupEpochs}");
        Require(r.Schedule.WarmupStartFactor is > 0 and <= 1, "schedule.warmup_start_factor", $"must be in (0, 1], got {r.Schedule.WarmupStartFactor}");
        Require(r.Schedule.Factor is > 0 and < 1, "schedule.factor", $"must be in (0, 1), got {r.Schedule.Factor}");
        Require(r.Schedule.Milestones.SequenceEqual(r.Schedule.Milestones.Order()), "schedule.milestones", "must be increasing");
        Require(r.Loss.Name == "cross_entropy", "loss.name", $"unknown loss '{r.Loss.Name}'; known: cross_entropy");
        Require(r.Loss.LabelSmoothing is >= 0 and < 1, "loss.label_smoothing", $"must be in [0, 1), got {r.Loss.LabelSmoothing}");
        Require(r.Loss.Beta is > 0 and < 1, "loss.beta", $"must be in (0, 1), got {r.Loss.Beta}");
        Require(r.Augment.CropPadding >= 0, "augment.crop_padding", $"must not be negative, got {r.Augment.CropPadding}");
        var metrics = r.Task == TaskKind.Detect ? DetectionMetrics : Metrics;
        Require(metrics.Contains(r.EarlyStopping.Metric), "early_stopping.metric", $"unknown metric '{r.EarlyStopping.Metric}'; known: {string.Join(", ", metrics)}");
        if (r.Task == TaskKind.Detect)
        {
            Require(DetectionBackbones.Contains(r.Model.Name), "model.name", $"'{r.Model.Name}' is not a detection backbone; known: {string.Join(", ", DetectionBackbones)}");
            Require(r.Input.Size is not null, "input.size", "detection needs [height, width]");
            Require(r.Input.Channels is null, "input.channels", "detection takes the images' own channels");
            Require(r.Detection.Fit != DetectionFit.Letterbox || r.Input.Size is null || r.Input.Size[0] == r.Input.Size[1], "detection.fit", "letterbox needs a square input.size");
            Require(r.Detection.FpnChannels >= 32 && r.Detection.FpnChannels % 32 == 0, "detection.fpn_channels", $"must be a positive multiple of 32, got {r.Detection.FpnChannels}");
            Require(r.Detection.HeadConvs >= 1, "detection.head_convs", $"must be at least 1, got {r.Detection.HeadConvs}");
            Require(r.Detection.ScoreThreshold is >= 0 and < 1, "detection.score_threshold", $"must be in [0, 1), got {r.Detection.ScoreThreshold}");
            Require(r.Detection.NmsThreshold is > 0 and <= 1, "detection.nms_threshold", $"must be in (0, 1], got {r.Detection.NmsThreshold}");
            Require(r.Detection.DetectionsPerImage >= 1, "detection.detections_per_image", $"must be at least 1, got {r.Detection.DetectionsPerImage}");
            Require(r.Sampler == SamplerKind.Shuffle, "sampler", "detection samples with shuffle only");
        }
        Require(r.EarlyStopping.Patience is null or >= 1, "early_stopping.patience", $"must be at least 1 (or null: never stop early), got {r.EarlyStopping.Patience}");
        Require(r.Checkpoint.EveryEpochs >= 0 && r.Checkpoint.EverySteps >= 0, "checkpoint", "intervals must not be negative");
        Require(r.Checkpoint.KeepLast >= 1, "checkpoint.keep_last", $"must be at least 1, got {r.Checkpoint.KeepLast}");
        Require(r.Device == "auto" || TrainingDevice.IsDeviceName(r.Device), "device", $"'{r.Device}' is not auto, cpu, cuda or cuda:N");
    }
}
