using TorchSharp;
using Pipeline.Training.Checkpoints;
using Pipeline.Training.Detection;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Data;
using Pipeline.Vision.Data.Synthetic;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

public sealed class DetectionTrainerTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("detect-trainer-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // Generated 64x64 canvases with one or two Fashion-MNIST items each, straight into tensors.
    private static DetectionTensorDataset Generated(int count, int seed)
    {
        var generator = new DetectionSetGenerator();
        var options = new DetectionSetOptions { Width = 64, Height = 64, MinObjects = 1, MaxObjects = 2, MinSide = 24, MaxSide = 40 };
        var random = new Random(seed);
        var samples = Enumerable.Range(0, count).Select(_ => generator.Compose(options, random)).ToList();
        using var scope = NewDisposeScope();
        var images = stack([.. samples.Select(s => s.Image.ToTensor())], 0);
        return DetectionTensorDataset.From(images, [.. samples.Select(s => (IReadOnlyList<BoundingBox>)s.Boxes)], generator.Classes);
    }

    // A narrow pyramid and head keep each step well under a second on two cores.
    private static Recipe Tiny(params string[] overrides) => DetectionRecipes.Load(null,
        ["input.size=[64, 64]", "batch_size=4", "epochs=3", "device=cpu", "log_every=1", "detection.fpn_channels=32", "detection.head_convs=1",
         "schedule.warmup_epochs=0.5", .. overrides]);

    [Fact]
    public void A_few_epochs_on_a_generated_set_lower_the_loss_report_map_and_write_the_run()
    {
        using var train = Generated(16, 1);
        using var validation = Generated(8, 2);
        var output = Path.Combine(dir, "run");
        Directory.CreateDirectory(output);
        var epochs = new List<DetectionEpochResult>();
        var recipe = Tiny("early_stopping.patience=null");
        using var trainer = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions
        {
            OutputDirectory = output,
            Sinks = [new DetectionCsvResultsSink(Path.Combine(output, "results.csv")), new Collect(epochs)],
        });
        var summary = trainer.Fit();

        Assert.Equal(StopReason.Completed, summary.Reason);
        Assert.Equal(3, epochs.Count);
        Assert.Equal(12, summary.Steps);
        Assert.True(epochs[^1].TrainLoss < 0.9 * epochs[0].TrainLoss, $"training loss {epochs[0].TrainLoss} -> {epochs[^1].TrainLoss}");
        Assert.All(epochs, e => Assert.InRange(e.Validation.Map50!.Value, 0, 1));
        Assert.All(epochs, e => Assert.Equal(8, e.Validation.Images));
        Assert.Equal("map50", summary.Metric);
        Assert.Equal(epochs.Max(e => e.Metric), summary.BestMetric);
        Assert.True(File.Exists(Path.Combine(output, DetectionTrainer.BestModelFile)));
        var rows = File.ReadAllLines(Path.Combine(output, "results.csv"));
        Assert.Equal(DetectionCsvResultsSink.Header, rows[0]);
        Assert.Equal(4, rows.Length);

        // Seeded: 2.82 -> 2.37 over these 12 steps.
        // The best weights give the best epoch's validation figure again.
        Assert.True(trainer.RestoreBestWeights());
        Assert.Equal(summary.BestMetric!.Value, trainer.Evaluate(validation).Report.Map50!.Value, 9);
    }

    [Fact]
    public void Coco_crowd_boxes_reach_the_shards_flagged_are_no_training_targets_and_evaluate_as_crowd_regions()
    {
        // Three 64x64 images; the first has an ordinary box and an iscrowd=1 region of the same class.
        var folder = Directory.CreateDirectory(Path.Combine(dir, "coco")).FullName;
        var random = new Random(3);
        for (var k = 1; k <= 3; k++)
        {
            var pixels = new byte[64 * 64 * 3];
            random.NextBytes(pixels);
            File.WriteAllBytes(Path.Combine(folder, $"{k}.png"), Vision.Imaging.PngCodec.Encode(new Vision.Imaging.ImageBuffer(64, 64, 3, pixels)));
        }
        File.WriteAllText(Path.Combine(folder, "_annotations.coco.json"), """
            {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 64}, {"id": 2, "file_name": "2.png", "width": 64, "height": 64},
                        {"id": 3, "file_name": "3.png", "width": 64, "height": 64}],
             "categories": [{"id": 1, "name": "person"}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20], "iscrowd": 0},
                             {"id": 2, "image_id": 1, "category_id": 1, "bbox": [30, 30, 30, 30], "iscrowd": 1},
                             {"id": 3, "image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 30]},
                             {"id": 4, "image_id": 3, "category_id": 1, "bbox": [20, 8, 24, 40]}]}
            """);
        using var source = Vision.Data.Sources.FileSources.Open(folder);
        var dataset = Vision.Data.Validation.DatasetIntake.LoadValidated(source).Dataset;
        Assert.Equal([false, true], dataset.Items.Single(i => i.Path == "1.png").Boxes.Select(b => b.IsCrowd));

        // Through the shard preprocess writes and the trainer reads.
        using var decoded = DetectionTensors.ToTensorDataset(dataset, source, DatasetSplit.Unassigned, 64, 64);
        using var shard = new MemoryStream();
        DetectionTensorShards.Write(decoded, shard);
        shard.Position = 0;
        using var data = DetectionTensorShards.Read(shard, "test.safetensors");
        var first = dataset.Items.Select((item, k) => (item, k)).Single(p => p.item.Path == "1.png").k;
        Assert.Equal([false, true], data.BoxesOf(first).Select(b => b.IsCrowd));

        var recipe = Tiny();
        using (var batcher = new DetectionBatcher(recipe.Input, 3, CPU))
        using (var scope = NewDisposeScope())
        {
            var (_, targets) = batcher.Batch(data, [first]);
            Assert.Equal(1, targets[0].Boxes.shape[0]);
        }
        // Evaluation: three ordinary boxes are ground truth; the crowd region is not one (pycocotools' rule).
        using var trainer = new DetectionTrainer(recipe, data, data, new DetectionTrainerOptions());
        var report = trainer.Evaluate(data).Report;
        Assert.Equal(3, report.PerClass.Single().GroundTruths);
    }

    [Fact]
    public void Stopping_mid_epoch_and_resuming_gives_the_weights_of_a_straight_run()
    {
        using var train = Generated(12, 3);
        using var validation = Generated(4, 4);
        // 3 batches per epoch: 4 steps stop inside the second epoch; 7 cross into the third.
        var recipe = Tiny("epochs=3", "early_stopping.patience=null", "clip_grad_norm=1.0");
        using var straight = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions { MaxSteps = 7 });
        Assert.Equal(StopReason.StepLimit, straight.Fit().Reason);

        var resumedDir = Path.Combine(dir, "resumed");
        using (var first = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions { OutputDirectory = resumedDir, MaxSteps = 4 }))
            Assert.Equal(StopReason.StepLimit, first.Fit().Reason);
        var checkpoint = new CheckpointStore(Path.Combine(resumedDir, DetectionTrainer.CheckpointFolder)).Latest()!;
        Assert.EndsWith("step-00000004", checkpoint, StringComparison.Ordinal);

        manual_seed(12345);
        using var second = new DetectionTrainer(recipe, train, validation, new DetectionTrainerOptions { OutputDirectory = resumedDir, MaxSteps = 7 });
        second.Resume(checkpoint);
        Assert.Equal(StopReason.StepLimit, second.Fit().Reason);
        Assert.Equal(7, second.State.Step);
        Assert.Equal(straight.Scheduler.StepCount, second.Scheduler.StepCount);
        using var scope = NewDisposeScope();
        var expected = straight.Model.state_dict();
        var actual = second.Model.state_dict();
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, e) in expected)
            if (e.dtype == ScalarType.Float32) Assert.True(e.ToArray<float>().SequenceEqual(actual[key].ToArray<float>()), $"{key} differs");
    }

    [Fact]
    public void Detect_recipes_start_from_the_detect_defaults_take_a_file_over_them_and_check_detection_keys()
    {
        var defaults = DetectionRecipes.Load();
        Assert.Equal(TaskKind.Detect, defaults.Task);
        Assert.Equal("resnet18", defaults.Model.Name);
        Assert.Equal("map50", defaults.EarlyStopping.Metric);
        Assert.Equal(OptimizerKind.Adamw, defaults.Optimizer.Name);

        var file = Path.Combine(dir, "mine.yaml");
        File.WriteAllText(file, "epochs: 2\nmodel:\n  name: resnet34\nearly_stopping:\n  metric: map\n");
        var mine = DetectionRecipes.Load(file, ["batch_size=3"]);
        Assert.Equal((2, "resnet34", "map", 3), (mine.Epochs, mine.Model.Name, mine.EarlyStopping.Metric, mine.BatchSize));
        Assert.Equal([128, 160], mine.Input.Size!);

        var accuracy = Assert.Throws<RecipeException>(() => DetectionRecipes.Load(null, ["early_stopping.metric=accuracy"]));
        Assert.Contains("map50", accuracy.Message, StringComparison.Ordinal);
        File.WriteAllText(file, "model:\n  name: small_cnn\n");
        var backbone = Assert.Throws<RecipeException>(() => DetectionRecipes.Load(file));
        Assert.Contains("mine.yaml", backbone.Message, StringComparison.Ordinal);
        Assert.Throws<RecipeException>(() => DetectionRecipes.Load(null, ["detection.fpn_channels=48"]));
        // Classification recipes keep their metrics.
        Assert.Throws<RecipeException>(() => RecipeLoader.Load(null, ["early_stopping.metric=map50"]));
    }

    private sealed class Collect(List<DetectionEpochResult> epochs) : IDetectionTrainingSink
    {
        public void OnStep(StepProgress progress) { }
        public void OnEpoch(DetectionEpochResult result) => epochs.Add(result);
        public void OnFinished(DetectionTrainingSummary summary) { }
    }
}
