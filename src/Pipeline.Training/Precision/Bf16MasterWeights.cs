using TorchSharp.Modules;
using TorchSharp;
using Pipeline.Vision;
using static TorchSharp.torch;

namespace Pipeline.Training.Precision;

/// <summary>
/// bf16 mixed precision without autocast (TorchSharp has none), keeping fp32 master weights: the forward and backward
/// run through <see cref="Working"/>, a bf16 copy of the model; <see cref="AccumulateGradients"/> adds its gradients,
/// in fp32, to the master parameters' (which the optimizer, the data-parallel all-reduce and gradient clipping see,
/// all in fp32); <see cref="Refresh"/> copies the masters back into the copy before the next forward. The caller
/// computes losses in fp32 (the copy's outputs cast up). Buffers (batch-norm running statistics) live in the masters
/// too: the copy's, updated by a training forward, are copied back with the gradients.
/// </summary>
/// <typeparam name="TOut">what the model returns</typeparam>
public sealed class Bf16MasterWeights<TOut> : IDisposable
{
    private readonly nn.Module master;
    private readonly (Parameter Master, Parameter Working)[] parameters;
    private readonly (Tensor Master, Tensor Working)[] buffers;

    /// <param name="master">the model the optimizer steps (float32 parameters)</param>
    /// <param name="working">a fresh instance of the same architecture (same parameter and buffer names); it becomes the
    /// bf16 copy on the master's device, and this object owns it</param>
    public Bf16MasterWeights(nn.Module master, nn.Module<Tensor, TOut> working)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(working);
        this.master = master;
        var masterParameters = master.named_parameters().ToList();
        if (masterParameters.Any(p => p.parameter.dtype != ScalarType.Float32))
            throw new ArgumentException("the master weights must be float32", nameof(master));
        var device = masterParameters.Count > 0 ? masterParameters[0].parameter.device : CPU;
        working.to(ScalarType.BFloat16).to(device);
        Working = working;
        parameters = Pair(masterParameters, working.named_parameters(), "parameter");
        // Only floating-point buffers take the copy's dtype (BatchNorm's num_batches_tracked stays int64).
        buffers = Pair(master.named_buffers(), working.named_buffers(), "buffer");
        Refresh();
    }

    /// <summary>The bf16 copy to run forward and backward through.</summary>
    public nn.Module<Tensor, TOut> Working { get; }

    /// <summary>Copies the master weights and buffers (cast to bf16), their trainability and the train/eval mode into the
    /// copy. Before each forward: the optimizer may have stepped, or weights been loaded, since the last.</summary>
    public void Refresh()
    {
        using var noGrad = no_grad();
        foreach (var (m, w) in parameters)
        {
            w.copy_(m);
            w.requires_grad = m.requires_grad;
        }
        foreach (var (m, w) in buffers) w.copy_(m);
        Working.train(master.training);
    }

    /// <summary>After a backward through <see cref="Working"/>: adds its gradients in fp32 to the masters' (gradient
    /// accumulation sums in fp32, not in bf16), clears the copy's, and copies its buffers back to the masters.</summary>
    public void AccumulateGradients()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (m, w) in parameters)
        {
            if (w.grad is not { } g) continue;
            var g32 = g.to(ScalarType.Float32);
            if (m.grad is { } existing) existing.add_(g32);
            else m.grad = g32.DetachFromDisposeScope(); // a new tensor already: the copy's gradient is bf16
            w.grad = null;
        }
        foreach (var (m, w) in buffers) m.copy_(w);
    }

    public void Dispose() => Working.Dispose();

    private static (T Master, T Working)[] Pair<T>(IEnumerable<(string name, T tensor)> masters, IEnumerable<(string name, T tensor)> copies, string what)
        where T : Tensor
    {
        var byName = copies.ToDictionary(c => c.name, c => c.tensor, StringComparer.Ordinal);
        var pairs = new List<(T, T)>();
        foreach (var (name, m) in masters)
        {
            if (!byName.Remove(name, out var w)) throw new ArgumentException($"the working copy has no {what} '{name}': not the master's architecture");
            if (!m.shape.SequenceEqual(w.shape)) throw new ArgumentException($"{what} '{name}' is [{string.Join(", ", m.shape)}] in the master but [{string.Join(", ", w.shape)}] in the copy");
            pairs.Add((m, w));
        }
        if (byName.Count > 0) throw new ArgumentException($"the working copy has {what}s the master lacks: {string.Join(", ", byName.Keys.Take(5))}");
        return [.. pairs];
    }
}
