using static Pipeline.Torch.torch;
using static Pipeline.Torch.torch.optim;

namespace Pipeline.Torch.Tests;

/// <summary>Optimizers and gradient clipping against PyTorch (Reference/optim.py), and exact resume.</summary>
public sealed class OptimizerTests
{
    private const int Steps = 50;
    private static readonly string[] Names = ["W", "b", "M", "U"];

    private static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Reference => PyTorchReference.Run("optim.py");

    private sealed record Config(Func<Dictionary<string, Parameter>, Optimizer> Build, bool Negate = false, bool Halve = false);

    private static Parameter[] All(Dictionary<string, Parameter> p) => [p["W"], p["b"], p["M"], p["U"]];

    // Mirrors configs() in Reference/optim.py.
    private static readonly Dictionary<string, Config> Configs = new(StringComparer.Ordinal)
    {
        ["sgd_plain"] = new(p => new SGD(All(p), lr: 0.1)),
        ["sgd_nesterov"] = new(p => new SGD(All(p), lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.01, dampening: 0)),
        ["sgd_dampening_maximize"] = new(p => new SGD(All(p), lr: 0.05, momentum: 0.8, dampening: 0.3, weight_decay: 0.02, maximize: true), Negate: true),
        ["adamw_default"] = new(p => new AdamW(All(p))),
        ["adamw_amsgrad"] = new(p => new AdamW(All(p), lr: 0.01, amsgrad: true, weight_decay: 0.1)),
        ["adamw_maximize"] = new(p => new AdamW(All(p), lr: 0.01, betas: (0.8, 0.99), eps: 1e-6, maximize: true), Negate: true),
        ["adam"] = new(p => new Adam(All(p), lr: 0.01, weight_decay: 0.01)),
        ["adam_amsgrad"] = new(p => new Adam(All(p), lr: 0.02, amsgrad: true)),
        ["sgd_groups"] = new(p => new SGD([new ParamGroup([p["W"], p["b"]]), new ParamGroup([p["M"], p["U"]], lr: 0.01, weight_decay: 0.1)],
            lr: 0.1, momentum: 0.9), Halve: true),
        ["adamw_groups"] = new(p => new AdamW([new ParamGroup([p["W"]]), new ParamGroup([p["b"], p["M"], p["U"]], lr: 0.03, weight_decay: 0.0)],
            lr: 0.01), Halve: true),
    };

    public static TheoryData<string> ConfigNames() => [.. Configs.Keys.Order(StringComparer.Ordinal)];

    private static Tensor Loss(Dictionary<string, Parameter> p, Tensor x, Tensor y)
    {
        var fit = ((x.matmul(p["W"]) + p["b"]).tanh() - y).pow(2).mean();
        return fit + 0.1 * (p["M"].matmul(p["M"].t()) - eye(3)).pow(2).mean();
    }

    private static Dictionary<string, Parameter> Parameters(Func<string, Tensor> initial) =>
        Names.ToDictionary(k => k, k => new Parameter(initial(k).clone()), StringComparer.Ordinal);

    private static void DisposeAll(Dictionary<string, Parameter> p)
    {
        foreach (var t in p.Values) t.Dispose();
    }

    /// <summary>Runs steps [from, to) of the reference training loop.</summary>
    private static void Train(Optimizer opt, Dictionary<string, Parameter> p, Config config, int from, int to, int halveAfter = Steps / 2 - 1)
    {
        var x = Reference.Tensors["data/x"];
        var y = Reference.Tensors["data/y"];
        for (var step = from; step < to; step++)
        {
            opt.zero_grad();
            using (NewDisposeScope())
            {
                var loss = Loss(p, x, y);
                (config.Negate ? -loss : loss).backward();
            }
            opt.step();
            if (config.Halve && step == halveAfter)
                foreach (var g in opt.param_groups) g.lr *= 0.5;
        }
    }

