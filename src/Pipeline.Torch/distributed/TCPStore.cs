using System.Text;
using Pipeline.Torch.Native;
using static Pipeline.Torch.Native.NativeMethods;

namespace Pipeline.Torch;

#pragma warning disable CA1707, IDE1006 // names follow PyTorch
public static partial class torch
{
    public static partial class distributed
    {
        /// <summary>
        /// c10d's key-value store over TCP, used for rendezvous: the server (usually on rank 0) listens on
        /// <c>host:port</c>; clients connect to it, retrying until <c>timeout</c>. With a world size the constructor
        /// also waits until that many members have joined.
        /// </summary>
        public sealed class TCPStore : IDisposable
        {
            internal readonly StoreHandle Handle;

            public TCPStore(string host_name, int port, int world_size, bool is_master, TimeSpan timeout)
            {
                ArgumentNullException.ThrowIfNull(host_name);
                NativeMethods.EnsureInitialized();
                var ptr = pt_store_new(host_name, port, is_master ? 1 : 0, world_size, (long)timeout.TotalMilliseconds);
                if (ptr == IntPtr.Zero) throw new DistributedException(TakeError() ?? "TCPStore failed without a message");
                Handle = new StoreHandle(ptr);
                this.host_name = host_name;
                this.port = port;
            }

            public string host_name { get; }
            public int port { get; }

            public unsafe void set(string key, ReadOnlySpan<byte> value)
            {
                fixed (byte* p = value) CheckStore(pt_store_set(Handle, key, p, value.Length));
            }

            public void set(string key, string value) => set(key, Encoding.UTF8.GetBytes(value));

            /// <summary>The value of <paramref name="key"/>, waiting (up to the store's timeout) until it is set.</summary>
            public unsafe byte[] get(string key)
            {
                var buffer = new byte[256];
                while (true)
                {
                    int length;
                    fixed (byte* p = buffer) length = CheckStore(pt_store_get(Handle, key, p, buffer.Length));
                    if (length <= buffer.Length) return buffer.AsSpan(0, length).ToArray();
                    buffer = new byte[length];
                }
            }

            /// <summary>Atomically adds <paramref name="amount"/> to the counter at <paramref name="key"/> and returns the new value.</summary>
            public long add(string key, long amount)
            {
                CheckStore(pt_store_add(Handle, key, amount, out var result));
                return result;
            }

            public void Dispose() => Handle.Dispose();

            private static int CheckStore(int result)
            {
                if (result < 0) throw new DistributedException(TakeError() ?? "TCPStore operation failed without a message");
                return result;
            }
        }
    }
}
#pragma warning restore CA1707, IDE1006
