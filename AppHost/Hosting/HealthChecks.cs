using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pipeline.AppHost.Hosting;

/// <summary>Healthy when the broker answers the AMQP 0-9-1 protocol header with Connection.Start: proves the broker (not
/// just a socket) is up, without credentials or a client library.</summary>
public sealed class AmqpHandshakeCheck(Func<int> port) : IHealthCheck
{
    private static readonly byte[] ProtocolHeader = "AMQP\0\0\u0009\u0001"u8.ToArray();

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port(), timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(ProtocolHeader, timeout.Token);
            // Frame header (type 1 = method, channel 0, size) then class 10 / method 10 = Connection.Start.
            var frame = new byte[11];
            await stream.ReadExactlyAsync(frame, timeout.Token);
            var isStart = frame[0] == 1 && frame[1] == 0 && frame[2] == 0
                && frame[7] == 0 && frame[8] == 10 && frame[9] == 0 && frame[10] == 10;
            return isStart ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("no AMQP Connection.Start in reply");
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"AMQP on port {port()}: {e.Message}");
        }
    }
}

/// <summary>Healthy when something accepts a TCP connection on the port (epmd speaks only when spoken to).</summary>
public sealed class TcpConnectCheck(Func<int> port) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port(), timeout.Token);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"TCP {port()}: {e.Message}");
        }
    }
}

/// <summary>Healthy when the URL answers HTTP at all (<paramref name="anyStatus"/>) or with a success status.</summary>
public sealed class HttpAnswerCheck(Func<Uri> url, bool anyStatus) : IHealthCheck
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(3) };

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await Client.GetAsync(url(), cancellationToken);
            return anyStatus || response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"{url()} answered {(int)response.StatusCode}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{url()}: {e.Message}");
        }
    }
}
