using System.Net;

namespace Pipeline.Storage.Tests;

/// <summary>
/// Stands between the store and the real Azurite to produce what Azurite cannot on demand: a request
/// that the server carried out but whose answer was lost, or a server that keeps failing.
/// </summary>
internal sealed class FaultInjectingHandler(Func<HttpRequestMessage, int, Fault> decide) : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly Dictionary<string, int> _attempts = [];

    public int Requests { get; private set; }

    public int Faults { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        int attempt;
        lock (_attempts)
        {
            var key = $"{request.Method} {request.RequestUri}";
            attempt = _attempts[key] = _attempts.GetValueOrDefault(key) + 1;
            Requests++;
        }

        var fault = decide(request, attempt);
        if (fault == Fault.None)
        {
            return await base.SendAsync(request, cancellationToken);
        }

        lock (_attempts)
        {
            Faults++;
        }

        if (fault is Fault.LoseResponse or Fault.ResetAfterApplying)
        {
            // The server applies the request; the client never learns of it.
            using var applied = await base.SendAsync(request, cancellationToken);
        }

        return fault switch
        {
            Fault.ResetAfterApplying => throw new HttpRequestException("Connection reset by peer (injected)."),
            _ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request },
        };
    }
}

internal enum Fault
{
    None,

    /// <summary>Answer 503 without forwarding.</summary>
    Unavailable,

    /// <summary>Forward, then answer 503 instead of the real response.</summary>
    LoseResponse,

    /// <summary>Forward, then fail as if the connection dropped.</summary>
    ResetAfterApplying,
}
