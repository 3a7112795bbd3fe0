using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Training.Progress;
using Pipeline.Training.Recipes;
using Pipeline.Vision.Models;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>Issue 4: fine-tuning a torchvision-named ResNet: pretrained weights with another head and colour stem, staged unfreezing.</summary>
public sealed class PretrainedResNetTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("pretrained-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Recipe Tiny(params string[] overrides) => RecipeLoader.Load(null,
        ["model.name=resnet18", "batch_size=32", "device=cpu", "log_every=1", "schedule.warmup_epochs=0", "optimizer.lr=0.05", .. overrides]);

    // ImageNet-shaped weights (3 colour channels, 1000 classes) under torchvision's names.
    private string ImagenetShapedWeights()
    {
        using var scope = NewDisposeScope();
        using var source = ResNet.resnet18();
        var path = Path.Combine(dir, "resnet18.safetensors");
        SafeTensors.Save(path, source.state_dict());
        return path;
    }

    private static Tensor Param(Trainer trainer, string name) => trainer.Model.named_parameters().Single(p => p.name == name).parameter;

    [Fact]
    public void Colour_imagenet_weights_load_into_a_grey_ten_class_resnet_leaving_only_the_head()
    {
        using var scope = NewDisposeScope();
        var path = ImagenetShapedWeights();
        var weights = SafeTensors.Load(path);
        using var model = (ResNet)ModelRegistry.Create("resnet18", new ModelSpec(1, 10));
        var left = PretrainedWeights.Load(model, path);
        Assert.Equal(["fc.weight", "fc.bias"], left);
        Assert.Equal(weights["conv1.weight"].sum(1, keepdim: true).ToArray<float>(), model.conv1.weight.ToArray<float>());
        foreach (var (key, value) in model.state_dict().Where(kv => kv.Key != "conv1.weight" && !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
            Assert.True(weights[key].to(ScalarType.Float64).ToArray<double>().SequenceEqual(value.to(ScalarType.Float64).ToArray<double>()), $"{key} was not loaded");

        // A file that lacks part of the backbone is an error, not a silent re-initialisation.
        var partial = Path.Combine(dir, "partial.safetensors");
        SafeTensors.Save(partial, weights.Where(w => !w.Key.StartsWith("layer3.", StringComparison.Ordinal)).ToDictionary());
        Assert.Contains("layer3.0.conv1.weight", Assert.Throws<ArgumentException>(() => PretrainedWeights.Load(model, partial)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_recipes_freeze_plan_unfreezes_resnet_stages_at_their_epochs()
    {
        using var train = FashionSubset.Slice(0, 64);
        using var validation = FashionSubset.Slice(1000, 32);
        // Epoch 0 trains layer4 and fc; epoch 1 also layer2 and layer3; the stem and layer1 stay frozen throughout.
        var recipe = Tiny("epochs=2", $"model.pretrained={ImagenetShapedWeights()}",
            "freeze=[{modules: [conv1, bn1, layer1], until_epoch: 2}, {modules: [layer2, layer3], until_epoch: 1}]");
        string[] watched = ["conv1.weight", "layer1.1.conv2.weight", "layer3.1.conv2.weight", "layer4.1.conv2.weight", "fc.weight"];
        var afterEpoch0 = new Dictionary<string, float[]>();
        Trainer? running = null;
        using var trainer = running = new Trainer(recipe, train, validation, new TrainerOptions
        {
            Sinks = [new CallbackSink(onEpoch: e => { if (e.Epoch == 0) foreach (var n in watched) afterEpoch0[n] = Param(running!, n).ToArray<float>(); })],
        });
        var initial = watched.ToDictionary(n => n, n => Param(trainer, n).ToArray<float>());
        trainer.Fit();
        var final = watched.ToDictionary(n => n, n => Param(trainer, n).ToArray<float>());

        bool Changed(Dictionary<string, float[]> a, Dictionary<string, float[]> b, string n) => !a[n].SequenceEqual(b[n]);
        Assert.False(Changed(initial, final, "conv1.weight"), "the stem trained");
        Assert.False(Changed(initial, final, "layer1.1.conv2.weight"), "layer1 trained");
        Assert.False(Changed(initial, afterEpoch0, "layer3.1.conv2.weight"), "layer3 trained in epoch 0");
        Assert.True(Changed(afterEpoch0, final, "layer3.1.conv2.weight"), "layer3 did not train in epoch 1");
        Assert.True(Changed(initial, afterEpoch0, "layer4.1.conv2.weight"), "layer4 did not train in epoch 0");
        Assert.True(Changed(initial, afterEpoch0, "fc.weight"), "the head did not train in epoch 0");
    }
}
