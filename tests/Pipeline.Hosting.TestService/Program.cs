// Answers what the AppHost expects of a service (GET /health/ready, GET /metrics in Prometheus text)
// and shows the variables the AppHost injected (GET /env), so tests can check them from outside.
var app = WebApplication.CreateBuilder(args).Build();

app.MapGet("/health/ready", () => "ready");
app.MapGet("/metrics", () => Results.Text("# TYPE testservice_up gauge\ntestservice_up 1\n", "text/plain; version=0.0.4"));
app.MapGet("/env", () => Environment.GetEnvironmentVariables()
    .Cast<System.Collections.DictionaryEntry>()
    .Where(e => e.Key is string k && (k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
        || k.StartsWith("services__", StringComparison.Ordinal) || k.StartsWith("OTEL_", StringComparison.Ordinal)
        || k.StartsWith("PIPELINE_", StringComparison.Ordinal) || k is "ASPNETCORE_URLS" or "HTTP_PORTS"))
    .ToDictionary(e => (string)e.Key, e => (string?)e.Value));

// A careless upstream for the dashboard's proxy: its error page lists the request's headers (as ASP.NET Core's
// developer exception page does) and sends one back as a header of its own.
app.MapGet("/api/jobs", (HttpContext context) =>
{
    context.Response.Headers["X-Echo-Api-Key"] = context.Request.Headers["X-Api-Key"].ToString();
    var headers = string.Join("\n", context.Request.Headers.Select(h => $"{h.Key}: {h.Value}"));
    return Results.Text("Unhandled exception while listing jobs.\nHeaders:\n" + headers, "text/plain", statusCode: 500);
});

app.Run();
