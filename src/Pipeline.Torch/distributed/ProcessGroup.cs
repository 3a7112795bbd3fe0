using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class distributed
    {
        /// <summary>How <see cref="all_reduce(Tensor, ReduceOp, ProcessGroup?, bool)"/> combines the ranks' tensors.</summary>
        public enum ReduceOp
        {
            SUM = 0,
            /// <summary>The mean over ranks (floating-point tensors only).</summary>
            AVG = 1,
            MAX = 2,
            MIN = 3,
        }

        /// <summary>
        /// A group of processes that run collectives together (Gloo for CPU tensors, NCCL for CUDA tensors). Every
        /// member must issue the same collectives in the same order. Dispose it to leave the group; a failed collective
        /// throws <see cref="DistributedException"/> naming the lost ranks, within the group's timeout.
        /// </summary>
        public sealed class ProcessGroup : IDisposable
        {
            internal readonly ProcessGroupHandle Handle;
            private readonly TCPStore store;

            internal ProcessGroup(TCPStore store, string backend, int rank, int world_size, TimeSpan timeout, string? gloo_interface, string? gloo_hostname)
            {
                var code = backend switch
                {
                    "gloo" => 0,
                    "nccl" => 1,
                    _ => throw new ArgumentException($"unknown backend '{backend}' (gloo or nccl)", nameof(backend)),
                };
                this.store = store;
                var ptr = pt_pg_new(store.Handle, code, rank, world_size, (long)timeout.TotalMilliseconds, gloo_interface ?? "", gloo_hostname ?? "");
                if (ptr == IntPtr.Zero) throw new DistributedException(TakeError() ?? "process group creation failed without a message");
                Handle = new ProcessGroupHandle(ptr);
                this.backend = backend;
                this.timeout = timeout;
            }

            public string backend { get; }
            public TimeSpan timeout { get; }
            public int rank => pt_pg_rank(Handle);
            public int world_size => pt_pg_size(Handle);
            public int size() => world_size;

            /// <summary>The rendezvous store (shared key-value state for the group's members).</summary>
            public TCPStore Store => store;

            /// <summary>The ranks the last failed collective found lost.</summary>
            public unsafe IReadOnlyList<int> lost_ranks
            {
                get
                {
                    var buffer = new int[Math.Max(1, world_size)];
                    int n;
                    fixed (int* p = buffer) n = pt_pg_lost_ranks(Handle, p, buffer.Length);
                    return buffer[..Math.Min(n, buffer.Length)];
                }
            }

            public Work all_reduce_async(Tensor tensor, ReduceOp op = ReduceOp.SUM) =>
                Issue(pt_pg_all_reduce(Handle, Arg(tensor), (int)op));

            public Work broadcast_async(Tensor tensor, int src) => Issue(pt_pg_broadcast(Handle, Arg(tensor), src));

            /// <summary>Fills <paramref name="tensor_list"/> (one tensor per rank, shaped like <paramref name="tensor"/>) in rank order.</summary>
            public unsafe Work all_gather_async(IReadOnlyList<Tensor> tensor_list, Tensor tensor)
            {
                ArgumentNullException.ThrowIfNull(tensor_list);
                using var list = new HandleList(ToSpan(tensor_list));
                fixed (IntPtr* p = list.Pointers) return Issue(pt_pg_all_gather(Handle, p, list.Pointers.Length, Arg(tensor)));
            }

            public Work barrier_async() => Issue(pt_pg_barrier(Handle));

            public void all_reduce(Tensor tensor, ReduceOp op = ReduceOp.SUM)
            {
                using var work = all_reduce_async(tensor, op);
                work.wait();
            }

            public void broadcast(Tensor tensor, int src)
            {
                using var work = broadcast_async(tensor, src);
                work.wait();
            }

            public void all_gather(IReadOnlyList<Tensor> tensor_list, Tensor tensor)
            {
                using var work = all_gather_async(tensor_list, tensor);
                work.wait();
            }

            /// <summary>Returns the world-size tensors gathered from every rank, in rank order.</summary>
            public Tensor[] all_gather(Tensor tensor)
            {
                var outputs = new Tensor[world_size];
                try
                {
                    for (var k = 0; k < outputs.Length; k++) outputs[k] = empty_like(tensor);
                    all_gather(outputs, tensor);
                    return outputs;
                }
                catch
                {
                    foreach (var o in outputs) o?.Dispose();
                    throw;
                }
            }

            public void barrier()
            {
                using var work = barrier_async();
                work.wait();
            }

            /// <summary>Reduces a number across ranks (metrics: loss sums, sample counts, accuracies) in float64.</summary>
            public double all_reduce(double value, ReduceOp op = ReduceOp.SUM)
            {
                using var t = scalar_tensor(value, float64);
                all_reduce(t, op);
                return t.item<double>();
            }

            /// <summary>Broadcasts tensors from <paramref name="src"/> in one collective per device (their bytes, flattened together).</summary>
            public unsafe void broadcast_coalesced(IReadOnlyList<Tensor> tensors, int src = 0)
            {
                ArgumentNullException.ThrowIfNull(tensors);
                using var list = new HandleList(ToSpan(tensors));
                fixed (IntPtr* p = list.Pointers) CheckDistributed(pt_pg_broadcast_coalesced(Handle, p, list.Pointers.Length, src));
            }

            private Work Issue(IntPtr work)
            {
                if (work == IntPtr.Zero) ThrowFailure();
                return new Work(new WorkHandle(work), this);
            }

            internal int CheckDistributed(int result)
            {
                if (result < 0) ThrowFailure();
                return result;
            }

            internal void ThrowFailure() =>
                throw new DistributedException(TakeError() ?? "collective failed without a message", lost_ranks);

            public void Dispose()
            {
                if (ReferenceEquals(default_group, this)) default_group = null;
                Handle.Dispose();
                store.Dispose();
            }
        }

        /// <summary>An issued collective (the async variants): <see cref="wait"/> blocks until it is done, or throws.</summary>
        public sealed class Work : IDisposable
        {
            private readonly WorkHandle handle;
            private readonly ProcessGroup group;

            internal Work(WorkHandle handle, ProcessGroup group)
            {
                this.handle = handle;
                this.group = group;
            }

            public void wait() => group.CheckDistributed(pt_work_wait(handle));

            public bool is_completed() => group.CheckDistributed(pt_work_is_completed(handle)) != 0;

            public void Dispose() => handle.Dispose();
        }
    }
}
#pragma warning restore CA1707, IDE1006
