using System.Net;
using System.Net.Sockets;

namespace Pipeline.AppHost.Hosting;

/// <summary>Ports for the infrastructure's own listeners. They run proxy-less (a fixed port on 127.0.0.1): Erlang's
/// distribution port has to be known before the broker starts, and the broker's Prometheus port is written into its
/// config file.</summary>
public static class FreePort
{
    /// <summary>A port the kernel had free on 127.0.0.1 a moment ago.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Makes the endpoint that port on 127.0.0.1, without Aspire's proxy in front.</summary>
    public static void Fix(EndpointAnnotation endpoint, int port, string scheme)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        endpoint.Port = port;
        endpoint.TargetPort = port;
        endpoint.IsProxied = false;
        endpoint.UriScheme = scheme;
        endpoint.TargetHost = "127.0.0.1";
    }
}
