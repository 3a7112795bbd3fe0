using Pipeline.Torch.Serialization;
using static Pipeline.Torch.torch;
using static Pipeline.Torch.torch.nn;

namespace Pipeline.Torch.Tests;

/// <summary>The same module tree as <c>Nested</c> in Reference/small_cnn.py: a ModuleList, nested Sequentials, a
/// parameter of its own and a non-persistent buffer.</summary>
public sealed class Nested : Module
{
    public Nested()
    {
        register_module("blocks", new ModuleList(new Sequential(new Linear(3, 3), new LayerNorm(3)), new Linear(3, 2)));
        register_module("head", new Sequential(new Conv2d(1, 2, 1, bias: false), new GroupNorm(1, 2), new BatchNorm2d(2)));
        using var one = ones(1);
        register_parameter("scale", new Parameter(one));
        register_buffer("step", zeros(1), persistent: false);
        register_buffer("total", zeros(2));
    }
}

public class ModuleTests
{
    private static Dictionary<string, string> Names => PyTorchReference.Run("small_cnn.py").Metadata;

    private static string Join(IEnumerable<string> names) => string.Join(",", names);

    [Fact]
    public void Names_and_order_match_pytorch()
    {
        using var scope = NewDisposeScope();
        using var cnn = new SmallCnn();
        using var nested = new Nested();
        foreach (var (prefix, model) in new (string, Module)[] { ("small_cnn", cnn), ("nested", nested) })
        {
            Assert.Equal(Names[$"{prefix}/named_parameters"], Join(model.named_parameters().Select(p => p.name)));
            Assert.Equal(Names[$"{prefix}/named_buffers"], Join(model.named_buffers().Select(b => b.name)));
            Assert.Equal(Names[$"{prefix}/named_modules"], Join(model.named_modules().Select(m => m.name)));
            Assert.Equal(Names[$"{prefix}/state_dict"], Join(model.state_dict().Keys));
        }
    }

