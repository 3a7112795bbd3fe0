using System.Net;
using System.Net.Sockets;

namespace Pipeline.Hosting;

/// <summary>Free ports on 127.0.0.1, asked of the kernel (bind to port 0), never handed out twice.</summary>
internal static class PortAllocator
{
    private static readonly HashSet<int> Handed = [];

    public static int Next()
    {
        lock (Handed)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }

    /// <summary>At build time, so connection strings are known before anything starts.</summary>
    public static void AllocateAll(DistributedApplicationModel model)
    {
        foreach (var resource in model.ProcessResources)
        {
            foreach (var endpoint in resource.Endpoints.Where(e => !e.IsAllocated))
            {
                endpoint.Allocate([.. Enumerable.Range(0, resource.Replicas).Select(_ => Next())]);
            }
        }
    }
}
