using static Pipeline.Torch.torch;
using F = Pipeline.Torch.torch.nn.functional;

namespace Pipeline.Torch.Tests;

/// <summary>The small CNN against PyTorch (Reference/small_cnn.py): initialisation, forward, loss, gradients, running stats.</summary>
public class SmallCnnParityTests
{
    private const double Atol = 1e-5, Rtol = 1e-4;

    internal static Dictionary<string, Tensor> Reference => PyTorchReference.Run("small_cnn.py").Tensors;

    internal static Dictionary<string, Tensor> Prefixed(string prefix) =>
        Reference.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    [Fact]
    public void Default_initialisation_is_bit_for_bit_pytorchs()
    {
        using var scope = NewDisposeScope();
        manual_seed(0);
        using var model = new SmallCnn();
        var expected = Prefixed("init/");
        var state = model.state_dict();
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), state.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in state) TensorAssert.Close(expected[key], value, 0, 0, key);
    }

    [Fact]
    public void Train_step_matches_pytorch_logits_loss_gradients_and_running_stats()
    {
        using var scope = NewDisposeScope();
        using var model = new SmallCnn();
        model.load_state_dict(Prefixed("state/"));
        var (x, labels) = (Reference["x"], Reference["labels"]);

        model.train();
        var logits = model.call(x);
        var loss = F.cross_entropy(logits, labels);
        loss.backward();

        TensorAssert.Close(Reference["logits"], logits, Atol, Rtol, "logits");
        TensorAssert.Close(Reference["loss"], loss, Atol, Rtol, "loss");
        foreach (var (name, p) in model.named_parameters())
        {
            var grad = p.grad;
            Assert.True(grad is not null, $"{name} got no gradient");
            TensorAssert.Close(Reference[$"grad/{name}"], grad!, Atol, Rtol, $"gradient of {name}");
        }
        var after = Prefixed("after/");
        foreach (var (key, value) in model.state_dict()) TensorAssert.Close(after[key], value, Atol, Rtol, $"{key} after the forward");

        model.eval();
        using (no_grad()) TensorAssert.Close(Reference["logits_eval"], model.call(x), Atol, Rtol, "eval logits");
    }
}
