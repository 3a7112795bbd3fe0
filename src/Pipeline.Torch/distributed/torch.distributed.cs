namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    /// <summary>
    /// torch.distributed: rendezvous through a <see cref="TCPStore"/> (served by rank 0), a process group, and the
    /// collectives. The first group created becomes the default one that the module-level functions use.
    /// </summary>
    public static partial class distributed
    {
        /// <summary>PyTorch's default: 30 minutes.</summary>
        public static readonly TimeSpan default_timeout = TimeSpan.FromMinutes(30);

        private static ProcessGroup? default_group;

        /// <summary>
        /// Joins a group of <paramref name="world_size"/> processes: rank 0 serves the TCPStore on
        /// <paramref name="master_addr"/>:<paramref name="master_port"/>, the others connect to it; every step (store
        /// connection, rendezvous, each collective) fails within <paramref name="timeout"/> instead of hanging.
        /// Gloo binds to <paramref name="gloo_interface"/> (e.g. eth0) when given, else to 127.0.0.1 when the master is
        /// local, else to this host's resolved name.
        /// </summary>
        public static ProcessGroup init_process_group(string backend, int rank, int world_size, string master_addr = "127.0.0.1",
            int master_port = 29500, TimeSpan? timeout = null, string? gloo_interface = null)
        {
            ArgumentNullException.ThrowIfNull(backend);
            ArgumentNullException.ThrowIfNull(master_addr);
            if (world_size < 1) throw new ArgumentOutOfRangeException(nameof(world_size), world_size, "world_size must be at least 1");
            if (rank < 0 || rank >= world_size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {world_size})");
            var limit = timeout ?? default_timeout;
            var local = master_addr is "127.0.0.1" or "localhost" or "::1";
            var store = new TCPStore(master_addr, master_port, world_size, is_master: rank == 0, limit);
            try
            {
                var group = new ProcessGroup(store, backend, rank, world_size, limit, gloo_interface, local ? "127.0.0.1" : null);
                default_group ??= group;
                return group;
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        public static bool is_initialized() => default_group is not null;

        /// <summary>Disposes the default group (if any).</summary>
        public static void destroy_process_group()
        {
            var group = default_group;
            default_group = null;
            group?.Dispose();
        }

        public static int get_rank(ProcessGroup? group = null) => Group(group).rank;

        public static int get_world_size(ProcessGroup? group = null) => Group(group).world_size;

        /// <summary>In place; with <paramref name="async_op"/> returns the <see cref="Work"/> to wait on, else null once done.</summary>
        public static Work? all_reduce(Tensor tensor, ReduceOp op = ReduceOp.SUM, ProcessGroup? group = null, bool async_op = false) =>
            Finish(Group(group).all_reduce_async(tensor, op), async_op);

        public static Work? broadcast(Tensor tensor, int src, ProcessGroup? group = null, bool async_op = false) =>
            Finish(Group(group).broadcast_async(tensor, src), async_op);

        public static Work? all_gather(IReadOnlyList<Tensor> tensor_list, Tensor tensor, ProcessGroup? group = null, bool async_op = false) =>
            Finish(Group(group).all_gather_async(tensor_list, tensor), async_op);

        public static Work? barrier(ProcessGroup? group = null, bool async_op = false) => Finish(Group(group).barrier_async(), async_op);

        /// <summary>A metric reduced across ranks (SUM, AVG for the mean, MAX, MIN), computed in float64.</summary>
        public static double all_reduce(double value, ReduceOp op = ReduceOp.SUM, ProcessGroup? group = null) => Group(group).all_reduce(value, op);

        private static Work? Finish(Work work, bool async_op)
        {
            if (async_op) return work;
            using (work) work.wait();
            return null;
        }

        private static ProcessGroup Group(ProcessGroup? group) =>
            group ?? default_group ?? throw new InvalidOperationException("Default process group has not been initialized, please make sure to call init_process_group.");
    }
}
#pragma warning restore CA1707, IDE1006
