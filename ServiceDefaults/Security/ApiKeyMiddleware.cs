using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pipeline.ServiceDefaults.Security;

/// <summary>
/// Every request except health probes and <c>/metrics</c> needs the key in <c>X-Api-Key</c> (or
/// <c>Authorization: Bearer</c>); otherwise 401 and no data.
/// </summary>
public sealed class ApiKeyMiddleware(RequestDelegate next, ApiKey key)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!IsOpen(context.Request.Path) && !key.Matches(Presented(context.Request)))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "ApiKey header=\"X-Api-Key\"";
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    // Probes and Prometheus cannot present a key.
    private static bool IsOpen(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || path.StartsWithSegments("/metrics", StringComparison.Ordinal);

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

public static class ApiKeyExtensions
{
    /// <summary>Registers the key from <c>PIPELINE_API_KEY</c>; without one, a random key for this run is printed.</summary>
    public static IHostApplicationBuilder AddApiKey(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var value = builder.Configuration["PIPELINE_API_KEY"];
        if (string.IsNullOrWhiteSpace(value))
        {
            value = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
            Console.WriteLine($"PIPELINE_API_KEY is not set; this run's key is {value}");
        }
        builder.Services.AddSingleton(new ApiKey(value));
        return builder;
    }

    public static WebApplication UseApiKey(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<ApiKeyMiddleware>();
        return app;
    }
}