    [Fact]
    public void Every_reference_config_has_an_implementation_and_vice_versa()
    {
        var reference = Reference.Metadata["configs"].Split(',').Order(StringComparer.Ordinal);
        Assert.Equal(reference, Configs.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ConfigNames))]
    public void Fifty_steps_match_pytorch(string name)
    {
        var (tensors, _) = Reference;
        var config = Configs[name];
        using var scope = NewDisposeScope();
        var p = Parameters(k => tensors[$"init/{k}"]);
        try
        {
            using var opt = config.Build(p);
            Train(opt, p, config, 0, Steps);
            foreach (var k in Names)
                TensorAssert.Close(tensors[$"{name}/{k}"], p[k], atol: 1e-5, rtol: 1e-4, what: $"{name}: {k}");
            // U is outside the loss: it never has a gradient, so it is skipped (no decay, no state).
            Assert.Equal(tensors["init/U"].ToArray<float>(), p["U"].ToArray<float>());
            Assert.Null(opt.state_tensor(p["U"], opt is SGD ? "momentum_buffer" : "exp_avg"));
            Assert.Equal(tensors[$"{name}/lr"].ToArray<double>(), opt.param_groups.Select(g => g.lr));
        }
        finally { DisposeAll(p); }
    }

    [Theory]
    [InlineData("adamw_amsgrad")]
    [InlineData("adam")]
    [InlineData("sgd_nesterov")]
    [InlineData("sgd_plain")]
    [InlineData("adamw_groups")]
    public void Resuming_from_a_saved_state_dict_is_bit_identical(string name)
    {
        var init = Reference.Tensors;
        var config = Configs[name] with { Halve = true };
        const int total = 20, saveAt = 10, halveAfter = 4;
        using var scope = NewDisposeScope();

        var straight = Parameters(k => init[$"init/{k}"]);
        var first = Parameters(k => init[$"init/{k}"]);
        Dictionary<string, Parameter>? resumed = null;
        var path = Path.Combine(Path.GetTempPath(), $"optim-resume-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var opt = config.Build(straight)) Train(opt, straight, config, 0, total, halveAfter);

            double[] initialLrs;
            using (var opt = config.Build(first))
            {
                initialLrs = [.. opt.param_groups.Select(g => g.lr)];
                Train(opt, first, config, 0, saveAt, halveAfter);
                using var sd = opt.state_dict();
                sd.save(path);
            }
            resumed = Parameters(k => first[k]);
            using (var opt = config.Build(resumed))
            {
                using (var loaded = OptimizerStateDict.load(path)) opt.load_state_dict(loaded);
                // The halved learning rate comes back from the state dict, not from the constructor.
                Assert.Equal(initialLrs.Select(lr => lr * 0.5), opt.param_groups.Select(g => g.lr));
                Train(opt, resumed, config, saveAt, total, halveAfter);
            }
            foreach (var k in Names)
                Assert.True(straight[k].ToArray<float>().SequenceEqual(resumed[k].ToArray<float>()), $"{name}: {k} differs after resume");
        }
        finally
        {
            DisposeAll(straight);
            DisposeAll(first);
            if (resumed is not null) DisposeAll(resumed);
            File.Delete(path);
        }
    }

    [Fact]
    public void Loading_a_state_dict_for_other_parameters_fails_clearly_and_changes_nothing()
    {
        using var scope = NewDisposeScope();
        var p = Parameters(k => Reference.Tensors[$"init/{k}"]);
        using var wrongW = new Parameter(zeros(5, 8));
        using var extra = new Parameter(zeros(2));
        try
        {
            using var opt = Configs["adamw_amsgrad"].Build(p);
            Train(opt, p, Configs["adamw_amsgrad"], 0, 2);
            using var sd = opt.state_dict();
            Assert.Equal(new[] { "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq" },
                sd.tensors.Keys.Where(k => k.StartsWith("state.0.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal("2", sd.metadata["state.0.step"]);

            using var shaped = new AdamW([wrongW, p["b"], p["M"], p["U"]]);
            var e = Assert.Throws<ArgumentException>(() => shaped.load_state_dict(sd));
            Assert.Contains("parameter 0 (group 0, position 0) has shape [5, 8] but the state dict was saved for shape [8, 5]", e.Message, StringComparison.Ordinal);
            Assert.Null(shaped.state_tensor(p["b"], "exp_avg"));

            using var longer = new AdamW([p["W"], p["b"], p["M"], p["U"], extra]);
            e = Assert.Throws<ArgumentException>(() => longer.load_state_dict(sd));
            Assert.Contains("parameter group 0 has 4 parameters in the state dict but 5 in the optimizer", e.Message, StringComparison.Ordinal);

            using var grouped = new AdamW([new ParamGroup([p["W"], p["b"]]), new ParamGroup([p["M"], p["U"]])]);
            e = Assert.Throws<ArgumentException>(() => grouped.load_state_dict(sd));
            Assert.Contains("the state dict has 1 parameter groups but the optimizer has 2", e.Message, StringComparison.Ordinal);

            using var sgd = new SGD(All(p), lr: 0.1);
            e = Assert.Throws<ArgumentException>(() => sgd.load_state_dict(sd));
            Assert.Contains("the state dict is for a AdamW optimizer, but this one is SGD", e.Message, StringComparison.Ordinal);

            // A state tensor whose shape does not match its parameter (a hand-edited or corrupted file).
            using var bad = new OptimizerStateDict(new Dictionary<string, Tensor> { ["state.1.exp_avg"] = zeros(3) }, sd.metadata);
            using var fresh = new AdamW(All(p));
            e = Assert.Throws<ArgumentException>(() => fresh.load_state_dict(bad));
            Assert.Contains("state dict entry 'state.1.exp_avg' has shape [3] but parameter 1 has shape [5]", e.Message, StringComparison.Ordinal);
        }
        finally { DisposeAll(p); }
    }

    [Fact]
    public void Options_are_validated_and_groups_keep_their_own_copy()
    {
        using var a = new Parameter(zeros(2));
        using var b = new Parameter(zeros(2));
        var e = Assert.Throws<ArgumentException>(() => new SGD([a], lr: 0.1, momentum: 0, nesterov: true));
        Assert.Contains("Nesterov momentum requires a momentum and zero dampening", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([a], betas: (1.0, 0.999)));
        e = Assert.Throws<ArgumentException>(() => new SGD([new ParamGroup([a, b]), new ParamGroup([b])], lr: 0.1));
        Assert.Contains("some parameters appear in more than one parameter group", e.Message, StringComparison.Ordinal);

        var defaults = new SGDOptions { lr = 0.1, momentum = 0.9 };
        using var opt = new SGD([new ParamGroup([a]), new ParamGroup([b], defaults with { momentum = 0, lr = 0.5 })], lr: 0.1, momentum: 0.9);
        opt.param_groups[0].lr = 0.01;
        Assert.Equal(new[] { 0.01, 0.5 }, opt.param_groups.Select(g => g.lr));
        Assert.Equal(new[] { 0.9, 0.0 }, opt.param_groups.Select(g => ((SGDOptions)g.options).momentum));
        Assert.Equal(0.1, opt.defaults.lr);
        using var c = new Parameter(zeros(1));
        e = Assert.Throws<ArgumentException>(() => opt.add_param_group(new ParamGroup([c], new AdamOptions())));
        Assert.Contains("a SGD parameter group needs SGDOptions, not AdamOptions", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> ClipCases() => [.. Reference.Metadata["clips"].Split(',')];

    private static double NormType(string clip) => clip switch
    {
        "inf" => double.PositiveInfinity,
        "l1" => 1.0,
        _ => 2.0,
    };

    private static double MaxNorm(string clip) => clip switch
    {
        "l2" => 0.05,
        "inf" => 0.02,
        "l1" => 0.1,
        "l2_unclipped" => 100.0,
        _ => throw new ArgumentOutOfRangeException(nameof(clip), clip, "unknown clip case"),
    };

    private static Dictionary<string, Parameter> WithReferenceGrads()
    {
        var p = Parameters(k => Reference.Tensors[$"init/{k}"]);
        foreach (var k in new[] { "W", "b", "M" }) p[k].grad = Reference.Tensors[$"clip/grad/{k}"].clone();
        return p;
    }

    [Theory]
    [MemberData(nameof(ClipCases))]
    public void Clip_grad_norm_matches_pytorch(string clip)
    {
        var tensors = Reference.Tensors;
        using var scope = NewDisposeScope();
        var p = WithReferenceGrads();
        try
        {
            var total = nn.utils.clip_grad_norm_(All(p), MaxNorm(clip), NormType(clip));
            var expected = tensors[$"clip/{clip}/total"].ToArray<double>()[0];
            Assert.True(Math.Abs(total - expected) <= 1e-6 + 1e-5 * Math.Abs(expected), $"{clip}: total norm {total}, PyTorch {expected}");
            foreach (var k in new[] { "W", "b", "M" })
                TensorAssert.Close(tensors[$"clip/{clip}/{k}"], p[k].grad!, atol: 1e-7, rtol: 1e-5, what: $"{clip}: clipped grad of {k}");
            Assert.Null(p["U"].grad);
        }
        finally { DisposeAll(p); }
    }

    [Fact]
    public void Clip_grad_value_matches_pytorch_and_nonfinite_norms_are_reported()
    {
        var tensors = Reference.Tensors;
        using var scope = NewDisposeScope();
        var p = WithReferenceGrads();
        try
        {
            nn.utils.clip_grad_value_(All(p), 0.01);
            foreach (var k in new[] { "W", "b", "M" })
                TensorAssert.Close(tensors[$"clip/value/{k}"], p[k].grad!, atol: 0, rtol: 0, what: $"clip_grad_value_ of {k}");

            p["b"].grad = full([5], double.NaN);
            var e = Assert.Throws<TorchException>(() => nn.utils.clip_grad_norm_(All(p), 1.0, error_if_nonfinite: true));
            Assert.Contains("is non-finite, so it cannot be clipped", e.Message, StringComparison.Ordinal);
            Assert.True(double.IsNaN(nn.utils.clip_grad_norm_(All(p), 1.0)));
            Assert.Equal(0.0, nn.utils.clip_grad_norm_([p["U"]], 1.0));
        }
        finally { DisposeAll(p); }
    }

    [Fact]
    public void Parameters_to_vector_concatenates_flattened_parameters()
    {
        using var scope = NewDisposeScope();
        var p = Parameters(k => Reference.Tensors[$"init/{k}"]);
        try
        {
            var v = nn.utils.parameters_to_vector(All(p));
            Assert.Equal(new[] { 40L + 5 + 9 + 4 }, v.shape);
            Assert.Equal(All(p).SelectMany(t => t.ToArray<float>()), v.ToArray<float>());
            Assert.True(v.requires_grad);
        }
        finally { DisposeAll(p); }
    }
}
