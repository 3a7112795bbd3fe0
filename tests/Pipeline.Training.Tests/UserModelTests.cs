using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>
/// A user's own model, written the way TorchSharp's documentation writes one (fields, <c>RegisterComponents</c>; nothing
/// of this pipeline), registered by name and trained from a recipe that names it.
/// </summary>
public sealed class UserModelTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("user-model-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class TinyConvNet : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv;
        private readonly Linear classifier;

        public TinyConvNet(long inChannels, long classes) : base(nameof(TinyConvNet))
        {
            conv = nn.Conv2d(inChannels, 8, 3, stride: 2, padding: 1);
            classifier = nn.Linear(8 * 4 * 4, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = nn.functional.relu(conv.call(input));
            return classifier.call(nn.functional.adaptive_avg_pool2d(h, 4).flatten(1)).MoveToOuterDisposeScope();
        }
    }

    [Fact]
    public void A_module_registered_by_name_trains_from_a_recipe_and_its_best_weights_load_back_by_that_name()
    {
        ModelRegistry.Register("tiny_conv_net", spec => new TinyConvNet(spec.InChannels, spec.Classes));
        var recipe = RecipeLoader.Load(null, ["model.name=tiny_conv_net", "batch_size=32", "epochs=3", "device=cpu",
            "optimizer.lr=0.1", "schedule.warmup_epochs=0", "augment.crop_padding=0", "augment.horizontal_flip=false"]);
        using var train = FashionSubset.Slice(0, 512);
        using var validation = FashionSubset.Slice(50_000, 256);
        var epochs = new List<EpochResult>();
        using var trainer = new Trainer(recipe, train, validation,
            new TrainerOptions { OutputDirectory = dir, Sinks = [new CallbackSink(onEpoch: epochs.Add)] });
        Assert.IsType<TinyConvNet>(trainer.Model);
        var summary = trainer.Fit();

        Assert.Equal(StopReason.Completed, summary.Reason);
        Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, $"training loss went from {epochs[0].TrainLoss} to {epochs[^1].TrainLoss}");
        Assert.True(summary.BestMetric > 0.2, $"validation accuracy {summary.BestMetric} (chance is 0.1)");
        // The best weights carry the user's own parameter names, and load back into a model made by name.
        using var loaded = ClassifierEvaluation.LoadModel(recipe, validation, Path.Combine(dir, RunFolderFiles.BestModel), CPU);
        Assert.IsType<TinyConvNet>(loaded);
        Assert.Equal(["classifier.bias", "classifier.weight", "conv.bias", "conv.weight"], loaded.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal(summary.BestMetric, ClassifierEvaluation.Evaluate(recipe, loaded, validation, CPU).Accuracy);
    }
}
