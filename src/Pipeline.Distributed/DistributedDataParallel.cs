using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Distributed;

/// <summary>
/// Data-parallel training of a TorchSharp module: at construction every rank takes rank 0's parameters and buffers;
/// after each <c>backward()</c>, <see cref="SynchronizeGradients"/> averages the gradients across ranks. TorchSharp has
/// no gradient hooks, so this runs after backward, not overlapped with it: the gradients are copied into flat
/// buckets (one dtype each, up to <c>bucketCapBytes</c>), each bucket is all-reduced by the group's engine, divided by
/// the world size and copied back. A parameter with no gradient on this rank counts as zeros, and gets the average.
/// </summary>
public sealed class DistributedDataParallel : IDisposable
{
    public const long DefaultBucketCapBytes = 25L * 1024 * 1024;

    private readonly ProcessGroup group;
    private readonly List<Bucket> buckets = [];
    private bool disposed;

    public DistributedDataParallel(nn.Module module, ProcessGroup group, long bucketCapBytes = DefaultBucketCapBytes)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketCapBytes, 1);
        Module = module;
        this.group = group;

        using (no_grad())
        {
            foreach (var p in module.parameters()) BroadcastInPlace(p);
            foreach (var b in module.buffers()) BroadcastInPlace(b);
        }

        // Reverse registration order: roughly the order backward produces gradients (what a hook-driven reducer
        // would follow; it also keeps each layer's weight and bias together).
        var parameters = module.parameters().Where(p => p.requires_grad).Reverse().ToList();
        foreach (var kind in parameters.GroupBy(p => (p.dtype, p.device_type)))
        {
            var members = new List<Parameter>();
            long bytes = 0;
            foreach (var p in kind)
            {
                var size = p.numel() * p.element_size();
                if (members.Count > 0 && bytes + size > bucketCapBytes)
                {
                    buckets.Add(new Bucket(members));
                    members = [];
                    bytes = 0;
                }
                members.Add(p);
                bytes += size;
            }
            if (members.Count > 0) buckets.Add(new Bucket(members));
        }
    }

    public nn.Module Module { get; }

    public int BucketCount => buckets.Count;

    /// <summary>Averages every parameter's gradient across the ranks; call it after <c>backward()</c>, before the optimizer's step.</summary>
    public void SynchronizeGradients()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var bucket in buckets)
        {
            long offset = 0;
            foreach (var p in bucket.Members)
            {
                var slot = bucket.Flat.narrow(0, offset, p.numel());
                var grad = p.grad;
                if (grad is null) slot.zero_();
                else slot.copy_(grad.reshape(-1));
                offset += p.numel();
            }
            group.AllReduce(bucket.Flat, ReduceOp.Sum);
            bucket.Flat.div_(group.WorldSize);
            offset = 0;
            foreach (var p in bucket.Members)
            {
                var averaged = bucket.Flat.narrow(0, offset, p.numel()).view(p.shape);
                var grad = p.grad;
                if (grad is null) p.grad = averaged.clone().DetachFromDisposeScope();
                else grad.copy_(averaged);
                offset += p.numel();
            }
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var b in buckets) b.Flat.Dispose();
    }

    // A broadcast works on a contiguous buffer: a non-contiguous tensor goes through a contiguous copy.
    private void BroadcastInPlace(Tensor t)
    {
        if (t.is_contiguous())
        {
            group.Broadcast(t, 0);
            return;
        }
        using var copy = t.contiguous();
        group.Broadcast(copy, 0);
        t.copy_(copy);
    }

    private sealed class Bucket(List<Parameter> members)
    {
        public List<Parameter> Members { get; } = members;
        public Tensor Flat { get; } = zeros(members.Sum(p => p.numel()), dtype: members[0].dtype, device: members[0].device).DetachFromDisposeScope();
    }
}
