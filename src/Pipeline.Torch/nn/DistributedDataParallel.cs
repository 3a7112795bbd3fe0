using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class nn
    {
        public static partial class parallel
        {
            /// <summary>
            /// Data-parallel training, as <c>torch.nn.parallel.DistributedDataParallel</c>: every rank holds a replica of
            /// <see cref="module"/> (registered as the child "module", so state-dict keys read <c>module.fc.weight</c>).
            /// Construction broadcasts parameters and buffers from rank 0. During <c>loss.backward()</c> each gradient,
            /// as soon as it is accumulated, goes into its bucket (~<c>bucket_cap_mb</c>, parameters in reverse
            /// registration order); a full bucket is averaged across ranks asynchronously while backward goes on; when
            /// backward returns, every <c>.grad</c> holds the mean over ranks, ready for <c>optimizer.step()</c>.
            /// A lost peer makes backward throw, naming the rank, within the group's timeout.
            /// </summary>
            public sealed class DistributedDataParallel : Module<Tensor, Tensor>
            {
                private readonly DdpHandle handle;

                /// <param name="overlap">false: gradients are bucketed and reduced after backward instead of during it.</param>
                /// <param name="broadcast_buffers">Broadcast rank 0's buffers (BatchNorm running statistics) before each forward while the wrapped module trains.</param>
                public unsafe DistributedDataParallel(Module<Tensor, Tensor> module, distributed.ProcessGroup process_group,
                    double bucket_cap_mb = 25, bool broadcast_buffers = true, bool overlap = true)
                {
                    ArgumentNullException.ThrowIfNull(module);
                    ArgumentNullException.ThrowIfNull(process_group);
                    if (bucket_cap_mb <= 0) throw new ArgumentOutOfRangeException(nameof(bucket_cap_mb), bucket_cap_mb, "bucket_cap_mb must be positive");
                    this.module = register_module("module", module);
                    this.process_group = process_group;
                    this.broadcast_buffers = broadcast_buffers;
                    Tensor[] parameters = [.. module.parameters()];
                    Tensor[] buffers = [.. module.buffers()];
                    using var p = new HandleList(parameters);
                    using var b = new HandleList(buffers);
                    IntPtr ptr;
                    fixed (IntPtr* pp = p.Pointers)
                    fixed (IntPtr* bp = b.Pointers)
                        ptr = pt_ddp_new(process_group.Handle, pp, parameters.Length, bp, buffers.Length, (long)(bucket_cap_mb * 1024 * 1024), overlap ? 1 : 0);
                    if (ptr == IntPtr.Zero) process_group.ThrowFailure();
                    handle = new DdpHandle(ptr);
                }

                public Module<Tensor, Tensor> module { get; }
                public distributed.ProcessGroup process_group { get; }
                public bool broadcast_buffers { get; }
                public int rank => process_group.rank;
                public int world_size => process_group.world_size;

                /// <summary>How many gradient buckets the parameters fell into.</summary>
                public int bucket_count => pt_ddp_bucket_count(handle);

                public override Tensor forward(Tensor input)
                {
                    if (module.training && broadcast_buffers) sync_buffers();
                    return module.forward(input);
                }

                /// <summary>Copies rank 0's buffers (BatchNorm running statistics) to every rank.</summary>
                public void sync_buffers()
                {
                    Tensor[] buffers = [.. module.buffers()];
                    if (buffers.Length > 0 && world_size > 1) process_group.broadcast_coalesced(buffers, 0);
                }

                /// <summary>
                /// Within the scope, backward keeps gradients local (they accumulate); the first backward after it
                /// averages the accumulated gradients, as PyTorch's <c>no_sync()</c> for gradient accumulation.
                /// </summary>
                public NoSyncScope no_sync()
                {
                    Check(pt_ddp_set_sync(handle, 0));
                    return new NoSyncScope(handle);
                }

                /// <summary>Frees the reducer (its hooks go quiet); the wrapped module stays the caller's to use and dispose.</summary>
                protected override void Dispose(bool disposing)
                {
                    if (disposing)
                    {
                        handle.Dispose();
                        UnregisterModule("module");
                    }
                    base.Dispose(disposing);
                }
            }

            /// <summary>Turns gradient synchronisation back on when disposed.</summary>
            public readonly struct NoSyncScope : IDisposable
            {
                private readonly DdpHandle handle;

                internal NoSyncScope(DdpHandle handle) => this.handle = handle;

                public void Dispose()
                {
                    if (handle is { IsClosed: false }) Check(pt_ddp_set_sync(handle, 1));
                }
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
