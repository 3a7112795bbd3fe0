using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Tests.Support;

namespace Pipeline.AppHost.Tests;

/// <summary>Issue 13 (hardening) on the AppHost's own graph: what any caller of the ingest API and the evaluator can get
/// back (never the API key, a stack trace or a server path; errors as problem details that name what to fix). Where the
/// run listens and the run's credentials: <see cref="GraphTests"/>.</summary>
[Collection(GraphCollection.Name)]
public sealed partial class SecurityTests(GraphFixture fixture)
{
    private PipelineApp App => fixture.App;
    private static string ApiKey => GraphFixture.ApiKey;

    private sealed record Call(string Client, HttpMethod Method, string Url, HttpContent? Body = null);

    private sealed record Answer(Call Call, HttpStatusCode Status, string Headers, string Body);

    [Fact]
    public async Task No_route_of_the_api_or_the_evaluator_answers_with_the_key_a_stack_trace_or_a_server_path()
    {
        var unknown = Guid.NewGuid();
        var png = Security.BlackPng(8, 8);
        var ingest = App.GetEndpoint("ingest").ToString().TrimEnd('/');
        var evaluator = App.GetEndpoint("evaluator").ToString().TrimEnd('/');
        HttpContent Json(string json) => new StringContent(json, Encoding.UTF8, "application/json");
        HttpContent Png() => new ByteArrayContent(png) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } };
        HttpContent Bytes(string text) => new ByteArrayContent(Encoding.UTF8.GetBytes(text));

        // Every route of each service, with good and bad values; each call is made with the key, a wrong key and none.
        IEnumerable<Call> Api(string client) =>
        [
            new(client, HttpMethod.Get, $"{ingest}/api/jobs"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs?limit=abc"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs?limit=99999999999999999999"),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Json("{")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Json("{\"trainers\": \"many\"}")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Json("{\"path\": \"relative/folder\"}")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Json("{\"source\": \"http://elsewhere/x.zip\"}")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Json("{\"path\": \"/datasets/x\", \"recipeYaml\": \"epochs: [\"}")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs", Bytes("not json")),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/not-a-guid"),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/cancel"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts/reports/test.json"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts/a%5Cb"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts/a%01b"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts/a/%2E%2E/b"),
            new(client, HttpMethod.Get, $"{ingest}/api/jobs/{unknown}/artifacts/%3Fx%3A%25"),
            new(client, HttpMethod.Post, $"{ingest}/api/uploads?name=..%2Fx.zip", Bytes("PK")),
            new(client, HttpMethod.Post, $"{ingest}/api/uploads", Bytes("PK")),
            new(client, HttpMethod.Post, $"{ingest}/api/uploads?name=empty.zip", Bytes("")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/predict?top=abc", Png()),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/predict?min_score=high", Png()),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/predict?top=0", Png()),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/predict", Bytes("not an image")),
            new(client, HttpMethod.Post, $"{ingest}/api/jobs/{unknown}/predict", Png()),
            new(client, HttpMethod.Put, $"{ingest}/api/jobs"),
            new(client, HttpMethod.Get, $"{ingest}/no/such/route"),
            new(client, HttpMethod.Get, $"{ingest}/health/ready"),
            new(client, HttpMethod.Get, $"{ingest}/metrics"),
            new(client, HttpMethod.Post, $"{evaluator}/predict/{unknown}?top=abc", Png()),
            new(client, HttpMethod.Post, $"{evaluator}/predict/{unknown}?min_score=2", Png()),
            new(client, HttpMethod.Post, $"{evaluator}/predict/{unknown}", Bytes("")),
            new(client, HttpMethod.Post, $"{evaluator}/predict/{unknown}", Bytes("GIF89a")),
            new(client, HttpMethod.Post, $"{evaluator}/predict/{unknown}", Png()),
            new(client, HttpMethod.Post, $"{evaluator}/predict/not-a-guid", Png()),
            new(client, HttpMethod.Get, $"{evaluator}/predict/{unknown}"),
            new(client, HttpMethod.Get, $"{evaluator}/health/live"),
            new(client, HttpMethod.Get, $"{evaluator}/metrics"),
        ];
        var calls = new List<Call>();
        foreach (var client in (string[])["key", "bearer", "wrong-key", "no-key"])
        {
            calls.AddRange(Api(client));
        }

        var answers = new List<Answer>();
        foreach (var call in calls)
        {
            answers.Add(await SendAsync(call));
        }

        var problems = new List<string>();
        var datasetRoot = Path.GetDirectoryName(fixture.FashionSubset)!;
        var serverPaths = new[] { Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../..")).TrimEnd('/'), App.RunDirectory, Path.GetTempPath().TrimEnd('/'), AppContext.BaseDirectory.TrimEnd('/') }
            .Where(p => p.Length > 1).Distinct().ToList();
        foreach (var answer in answers)
        {
            var what = $"{answer.Call.Client} {answer.Call.Method} {answer.Call.Url} -> {(int)answer.Status}";
            if (answer.Body.Contains(ApiKey, StringComparison.Ordinal) || answer.Headers.Contains(ApiKey, StringComparison.Ordinal))
            {
                problems.Add($"{what}: answers with the API key");
            }
            if (StackFrame().IsMatch(answer.Body) || ExceptionTypeName().IsMatch(answer.Body))
            {
                problems.Add($"{what}: a stack trace or exception type: {Shorten(answer.Body)}");
            }
            // The folders jobs may name are the one server path the API tells on purpose (a refused dataset path lists them).
            var body = answer.Body.Replace(datasetRoot, "<dataset root>", StringComparison.Ordinal);
            if (serverPaths.FirstOrDefault(p => body.Contains(p, StringComparison.Ordinal)) is { } path)
            {
                problems.Add($"{what}: names the server path {path}: {Shorten(answer.Body)}");
            }
            var isError = (int)answer.Status >= 400;
            var fromService = answer.Call.Url.StartsWith(ingest, StringComparison.Ordinal) || answer.Call.Url.StartsWith(evaluator, StringComparison.Ordinal);
            if (isError && fromService && !IsProblem(answer))
            {
                problems.Add($"{what}: an error that is not a problem document with a detail: {Shorten(answer.Body)}");
            }
            if ((int)answer.Status >= 500)
            {
                problems.Add($"{what}: a server error for a request the service should judge: {Shorten(answer.Body)}");
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));

        // And the calls did reach what they aimed at: the key opens the API, a wrong or missing one does not.
        Assert.Contains(answers, a => a.Call.Client == "key" && a.Call.Url == $"{ingest}/api/jobs" && a.Status == HttpStatusCode.OK);
        Assert.All(answers.Where(a => a.Call.Client is "wrong-key" or "no-key" && !a.Call.Url.Contains("/health/", StringComparison.Ordinal) && !a.Call.Url.EndsWith("/metrics", StringComparison.Ordinal)),
            a => Assert.Equal(HttpStatusCode.Unauthorized, a.Status));
    }

    [Fact]
    public async Task Bad_values_are_400_problems_that_name_the_parameter_and_what_it_must_be()
    {
        using var api = ApiClient();
        var unknown = Guid.NewGuid();

        var limit = await ProblemAsync(await api.GetAsync(new Uri("/api/jobs?limit=abc", UriKind.Relative)));
        Assert.Equal(400, limit.GetProperty("status").GetInt32());
        Assert.Equal("query parameter 'limit' must be an integer, got 'abc'", limit.GetProperty("detail").GetString());

        var backslash = await ProblemAsync(await api.GetAsync(new Uri($"/api/jobs/{unknown}/artifacts/a%5Cb", UriKind.Relative)));
        Assert.Equal(400, backslash.GetProperty("status").GetInt32());
        Assert.StartsWith("artifact name 'a\\b' has the character '\\' (U+005C)", backslash.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var top = await api.PostAsync(new Uri($"/api/jobs/{unknown}/predict?top=abc", UriKind.Relative), new ByteArrayContent(Security.BlackPng(8, 8)));
        var topProblem = await ProblemAsync(top);
        Assert.Equal(400, topProblem.GetProperty("status").GetInt32());
        Assert.Equal("query parameter 'top' must be an integer, got 'abc'", topProblem.GetProperty("detail").GetString());

        using var minScore = await api.PostAsync(new Uri($"/api/jobs/{unknown}/predict?min_score=high", UriKind.Relative), new ByteArrayContent(Security.BlackPng(8, 8)));
        Assert.Equal("query parameter 'min_score' must be a number, got 'high'", (await ProblemAsync(minScore)).GetProperty("detail").GetString());

        using var json = await api.PostAsync(new Uri("/api/jobs", UriKind.Relative), new StringContent("{\"trainers\": \"many\"}", Encoding.UTF8, "application/json"));
        var jsonProblem = await ProblemAsync(json);
        Assert.Equal(400, jsonProblem.GetProperty("status").GetInt32());
        Assert.Contains("$.trainers", jsonProblem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var missing = await ProblemAsync(await api.GetAsync(new Uri($"/api/jobs/{unknown}", UriKind.Relative)));
        Assert.Equal($"job {unknown} does not exist", missing.GetProperty("detail").GetString());

        using var anonymous = new HttpClient { BaseAddress = App.GetEndpoint("ingest") };
        var unauthorized = await ProblemAsync(await anonymous.GetAsync(new Uri("/api/jobs", UriKind.Relative)));
        Assert.Equal(401, unauthorized.GetProperty("status").GetInt32());
        Assert.Contains("X-Api-Key", unauthorized.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Services_run_in_the_production_environment()
    {
        foreach (var service in (string[])["ingest", "evaluator", "preprocess", "trainer-0", "trainer-1"])
        {
            var pid = service.StartsWith("trainer-", StringComparison.Ordinal)
                ? App.ServicePid("trainer", int.Parse(service["trainer-".Length..], System.Globalization.CultureInfo.InvariantCulture))
                : App.ServicePid(service);
            var environment = Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/environ")).Split('\0');
            Assert.Contains("ASPNETCORE_ENVIRONMENT=Production", environment);
            Assert.Contains("DOTNET_ENVIRONMENT=Production", environment);
        }
    }

    [Fact]
    public async Task A_13000x13000_png_of_half_a_megabyte_is_refused_with_413_before_it_is_decoded()
    {
        var bomb = Security.BlackPng(13000, 13000);
        Assert.InRange(bomb.Length, 100_000, 1_000_000);
        var pid = App.ServicePid("evaluator");
        using var evaluator = new HttpClient { BaseAddress = App.GetEndpoint("evaluator"), Timeout = TimeSpan.FromMinutes(2) };
        evaluator.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        using var warmUp = await evaluator.PostAsync(new Uri($"/predict/{Guid.NewGuid()}", UriKind.Relative), new ByteArrayContent(Security.BlackPng(8, 8)));
        var before = Security.ResidentBytes(pid);

        // Any job: the size is judged before the model is looked for.
        using var response = await evaluator.PostAsync(new Uri($"/predict/{Guid.NewGuid()}", UriKind.Relative), new ByteArrayContent(bomb));
        // Decoded, the image alone would be 507 MB.
        var after = Security.ResidentBytes(pid);
        Assert.True(after - before < 100L << 20, $"the evaluator grew from {before >> 20} MiB to {after >> 20} MiB (answer: {(int)response.StatusCode})");
        var problem = await ProblemAsync(response);
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.Equal(
            "the image is 13000x13000 = 169000000 pixels, over the limit of 40000000 pixels (PIPELINE_MAX_PREDICT_PIXELS); send a smaller image",
            problem.GetProperty("detail").GetString());

        // Through the API as the CLI calls it: the same answer.
        using var api = ApiClient();
        using var proxied = await api.PostAsync(new Uri($"/api/jobs/{Guid.NewGuid()}/predict", UriKind.Relative), new ByteArrayContent(bomb));
        Assert.Equal(413, (await ProblemAsync(proxied)).GetProperty("status").GetInt32());
    }

    private HttpClient ApiClient()
    {
        var client = new HttpClient { BaseAddress = App.GetEndpoint("ingest"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return client;
    }

    private async Task<Answer> SendAsync(Call call)
    {
        using var request = new HttpRequestMessage(call.Method, call.Url) { Content = call.Body };
        switch (call.Client)
        {
            case "key":
                request.Headers.Add("X-Api-Key", ApiKey);
                break;
            case "bearer":
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
                break;
            case "wrong-key":
                request.Headers.Add("X-Api-Key", ApiKey[..^1] + (ApiKey[^1] == '0' ? '1' : '0'));
                break;
        }
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var response = await plain.SendAsync(request);
        var headers = string.Join('\n', response.Headers.Concat(response.Content.Headers).Select(h => $"{h.Key}: {string.Join(", ", h.Value)}"));
        return new Answer(call, response.StatusCode, headers, await response.Content.ReadAsStringAsync());
    }

    private static bool IsProblem(Answer answer)
    {
        if (!answer.Headers.Contains("application/problem+json", StringComparison.Ordinal)) return false;
        try
        {
            var root = JsonDocument.Parse(answer.Body).RootElement;
            return root.TryGetProperty("status", out _) && root.TryGetProperty("detail", out var detail) && detail.GetString() is { Length: > 0 };
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static string Shorten(string body) => body.Length > 300 ? body[..300] + "..." : body;

    [GeneratedRegex(@"^\s+at \S+", RegexOptions.Multiline)]
    private static partial Regex StackFrame();

    [GeneratedRegex(@"\b(System|Microsoft|Pipeline)\.[\w.]*Exception\b")]
    private static partial Regex ExceptionTypeName();
}
