using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Ingest.Api;

/// <summary>
/// Every <c>/api</c> request needs the key in <c>X-Api-Key</c> (or <c>Authorization: Bearer</c>); otherwise 401 and no
/// data. Health and metrics stay open, as probes and Prometheus need them.
/// </summary>
public sealed class ApiKeyMiddleware(RequestDelegate next, ApiKey key)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal) && !key.Matches(Presented(context.Request)))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "ApiKey header=\"X-Api-Key\"";
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    private static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header)) return header.ToString();
        var auth = request.Headers.Authorization.ToString();
        return auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : null;
    }
}

/// <summary>The API key, from <c>PIPELINE_API_KEY</c> (the AppHost sets it).</summary>
public sealed class ApiKey(string value)
{
    private readonly byte[] expected = Encoding.UTF8.GetBytes(value);

    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(expected, Encoding.UTF8.GetBytes(presented));
}
