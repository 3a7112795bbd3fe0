using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Studio;

/// <summary>Every page and API needs the studio's token: from the login link <c>/login?t=TOKEN[&amp;job=ID]</c> (kept in an
/// HttpOnly, SameSite=Strict cookie) or as <c>Authorization: Bearer TOKEN</c>. Without it: 401 and no data.
/// Health probes and <c>/metrics</c> stay open for the orchestrator and Prometheus, which hold no token.</summary>
public sealed class StudioLogin
{
    private readonly byte[] token;

    public StudioLogin(StudioSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        token = Encoding.UTF8.GetBytes(settings.Token);
        // Browsers share cookies across the ports of a host and several studios may run on one: a name per token,
        // from its hash (the name is not secret).
        CookieName = "pipeline-studio-" + Convert.ToHexString(SHA256.HashData(token))[..12].ToLowerInvariant();
    }

    public string CookieName { get; }

    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(token, Encoding.UTF8.GetBytes(presented));

    private static bool IsOpen(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || path.StartsWithSegments("/metrics", StringComparison.Ordinal);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var request = context.Request;
        if (request.Path == "/login")
        {
            if (Matches(request.Query["t"].ToString()))
            {
                context.Response.Cookies.Append(CookieName, Encoding.UTF8.GetString(token), new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Secure = request.IsHttps,
                    Path = "/",
                    IsEssential = true,
                });
                // The token leaves the address bar (and the history) at once. A job's link (the Aspire dashboard's, on
                // each job) opens that job's page.
                context.Response.Redirect(Guid.TryParse(request.Query["job"].ToString(), out var job) ? $"/#/jobs/{job}" : "/");
                return;
            }
        }
        else if (IsOpen(request.Path) || Matches(request.Cookies[CookieName]) || Matches(Bearer(request)))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"pipeline-studio\"";
        await context.Response.WriteAsJsonAsync(new
        {
            type = "https://tools.ietf.org/html/rfc9110#section-15.5.2",
            title = "Unauthorized",
            status = 401,
            detail = "open the studio through its login link (/login?t=TOKEN, shown in the Aspire dashboard or printed at start) or send Authorization: Bearer TOKEN",
        }, (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json").ConfigureAwait(false);
    }

    private static string? Bearer(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        return auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : null;
    }
}