    [Fact]
    public void State_dict_round_trips_through_safetensors()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var source = new SmallCnn();
        using (no_grad()) source.features[1].call(randn(4, 16, 5, 5)).Dispose(); // moves the running stats off their defaults
        var path = Path.Combine(Path.GetTempPath(), $"smallcnn-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensors.Save(path, source.state_dict());
            manual_seed(2);
            using var target = new SmallCnn();
            var result = target.load_state_dict(SafeTensors.Load(path));
            Assert.Empty(result.missing_keys);
            Assert.Empty(result.unexpected_keys);
            var expected = source.state_dict();
            foreach (var (key, value) in target.state_dict()) TensorAssert.Close(expected[key], value, 0, 0, key);
            Assert.Equal(1, ((BatchNorm2d)target.features[1]).num_batches_tracked!.item<long>());
            source.eval();
            target.eval();
            var x = randn(2, 1, 28, 28);
            TensorAssert.Close(source.call(x), target.call(x), 0, 0, "logits after the round trip");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_state_dict_reports_missing_unexpected_and_mismatched_keys_and_copies_nothing()
    {
        using var scope = NewDisposeScope();
        using var model = new SmallCnn();
        using var before = model.fc.weight.clone();
        using var other = new SmallCnn();
        var state = other.state_dict();
        state.Remove("fc.bias");
        state["extra.weight"] = zeros(1);
        state["features.0.weight"] = zeros(16, 1, 5, 5);

        var error = Assert.Throws<ArgumentException>(() => model.load_state_dict(state));
        Assert.Contains("Error(s) in loading state_dict for SmallCnn", error.Message, StringComparison.Ordinal);
        Assert.Contains("Missing key(s) in state_dict: \"fc.bias\".", error.Message, StringComparison.Ordinal);
        Assert.Contains("Unexpected key(s) in state_dict: \"extra.weight\".", error.Message, StringComparison.Ordinal);
        Assert.Contains("size mismatch for features.0.weight: copying a param with shape torch.Size([16, 1, 5, 5]) from checkpoint, " +
            "the shape in current model is torch.Size([16, 1, 3, 3]).", error.Message, StringComparison.Ordinal);
        TensorAssert.Close(before, model.fc.weight, 0, 0, "fc.weight after a failed load");

        // Not strict: missing and unexpected keys are reported, not fatal; a shape mismatch still is.
        Assert.Throws<ArgumentException>(() => model.load_state_dict(state, strict: false));
        state["features.0.weight"] = full([16, 1, 3, 3], 0.5);
        var (missing, unexpected) = model.load_state_dict(state, strict: false);
        Assert.Equal(["fc.bias"], missing);
        Assert.Equal(["extra.weight"], unexpected);
        TensorAssert.Close(state["features.0.weight"], model.features[0].parameters().First(), 0, 0, "loaded weight");
    }

    [Fact]
    public void To_float64_converts_in_place_keeping_the_parameter_objects()
    {
        using var scope = NewDisposeScope();
        using var model = new SmallCnn();
        var x = randn(2, 1, 28, 28);
        F_cross_entropy(model, x).backward();
        var parameters = model.parameters().ToList();
        var buffers = model.buffers().ToList();
        var values = parameters.Select(p => p.to(ScalarType.Float64)).ToList();

        Assert.Same(model, model.to(ScalarType.Float64));

        Assert.Equal(parameters, model.parameters().ToList(), ReferenceEqualityComparer.Instance);
        Assert.Equal(buffers, model.buffers().ToList(), ReferenceEqualityComparer.Instance);
        Assert.Same(parameters[^1], model.fc.bias);
        for (var k = 0; k < parameters.Count; k++)
        {
            Assert.Equal(ScalarType.Float64, parameters[k].dtype);
            Assert.True(parameters[k].requires_grad && parameters[k].is_leaf);
            Assert.Equal(ScalarType.Float64, parameters[k].grad!.dtype);
            TensorAssert.Close(values[k], parameters[k], 0, 0, "converted value");
        }
        var bn = (BatchNorm2d)model.features[1];
        Assert.Equal(ScalarType.Float64, bn.running_mean!.dtype);
        Assert.Equal(ScalarType.Int64, bn.num_batches_tracked!.dtype);

        // The converted model trains: gradients flow into the same objects.
        model.zero_grad();
        Assert.Null(model.fc.weight.grad);
        F_cross_entropy(model, x.to(ScalarType.Float64)).backward();
        Assert.Equal(ScalarType.Float64, model.fc.weight.grad!.dtype);
    }

    private static Tensor F_cross_entropy(SmallCnn model, Tensor x) =>
        functional.cross_entropy(model.call(x), tensor(new long[] { 1, 7 }));

    [Fact]
    public void Eval_turns_off_dropout_and_switches_batch_norm_to_running_stats()
    {
        using var scope = NewDisposeScope();
        using var model = new Sequential(new Dropout(0.5), new BatchNorm2d(3, momentum: null));
        var bn = (BatchNorm2d)model[1];
        var a = randn(4, 3, 2, 2) * 2 + 1;
        var b = randn(4, 3, 2, 2) * 3 - 1;

        Assert.True(model.training && bn.training);
        var dropped = model[0].call(a);
        Assert.True((dropped.eq(0)).sum().item<long>() > 0, "dropout in training mode zeroes elements");
        model[1].call(a);
        model[1].call(b);
        // momentum null: a cumulative average over the batches seen.
        Assert.Equal(2, bn.num_batches_tracked!.item<long>());
        var expectedMean = (a.mean([0, 2, 3]) + b.mean([0, 2, 3])) / 2;
        TensorAssert.Close(expectedMean, bn.running_mean!, 1e-6, 1e-5, "cumulative running mean");

        Assert.Same(model, model.eval());
        Assert.False(model.training || bn.training || model[0].training);
        TensorAssert.Close(a, model[0].call(a), 0, 0, "dropout in eval mode");
        var mean = bn.running_mean!.clone();
        var output = model.call(a);
        var expected = (a - mean.reshape(1, 3, 1, 1)) / (bn.running_var!.reshape(1, 3, 1, 1) + 1e-5).sqrt();
        TensorAssert.Close(expected, output, 1e-5, 1e-5, "eval batch norm");
        TensorAssert.Close(mean, bn.running_mean!, 0, 0, "running mean untouched in eval mode");
        Assert.Equal(2, bn.num_batches_tracked!.item<long>());

        model.train();
        Assert.True(bn.training);
    }

    [Fact]
    public void Module_list_renumbers_like_pytorch_and_dispose_frees_parameters()
    {
        using var scope = NewDisposeScope();
        var list = new ModuleList(new Linear(2, 2), new Linear(2, 3));
        var inserted = new Linear(3, 3, bias: false);
        list.Insert(1, inserted);
        Assert.Equal("0.weight,0.bias,1.weight,2.weight,2.bias", Join(list.named_parameters().Select(p => p.name)));
        list.RemoveAt(0);
        Assert.Equal("0.weight,1.weight,1.bias", Join(list.named_parameters().Select(p => p.name)));
        Assert.Same(inserted, list[0]);

        var parameters = list.parameters().ToList();
        list.Dispose();
        Assert.All(parameters, p => Assert.True(p.IsDisposed));
    }

    [Fact]
    public void Apply_visits_children_before_parents_and_requires_grad_freezes()
    {
        using var scope = NewDisposeScope();
        using var model = new Nested();
        var visited = new List<string>();
        model.apply(m => visited.Add(m.GetType().Name));
        Assert.Equal("Linear,LayerNorm,Sequential,Linear,ModuleList,Conv2d,GroupNorm,BatchNorm2d,Sequential,Nested", string.Join(",", visited));

        model.apply(m => { if (m is Linear linear) init.zeros_(linear.weight); });
        Assert.All(model.modules().OfType<Linear>(), l => Assert.Equal(0.0, l.weight.abs().sum().item<double>()));

        model.requires_grad_(false);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        model.requires_grad_();
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Registration_rejects_bad_and_clashing_names()
    {
        using var scope = NewDisposeScope();
        using var model = new Nested();
        Assert.Throws<ArgumentException>(() => model.register_buffer("scale", zeros(1)));
        Assert.Throws<ArgumentException>(() => model.register_parameter("head", null));
        Assert.Throws<ArgumentException>(() => model.register_module("a.b", new ReLU()));
        Assert.Throws<ArgumentException>(() => model.register_parameter("", null));
    }
}
