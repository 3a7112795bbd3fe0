using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Pipeline.Vision.Imaging;

namespace Pipeline.Studio.Tests;

/// <summary>The studio in a real headless Chromium (Debian's, driven by Playwright) on the whole system: 401 without the
/// token, login through the link, the bundled Fashion-MNIST submitted from the page with two trainers, its loss chart
/// gaining points live, the trainers' throughput and the trainer queue charted, the job ending with a 10 x 10 confusion
/// matrix over the 10,000 test images, the per-class table and the evaluator's pictures; then an archive uploaded from
/// the page and trained. Screenshots go to studio-screenshots/ in the test's output folder.</summary>
public sealed class StudioBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    // One epoch of a narrow CNN over the bundled Fashion-MNIST (54,000 training images), progress every 20 steps:
    // a few minutes on 2 cores.
    private const string Recipe = "epochs: 1\nbatch_size: 64\nlog_every: 20\nmodel: { name: small_cnn, width: 8 }\n";

    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "studio-screenshots");

    [Fact]
    public async Task Login_submit_fashion_mnist_with_two_trainers_watch_its_loss_and_confusion_matrix_then_train_an_upload()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run infra/provision.sh (Debian's chromium)");
        Directory.CreateDirectory(Screenshots);
        await using var system = await StudioGraph.StartSystemAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);

        // Without the token: 401 and nothing of the system.
        var denied = await page.GotoAsync(system.Url.ToString());
        Assert.Equal(401, denied!.Status);
        Assert.DoesNotContain("Fashion", await page.InnerTextAsync("body"), StringComparison.Ordinal);
        var deniedApi = await page.GotoAsync(new Uri(system.Url, "api/jobs").ToString());
        Assert.Equal(401, deniedApi!.Status);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "0-without-token.png") });

        // The login link opens the job list (empty yet), the token gone from the address.
        await page.GotoAsync(system.LoginUrl.ToString());
        Assert.Equal(system.Url.ToString(), page.Url.Split('#')[0]);
        await page.WaitForSelectorAsync("#jobs");
        await page.WaitForSelectorAsync("#live.on");

        // Submit from the page: the bundled Fashion-MNIST, the small recipe, both trainers as one group.
        await page.ClickAsync("a[data-nav='submit']");
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = StudioGraph.BundledFashion });
        await page.FillAsync("#recipe", Recipe);
        await page.FillAsync("#trainers", "2");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "1-submit.png") });
        await page.ClickAsync("#submit");
        await page.WaitForURLAsync(new Regex("#/jobs/[0-9a-f-]{36}$"));

        // The loss chart gains points while the job trains (live, without a reload).
        var loss = page.Locator("#loss-chart");
        var first = await WaitForPointsAsync(loss, atLeast: 1, TimeSpan.FromMinutes(8));
        var later = await WaitForPointsAsync(loss, atLeast: first + 1, TimeSpan.FromMinutes(4));
        Assert.True(later > first);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "2-job-training.png"), FullPage = true });

        // Meanwhile, in a second tab, the queues page charts each trainer's throughput and the job held on the trainer queue.
        var metrics = await context.NewPageAsync();
        metrics.SetDefaultTimeout(90_000);
        await metrics.GotoAsync(new Uri(system.Url, "#/metrics").ToString());
        foreach (var trainer in (string[])["trainer-0", "trainer-1"])
        {
            await metrics.WaitForSelectorAsync($"#metric-throughput tr[data-series='{trainer}']");
            await metrics.WaitForFunctionAsync($"() => Number(document.querySelector(\"#metric-throughput tr[data-series='{trainer}']\")?.dataset.value) > 0");
        }
        await metrics.WaitForFunctionAsync("() => Number(document.querySelector(\"#metric-queues tr[data-series='trainer']\")?.dataset.value) >= 1");
        Assert.True(await ChartPointsAsync(metrics.Locator("#metric-throughput")) > 0);
        // Service CPU and memory are the Aspire dashboard's now.
        Assert.Equal(0, await metrics.Locator("#metric-cpu, #metric-memory").CountAsync());
        await metrics.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "3-queues-while-training.png"), FullPage = true });
        await metrics.CloseAsync();

        // It ends Succeeded, with the test set's confusion matrix as a heat map and the per-class table.
        await page.WaitForSelectorAsync("#job-state [data-state='Succeeded'], #job-state [data-state='Failed']", new() { Timeout = 8 * 60_000 });
        Assert.Equal("Succeeded", await page.GetAttributeAsync("#job-state [data-state]", "data-state"));
        await page.WaitForSelectorAsync("#confusion table.cm", new() { Timeout = 60_000 });
        Assert.Equal(10, await page.Locator("#confusion table.cm tbody tr").CountAsync());
        Assert.Equal(100, await page.Locator("#confusion table.cm tbody td").CountAsync());
        var cells = await page.Locator("#confusion table.cm tbody td").AllInnerTextsAsync();
        Assert.Equal(10000, cells.Sum(c => long.Parse(c, CultureInfo.InvariantCulture))); // every test image counted once
        Assert.Equal(10, await page.Locator("#per-class tbody tr").CountAsync());
        await page.WaitForSelectorAsync("#artifacts a[href$='model/best.safetensors']");
        await page.WaitForSelectorAsync("#dataset pre");
        // The evaluator's pictures, loaded through the studio (a broken image has no natural width).
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
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "6-uploaded-job.png"), FullPage = true });
    }

    /// <summary>An ImageFolder archive of two classes anyone tells apart (reddish and bluish 16 x 16 noise), 24 images each.</summary>
    internal static string ColoursZip()
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
