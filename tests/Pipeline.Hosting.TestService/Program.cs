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

app.Run();
