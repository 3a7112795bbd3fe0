using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Pipeline.AppHost.Tests;

/// <summary>The Aspire dashboard of `dotnet run --project AppHost` in a real headless Chromium (Debian's, driven by
/// Playwright): logged in through the printed link, every resource running and healthy, a trainer's console log, and
/// after a small job has run, one trace through ingest, preprocess, the trainers and the evaluator, the trainers'
/// throughput metric, and the job as a resource that reached Succeeded. Screenshots go to dashboard-screenshots/ in the
/// test's output folder.</summary>
public sealed class DashboardBrowserTests(ITestOutputHelper log)
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");

    [Fact]
    public async Task The_dashboard_shows_the_run_healthy_a_trainers_log_one_trace_through_the_pipeline_its_throughput_and_the_job()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run infra/provision.sh (Debian's chromium)");
        Directory.CreateDirectory(Screenshots);
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var id = Guid.NewGuid().ToString("N")[..8];
        var runDir = Path.Combine(Path.GetTempPath(), "pipeline-tests", "dashboard-" + id);
        var datasets = Path.Combine(Path.GetTempPath(), "pipeline-tests", "dashboard-" + id + "-datasets");
        try
        {
            // A slice of Fashion-MNIST as the run's bundled one: the job takes seconds, not minutes.
            var fashion = FashionSubset.Write(Path.Combine(datasets, "fashion-subset"), train: 12000, test: 1000);
            await using var apphost = await RunningAppHost.StartAsync(repo, runDir,
                $"--PIPELINE_DATASET_ROOTS={datasets}", $"--PIPELINE_BUNDLED_DATASETS=Fashion-MNIST={fashion}");
            var trainers = apphost.Replicas("trainer");
            Assert.Equal(2, trainers.Count);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
            var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1600, Height = 1000 } });
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(60_000);
            // The dashboard's pages fill in as its resource service and telemetry stream in.
            Assertions.SetDefaultExpectTimeout(60_000);
            var dashboard = new Uri(apphost.DashboardLogin.GetLeftPart(UriPartial.Authority));

            // The login link opens the resources page; every resource of the run is there, running and healthy.
            await page.GotoAsync(apphost.DashboardLogin.ToString());
            await page.WaitForURLAsync(dashboard + "");
            foreach (var name in (string[])["rabbitmq-epmd", "rabbitmq", "storage", "blobs", "prometheus", "ingest", "preprocess", trainers[0], trainers[1], "evaluator", "studio", "jobs"])
            {
                var row = page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(name, new() { Exact = true }) });
                await Assertions.Expect(row.First).ToContainTextAsync("Running");
            }
            var states = await page.GetByRole(AriaRole.Row).AllInnerTextsAsync();
            log.WriteLine(string.Join('\n', states));
            Assert.DoesNotContain(states, s => s.Contains("Unhealthy", StringComparison.Ordinal));
            await Shot(page, "1-resources");

            // A trainer's console log has its start-up lines.
            await page.GotoAsync(new Uri(dashboard, $"consolelogs/resource/{trainers[0]}").ToString());
            await Assertions.Expect(page.Locator("#logContainer .log-content").First).ToBeVisibleAsync();
            Assert.True(await page.Locator("#logContainer .log-content").CountAsync() > 0);
            await Shot(page, "2-trainer-console-log");

            // A small job through the API, with the key the AppHost printed: it succeeds.
            using var http = new HttpClient { BaseAddress = new Uri(apphost.Printed("PIPELINE_URL")), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Add("X-Api-Key", apphost.Printed("PIPELINE_API_KEY"));
            using var submitted = await http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new
            {
                path = fashion,
                task = "classify",
                recipeYaml = "epochs: 1\nbatch_size: 64\nlog_every: 20\nmodel: { name: small_cnn, width: 8 }\n",
                trainers = 2,
            });
            Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync());
            var job = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var state = "";
            for (var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(8); DateTime.UtcNow < deadline && state is not ("Succeeded" or "Failed" or "Cancelled");)
            {
                await Task.Delay(1000);
                state = (await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{job}", UriKind.Relative))).GetProperty("job").GetProperty("state").GetString()!;
            }
            Assert.Equal("Succeeded", state);

            // The job is a resource of the dashboard, under jobs, Succeeded.
            var jobName = Pipeline.AppHost.Hosting.TrainingJobs.JobResourceName(job);
            await page.GotoAsync(dashboard.ToString());
            var jobRow = page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(jobName, new() { Exact = true }) });
            await Assertions.Expect(jobRow.First).ToContainTextAsync("Succeeded");
            await jobRow.First.ClickAsync();
            await Assertions.Expect(page.GetByText("val accuracy").First).ToBeVisibleAsync();
            await Shot(page, "3-job-resource");

            // One trace runs through the whole pipeline: ingest, preprocess, a trainer and the evaluator.
            await page.GotoAsync(new Uri(dashboard, "traces/resource/evaluator").ToString());
            var through = page.GetByRole(AriaRole.Row)
                .Filter(new() { HasText = "ingest" }).Filter(new() { HasText = "preprocess" })
                .Filter(new() { HasText = "trainer" }).Filter(new() { HasText = "evaluator" });
            await Assertions.Expect(through.First).ToBeVisibleAsync();
            await Shot(page, "4-traces");

            // The trainers' throughput, as each replica reported it while it trained.
            await page.GotoAsync(new Uri(dashboard, $"metrics/resource/{trainers[0]}?meter=Pipeline.Trainer&instrument=pipeline.trainer.throughput").ToString());
            await Assertions.Expect(page.GetByText("pipeline.trainer.throughput").First).ToBeVisibleAsync();
            await Shot(page, "5-throughput");
            await apphost.StopAsync();
        }
        finally
        {
            foreach (var folder in (string[])[runDir, datasets])
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
        }
    }

    private async Task Shot(IPage page, string name)
    {
        var path = Path.Combine(Screenshots, name + ".png");
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        log.WriteLine($"screenshot: {path}");
    }
}
