using Pipeline.Vision;
using System.Globalization;
using TorchSharp;
using Pipeline.Vision.Serialization;
using Pipeline.Vision.Models;
using Pipeline.Vision.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Vision.Tests;

/// <summary>
/// Issue 4, acceptance: torchvision's resnet18 and resnet50 (Reference/torchvision_resnet.py, random init, seeded) load
/// into ours from their safetensors file without renaming and give the same logits (eval and train mode), loss,
/// gradients and running statistics.
/// </summary>
[Collection(SeededCollection.Name)]
public class ResNetParityTests(ITestOutputHelper output)
{
    private sealed record Reference(Dictionary<string, Tensor> Weights, Dictionary<string, Tensor> Values, Dictionary<string, string> Names);

    private static readonly Dictionary<string, Reference> Cache = [];
    private static readonly Lock Gate = new();

    private static Reference Torchvision(string arch)
    {
        lock (Gate)
        {
            if (Cache.TryGetValue(arch, out var cached)) return cached;
            var folder = TorchvisionReference.Run("torchvision_resnet.py", arch, get_num_threads().ToString(CultureInfo.InvariantCulture));
            var weights = SafeTensors.Load(Path.Combine(folder, "weights.safetensors"));
            var values = SafeTensors.Load(Path.Combine(folder, "reference.safetensors"), out var names);
            // Shared by the tests of this class for the whole run, whatever scope the first caller is in.
            foreach (var t in weights.Values.Concat(values.Values)) t.DetachFromDisposeScope();
            return Cache[arch] = new Reference(weights, values, names);
        }
    }

    private static string Names<T>(IEnumerable<(string name, T value)> items) => string.Join(",", items.Select(i => i.name));

    private static string[] Sorted(IEnumerable<string> names) => [.. names.Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void Names_are_torchvisions(string arch)
    {
        var reference = Torchvision(arch);
        using var model = ModelRegistry.Create(arch, new ModelSpec(3, 1000));
        Assert.Equal(reference.Names["named_parameters"], Names(model.named_parameters()));
        Assert.Equal(reference.Names["named_buffers"], Names(model.named_buffers()));
        // TorchSharp lists a module's children before their descendants and leaves out the root (""), and its
        // state_dict holds every parameter before the buffers: the same names, in another order.
        Assert.Equal(Sorted(reference.Names["named_modules"].Split(',').Where(n => n.Length > 0)), Sorted(model.named_modules().Select(m => m.name)));
        using var scope = NewDisposeScope();
        Assert.Equal(Sorted(reference.Names["state_dict"].Split(',')), Sorted(model.state_dict().Keys));
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void Seeded_initialisation_draws_torchvisions_weights_bit_for_bit(string arch)
    {
        var reference = Torchvision(arch);
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = ModelRegistry.Create(arch, new ModelSpec(3, 1000));
        // The reference then changed the batch norms; convolutions and the head are as initialised.
        var initialised = model.named_modules().Where(m => m.module is TorchSharp.Modules.Conv2d or TorchSharp.Modules.Linear)
            .SelectMany(m => m.module.named_parameters(recurse: false).Select(p => (m.name + "." + p.name, p.parameter))).ToList();
        Assert.Equal(model.named_modules().Count(m => m.module is TorchSharp.Modules.Conv2d) + 2, initialised.Count);
        foreach (var (name, p) in initialised) TensorAssert.Close(reference.Weights[name], p, 0, 0, name);
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void Torchvision_weights_load_unrenamed_and_give_its_logits_loss_and_gradients(string arch)
    {
        var reference = Torchvision(arch);
        var r = reference.Values;
        using var scope = NewDisposeScope();
        using var model = ModelRegistry.Create(arch, new ModelSpec(3, 1000));
        model.LoadStateDict(reference.Weights); // strict: every key, no renaming

        model.eval();
        using (no_grad())
        {
            var eval = model.call(r["x"]);
            var diff = TensorAssert.MaxAbsDiff(r["logits_eval"], eval);
            output.WriteLine($"{arch} eval logits: max |diff| {diff:E2} (|logits| up to {r["logits_eval"].abs().max().ToSingle():F2})");
            Assert.True(diff <= 1e-4, $"eval logits differ by {diff}");
        }

        model.train();
        var x = r["x"].clone().requires_grad_();
        var logits = model.call(x);
        var trainDiff = TensorAssert.MaxAbsDiff(r["logits_train"], logits);
        output.WriteLine($"{arch} train logits: max |diff| {trainDiff:E2}");
        Assert.True(trainDiff <= 1e-4, $"train logits differ by {trainDiff}");
        var loss = F.cross_entropy(logits, r["labels"]);
        TensorAssert.Close(r["loss"], loss, 1e-5, 1e-5, "loss");
        loss.backward();

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, actual) in reference.Names["grads"].Split(',').Select(n => (n, parameters[n].grad!)).Append(("x", x.grad!)))
        {
            var expected = r[$"grad/{name}"];
            // Gradients sum over many terms: tolerance relative to the tensor's own scale.
            var scale = expected.abs().max().ToSingle();
            output.WriteLine($"{arch} grad {name}: max |diff| {TensorAssert.MaxAbsDiff(expected, actual):E2} (scale {scale:E2})");
            TensorAssert.Close(expected, actual, atol: 1e-4 * scale, rtol: 1e-3, what: $"gradient of {name}");
        }
        var buffers = model.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var name in reference.Names["buffers"].Split(','))
            TensorAssert.Close(r[$"after/{name}"], buffers[name], 1e-5, 1e-4, $"{name} after the train-mode forward");
    }

