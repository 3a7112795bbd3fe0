using System.Net.Sockets;

namespace Pipeline.Hosting;

/// <summary>Healthy when the broker answers the AMQP 0-9-1 protocol header with Connection.Start:
/// proves the broker (not just a socket) is up, without credentials or a client library.</summary>
public sealed class AmqpHandshakeCheck(int port) : IHealthCheck
{
    private static readonly byte[] ProtocolHeader = "AMQP\0\0\u0009\u0001"u8.ToArray();

    public async Task<HealthResult> CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(ProtocolHeader, timeout.Token);
            // Frame header (type 1 = method, channel 0, size) then class 10 / method 10 = Connection.Start.
            var frame = new byte[11];
            await stream.ReadExactlyAsync(frame, timeout.Token);
            var isStart = frame[0] == 1 && frame[1] == 0 && frame[2] == 0
                && frame[7] == 0 && frame[8] == 10 && frame[9] == 0 && frame[10] == 10;
            return isStart ? HealthResult.Healthy : HealthResult.Unhealthy("no AMQP Connection.Start in reply");
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthResult.Unhealthy($"AMQP on port {port}: {e.Message}");
        }
    }
}
