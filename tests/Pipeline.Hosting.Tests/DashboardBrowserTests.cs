using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Pipeline.Hosting.Testing;
using Pipeline.Vision.Imaging;

namespace Pipeline.Hosting.Tests;

/// <summary>The dashboard in a real headless Chromium (Debian's, driven by Playwright) on the AppHost's whole
/// graph: 401 without the token, login through the printed link, every resource healthy, a Fashion-MNIST job
/// submitted from the page whose loss chart gains points and which ends with a confusion matrix, and a
/// killed service shown restarted and healthy. Screenshots go to dashboard-screenshots/ in the test's output folder.</summary>
public sealed class DashboardBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string[] Resources = ["rabbitmq", "storage", "blobs", "ingest", "preprocess", "trainer", "evaluator", "prometheus"];

    // One epoch of a narrow CNN over the bundled Fashion-MNIST (54,000 training images), progress every 20 steps:
    // a few minutes on 2 cores.
    private const string Recipe = "epochs: 1\nbatch_size: 64\nlog_every: 20\nmodel: { name: small_cnn, width: 8 }\n";
    private const string Bundled = "/usr/share/datasets/fashion-mnist";

    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");

    [Fact]
    public async Task Login_resources_submit_a_fashion_mnist_job_watch_its_loss_and_confusion_matrix()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run infra/provision.sh (Debian's chromium)");
        Directory.CreateDirectory(Screenshots);
        await RunAsync();
    }

    private static async Task RunAsync()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Program>();
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        using (var start = new CancellationTokenSource(TimeSpan.FromMinutes(12))) // the first build of the services
        {
            foreach (var name in Resources)
            {
                await app.Resources.WaitForResourceHealthyAsync(name, start.Token);
            }
        }
        var dashboard = app.Dashboard!;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);

        // Without the token: 401 and nothing of the system.
        var denied = await page.GotoAsync(dashboard.Url.ToString());
        Assert.Equal(401, denied!.Status);
        var deniedText = await page.InnerTextAsync("body");
        Assert.DoesNotContain("rabbitmq", deniedText, StringComparison.Ordinal);
        var deniedApi = await page.GotoAsync(new Uri(dashboard.Url, "api/resources").ToString());
        Assert.Equal(401, deniedApi!.Status);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "0-without-token.png") });

        // The printed link logs in; every resource instance shows healthy, with live console logs.
        await page.GotoAsync(dashboard.LoginUrl.ToString());
        Assert.Equal(dashboard.Url.ToString(), page.Url.Split('#')[0]);
        foreach (var instance in app.Resources.Snapshots.Select(s => s.InstanceName))
        {
            await page.WaitForSelectorAsync($"#resources tr[data-instance='{instance}'] [data-state='Healthy']");
        }
        Assert.Equal(app.Resources.Snapshots.Count, await page.Locator("#resources tbody tr").CountAsync());
        await page.ClickAsync("#resources tr[data-instance='ingest']");
        await page.WaitForSelectorAsync("#logs div");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "1-resources.png"), FullPage = true });

        // Submit from the page: the bundled Fashion-MNIST, the small recipe, both trainers as one group.
        await page.ClickAsync("a[data-nav='submit']");
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = Bundled });
        await page.FillAsync("#recipe", Recipe);
        await page.FillAsync("#trainers", "2");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "2-submit.png") });
        await page.ClickAsync("#submit");
        await page.WaitForURLAsync(new Regex("#/jobs/[0-9a-f-]{36}$"));

        // The loss chart gains points while the job trains (live, without a reload).
        var loss = page.Locator("#loss-chart");
        var first = await WaitForPointsAsync(loss, atLeast: 1, TimeSpan.FromMinutes(8));
        var later = await WaitForPointsAsync(loss, atLeast: first + 1, TimeSpan.FromMinutes(4));
        Assert.True(later > first);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "3-job-training.png"), FullPage = true });

        // Meanwhile, in a second tab, the metrics page charts each trainer's throughput and the job held on the trainer queue.
        var metrics = await context.NewPageAsync();
        metrics.SetDefaultTimeout(90_000);
        await metrics.GotoAsync(new Uri(dashboard.Url, "#/metrics").ToString());
        foreach (var trainer in (string[])["trainer-0", "trainer-1"])
        {
            await metrics.WaitForSelectorAsync($"#metric-throughput tr[data-series='{trainer}']");
            await metrics.WaitForFunctionAsync($"() => Number(document.querySelector(\"#metric-throughput tr[data-series='{trainer}']\")?.dataset.value) > 0");
        }
        await metrics.WaitForFunctionAsync("() => Number(document.querySelector(\"#metric-queues tr[data-series='trainer']\")?.dataset.value) >= 1");
        Assert.True(await ChartPointsAsync(metrics.Locator("#metric-throughput")) > 0);
        Assert.True(await ChartPointsAsync(metrics.Locator("#metric-cpu")) > 0);
        await metrics.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "3b-metrics-while-training.png"), FullPage = true });
        await metrics.CloseAsync();

        // It ends Succeeded, with the test set's confusion matrix as a heat map and the per-class table.
        await page.WaitForSelectorAsync("#job-state [data-state='Succeeded'], #job-state [data-state='Failed']", new() { Timeout = 8 * 60_000 });
        Assert.Equal("Succeeded", await page.GetAttributeAsync("#job-state [data-state]", "data-state"));
        await page.WaitForSelectorAsync("#confusion table.cm", new() { Timeout = 60_000 });
        Assert.Equal(10, await page.Locator("#confusion table.cm tbody tr").CountAsync());
        var cells = await page.Locator("#confusion table.cm tbody td").AllInnerTextsAsync();
        Assert.Equal(10000, cells.Sum(c => long.Parse(c, CultureInfo.InvariantCulture))); // every test image counted once
        Assert.Equal(10, await page.Locator("#per-class tbody tr").CountAsync());
        await page.WaitForSelectorAsync("#artifacts a[href$='model/best.safetensors']");
        await page.WaitForSelectorAsync("#dataset pre");
        // The evaluator's pictures, loaded (a broken image has no natural width).
        foreach (var picture in (string[])["#confusion-png img", "#pr-png img"])
        {
            await page.WaitForSelectorAsync(picture, new() { Timeout = 30_000 });
            await page.WaitForFunctionAsync($"() => document.querySelector(\"{picture}\").naturalWidth > 0", null, new() { Timeout = 30_000 });
        }
        Assert.True(await ChartPointsAsync(page.Locator("#lr-chart")) > 0);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "4-job-finished.png"), FullPage = true });

        // The job list shows it finished.
        await page.ClickAsync("a[data-nav='jobs']");
        await page.WaitForSelectorAsync("#jobs [data-state='Succeeded']");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "5-jobs.png") });

        // A service killed outright is restarted and healthy again within 30 s, seen live on the page.
        await page.ClickAsync("a[data-nav='resources']");
        var victim = app.Resources.Get("evaluator");
        // Counted from what the page shows now: a restart earlier in the run must not hide this one.
        var restartsBefore = int.Parse(
            await page.GetAttributeAsync("#resources tr[data-instance='evaluator'] [data-restarts]", "data-restarts") ?? "0",
            CultureInfo.InvariantCulture);
        var killed = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-9", victim.ProcessId!.Value.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await page.WaitForSelectorAsync($"#resources tr[data-instance='evaluator'] [data-restarts='{restartsBefore + 1}']");
        await page.WaitForSelectorAsync("#resources tr[data-instance='evaluator'] [data-state='Healthy']", new() { Timeout = 30_000 });
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(30), $"healthy again after {killed.Elapsed}");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "6-restarted.png"), FullPage = true });

        // An archive from this computer: uploaded through the page, then trained and tested like any dataset.
        await page.ClickAsync("a[data-nav='submit']");
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = "#upload" });
        await page.SetInputFilesAsync("#archive", ColoursZip());
        await page.FillAsync("#recipe", "epochs: 2\nbatch_size: 8\nlog_every: 2\nmodel: { name: small_cnn, width: 4 }\n");
        await page.FillAsync("#trainers", "1");
        await page.ClickAsync("#submit");
        await page.WaitForURLAsync(new Regex("#/jobs/[0-9a-f-]{36}$"));
        await page.WaitForSelectorAsync("#job-state [data-state='Succeeded'], #job-state [data-state='Failed']", new() { Timeout = 5 * 60_000 });
        Assert.Equal("Succeeded", await page.GetAttributeAsync("#job-state [data-state]", "data-state"));
        await page.WaitForSelectorAsync("#confusion table.cm", new() { Timeout = 60_000 });
        Assert.Equal(2, await page.Locator("#confusion table.cm tbody tr").CountAsync());
        Assert.Contains("blob:uploads/", await page.InnerTextAsync("#main"), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "7-uploaded-job.png"), FullPage = true });

        await page.GotoAsync(new Uri(dashboard.Url, "#/metrics").ToString());
        await page.WaitForSelectorAsync("#metric-memory[data-points]:not([data-points='0'])");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "8-metrics.png"), FullPage = true });
    }

    /// <summary>An ImageFolder archive of two classes anyone tells apart (reddish and bluish 16 x 16 noise), 24 images each.</summary>
    private static string ColoursZip()
    {
        var path = Path.Combine(Screenshots, "colours.zip");
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var random = new Random(11);
        foreach (var (folder, channel) in new[] { ("reddish", 0), ("bluish", 2) })
        {
            for (var i = 0; i < 24; i++)
            {
                var pixels = new byte[16 * 16 * 3];
                random.NextBytes(pixels);
                for (var p = channel; p < pixels.Length; p += 3) pixels[p] = (byte)(128 + pixels[p] / 2);
                using var entry = zip.CreateEntry($"{folder}/{i:D2}.png").Open();
                entry.Write(PngCodec.Encode(new ImageBuffer(16, 16, 3, pixels)));
            }
        }
        return path;
    }

    private static async Task<int> ChartPointsAsync(ILocator chart) =>
        int.Parse(await chart.GetAttributeAsync("data-points") ?? "0", CultureInfo.InvariantCulture);

    private static async Task<int> WaitForPointsAsync(ILocator chart, int atLeast, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var points = await ChartPointsAsync(chart);
            if (points >= atLeast)
            {
                return points;
            }
            Assert.True(clock.Elapsed < timeout, $"the loss chart has {points} points, waited for {atLeast}");
            await Task.Delay(250);
        }
    }
}
