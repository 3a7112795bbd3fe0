using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Pipeline.AppHost.Tests;

/// <summary>The Aspire dashboard of `dotnet run --project AppHost` in a real headless Chromium (Debian's, driven by
/// Playwright): logged in through the printed link, every resource running and healthy, a trainer's console log, a job
/// submitted with the jobs resource's "Submit Fashion-MNIST" that appears as a resource and reaches Succeeded, then one
/// trace through ingest, preprocess, both trainers and the evaluator, and the trainers' throughput metric. Screenshots go to dashboard-screenshots/ in the
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
        var id = Guid.NewGuid().ToString("N")[..8];
        var runDir = Path.Combine(Path.GetTempPath(), "pipeline-tests", "dashboard-" + id);
        var datasets = Path.Combine(Path.GetTempPath(), "pipeline-tests", "dashboard-" + id + "-datasets");
        try
        {
            // A slice of Fashion-MNIST as the run's bundled one: the job takes seconds, not minutes.
            var fashion = FashionSubset.Write(Path.Combine(datasets, "fashion-subset"), train: 12000, test: 1000);
            await using var apphost = await RunningAppHost.StartAsync(log, runDir,
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

            // The login link opens the resources page; every resource of the run is there, running and healthy (the
            // state column says "Running (Unhealthy)" otherwise).
            await page.GotoAsync(apphost.DashboardLogin.ToString());
            await page.WaitForURLAsync(dashboard.ToString());
            string[] resources = ["rabbitmq-epmd", "rabbitmq", "storage", "blobs", "prometheus", "ingest", "preprocess", trainers[0], trainers[1], "evaluator", "studio", "jobs"];
            foreach (var name in resources)
            {
                await Assertions.Expect(Row(page, name)).ToContainTextAsync("Running");
            }
            var rows = await page.GetByRole(AriaRole.Row).AllInnerTextsAsync();
            Assert.Equal(resources.Length + 1, rows.Count); // and the header
            Assert.All(rows.Skip(1), r => Assert.Matches(@"\bRunning\b", r));
            Assert.DoesNotContain(rows, r => r.Contains("Unhealthy", StringComparison.Ordinal));
            await Shot(page, "1-resources");

            // A trainer's console log shows its lines.
            await page.GotoAsync(new Uri(dashboard, $"consolelogs/resource/{trainers[0]}").ToString());
            await Assertions.Expect(page.Locator("#logContainer .log-content").First).ToBeVisibleAsync();
            await Assertions.Expect(page.Locator("#logContainer")).ToContainTextAsync("Request finished HTTP/1.1 GET");
            await Shot(page, "2-trainer-console-log");

            // "Submit Fashion-MNIST" on the jobs resource (its button is named by its description): the job appears as a
            // child of jobs and follows the registry to Succeeded, with its epoch, loss and best metric.
            await page.GotoAsync(dashboard.ToString());
            await Row(page, "jobs").GetByRole(AriaRole.Button, new() { Name = "Trains the bundled Fashion-MNIST" }).ClickAsync();
            var jobRow = page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(new Regex("^job-[0-9a-f]{8}$")) }).First;
            await Assertions.Expect(jobRow).ToBeVisibleAsync();
            await Shot(page, "3-job-submitted");
            await Assertions.Expect(jobRow).ToContainTextAsync("Succeeded", new() { Timeout = 8 * 60_000 });
            var jobName = Regex.Match(await jobRow.InnerTextAsync(), "job-[0-9a-f]{8}").Value;
            await jobRow.GetByText(jobName).ClickAsync();
            await Assertions.Expect(page.GetByText("Best metric")).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByText(new Regex(@"^val accuracy 0\.\d{4} \(epoch 1\)$"))).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByText(new Regex(@"^\d+ / \d+$")).First).ToBeVisibleAsync(); // the step, of all
            await Shot(page, "4-job-succeeded");

            // One trace runs through the pipeline: the submission's request in ingest, then preprocess, both trainers and
            // the evaluator (their traces pages, each filtered to one resource, all list it).
            await page.GotoAsync(new Uri(dashboard, "traces/resource/evaluator").ToString());
            var submission = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "ingest: POST /api/jobs" }).First;
            await Assertions.Expect(submission).ToBeVisibleAsync();
            var trace = Regex.Match(await submission.InnerTextAsync(), @"POST /api/jobs/?\s+([0-9a-f]{7})").Groups[1].Value;
            Assert.NotEmpty(trace);
            await Shot(page, "5-traces-of-the-evaluator");
            foreach (var resource in (string[])["preprocess", trainers[0], trainers[1]])
            {
                await page.GotoAsync(new Uri(dashboard, $"traces/resource/{resource}").ToString());
                await Assertions.Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = trace })).ToHaveCountAsync(1);
            }
            await page.GotoAsync(new Uri(dashboard, "traces/resource/evaluator").ToString());
            await page.GetByRole(AriaRole.Row).Filter(new() { HasText = trace }).GetByText("ingest: POST /api/jobs").ClickAsync();
            await page.WaitForURLAsync(new Regex($"/traces/detail/{trace}"));
            // The live trace view redraws its rows as spans arrive: the picture is kept only if they are still drawn after it.
            var spanRow = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "preprocess" }).First;
            for (var attempt = 0; attempt < 5; attempt++)
            {
                await Assertions.Expect(spanRow).ToBeVisibleAsync();
                await Shot(page, "6-the-jobs-trace");
                if (await spanRow.IsVisibleAsync())
                {
                    break;
                }
            }

            // The trainers' throughput (meter Pipeline.Trainer), as each replica reported it for the job while it trained.
            foreach (var trainer in trainers)
            {
                await page.GotoAsync(new Uri(dashboard, $"metrics/resource/{trainer}?meter=Pipeline.Trainer&instrument=pipeline.trainer.throughput").ToString());
                await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "pipeline.trainer.throughput" })).ToBeVisibleAsync();
                // The chart's filters list the job's series (tag job = its id).
                await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex($"^{jobName["job-".Length..]}-[0-9a-f-]{{27}}$") })).ToBeVisibleAsync();
            }
            await Shot(page, "7-trainer-throughput");
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

    /// <summary>The resources page's row of a resource, by its name cell.</summary>
    private static ILocator Row(IPage page, string name) =>
        page.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByText(name, new() { Exact = true }) }).First;

    private async Task Shot(IPage page, string name)
    {
        var path = Path.Combine(Screenshots, name + ".png");
        // The viewport only: a full-page shot resizes the page, and the virtualized grids draw nothing for a moment.
        await page.ScreenshotAsync(new() { Path = path });
        log.WriteLine($"screenshot: {path}");
    }
}