    [Fact]
    public void A_new_head_for_another_class_count_loads_everything_but_fc()
    {
        var reference = Torchvision("resnet18");
        using var scope = NewDisposeScope();
        using var full = ResNet.resnet18();
        full.LoadStateDict(reference.Weights);
        using var tenClasses = ResNet.resnet18(classes: 10);
        var fcBefore = tenClasses.fc.weight.clone();
        // The 1000-class head does not fit: a plain (strict) load refuses, the backbone load keeps the model's own head.
        Assert.Contains("size mismatch for fc.weight", Assert.Throws<ArgumentException>(() => tenClasses.LoadStateDict(reference.Weights)).Message, StringComparison.Ordinal);
        tenClasses.load_state_dict_except_fc(reference.Weights);
        foreach (var (key, value) in tenClasses.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
            TensorAssert.Close(reference.Weights[key], value, 0, 0, key);
        TensorAssert.Close(fcBefore, tenClasses.fc.weight, 0, 0, "the new head");

        full.eval();
        tenClasses.eval();
        using (no_grad())
        {
            var x = reference.Values["x"];
            TensorAssert.Close(full.forward_stages(x)[^1], tenClasses.forward_stages(x)[^1], 0, 0, "layer4 features");
            Assert.Equal([2L, 10], tenClasses.call(x).shape);
            // The other way: load all of it, then replace the head.
            var head = full.replace_fc(10);
            Assert.Same(head, full.fc);
            Assert.Equal([10L, 512], full.fc.weight.shape);
            Assert.Equal([2L, 10], full.call(x).shape);
            Assert.Contains("fc.bias", full.state_dict().Keys);
        }

        // A file of another architecture is refused before anything is copied.
        using var other = ResNet.resnet50(classes: 10);
        var e = Assert.Throws<ArgumentException>(() => other.load_state_dict_except_fc(reference.Weights));
        Assert.Contains("layer1.0.conv3.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grey_model_loads_colour_weights_and_sees_a_grey_image_as_the_colour_model_sees_it_in_rgb()
    {
        var reference = Torchvision("resnet18");
        using var scope = NewDisposeScope();
        using var colour = ResNet.resnet18();
        colour.LoadStateDict(reference.Weights);
        using var grey = (ResNet)ModelRegistry.Create("resnet18", new ModelSpec(1, 10));
        Assert.Equal(1, grey.conv1.in_channels);
        grey.load_state_dict_except_fc(reference.Weights);
        colour.eval();
        grey.eval();
        using (no_grad())
        {
            var image = reference.Values["x"].narrow(1, 0, 1);
            var expected = colour.forward_stages(image.repeat(1, 3, 1, 1))[^1];
            var actual = grey.forward_stages(image)[^1];
            output.WriteLine($"grey vs rgb features: max |diff| {TensorAssert.MaxAbsDiff(expected, actual):E2}");
            TensorAssert.Close(expected, actual, 1e-4, 1e-4, "layer4 features");
        }
    }
}
