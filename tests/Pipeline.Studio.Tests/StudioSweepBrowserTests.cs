using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Pipeline.Studio.Tests;

/// <summary>A hyper-parameter sweep started from the studio's submit form in a real headless Chromium, on the whole
/// system: a sweep file the API refuses is answered with its sentence; three trials of a small CNN on an uploaded
/// two-colour archive then train as jobs, and the sweep's page shows the trials table (a column per searched key, the
/// best row marked), a curve per trial, the scatter picture per key and the best trial, whose job holds the model. A
/// second sweep is cancelled from its page. Screenshots go to studio-screenshots/ in the test's output folder.</summary>
public sealed class StudioSweepBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";

    // Three epochs of a narrow CNN on 48 images: seconds a trial.
    private const string Recipe = "epochs: 3\nbatch_size: 8\nlog_every: 2\nmodel: { name: small_cnn, width: 4 }\n";

    // ASHA judges each trial after its first epoch; the learning rate spans more than two decades.
    private const string Sweep = """
        trials: 3
        search: random
        seed: 7
        scheduler: asha
        asha: { min_epochs: 1, reduction: 2 }
        metric: accuracy
        space:
          optimizer.lr: { log_uniform: [0.0001, 0.3] }
          model.width: { choice: [4, 8] }
        """;

    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "studio-screenshots");

    [Fact]
    public async Task A_sweep_submitted_from_the_form_shows_its_trials_curves_scatter_and_best_trial_whose_job_holds_the_model()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run infra/provision.sh (Debian's chromium)");
        Directory.CreateDirectory(Screenshots);
        var archive = StudioBrowserTests.ColoursZip();
        await using var system = await StudioGraph.StartSystemAsync();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 1000 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(system.LoginUrl.ToString());
        await page.ClickAsync("a[data-nav='sweeps']");
        await page.WaitForSelectorAsync("#sweeps");

        // A sweep file with a key no sweep has: refused before anything runs, the key named on the form.
        await page.ClickAsync("a[data-nav='submit']");
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = StudioGraph.BundledFashion });
        await page.FillAsync("#recipe", Recipe);
        await page.FillAsync("#sweep", "trials: 2\nbogus_key: 1\nspace:\n  optimizer.lr: [0.01, 0.1]\n");
        Assert.Equal("Submit sweep", await page.InnerTextAsync("#submit"));
        await page.ClickAsync("#submit");
        await page.WaitForFunctionAsync("() => document.querySelector('#submit-error').textContent.includes('bogus_key')");
        Assert.StartsWith("400:", await page.InnerTextAsync("#submit-error"), StringComparison.Ordinal);
        Assert.Contains("#/submit", page.Url, StringComparison.Ordinal);

        // The sweep: the archive uploaded from this computer, every trial trained on it.
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = "#upload" });
        await page.SetInputFilesAsync("#archive", archive);
        await page.FillAsync("#sweep", Sweep);
        await page.ClickAsync("#submit");
        await page.WaitForURLAsync(new Regex("#/sweeps/[0-9a-f-]{36}$"), new() { Timeout = 120_000 });
        var sweepId = Guid.Parse(page.Url[^36..]);
        await page.WaitForSelectorAsync("#trials");
        Assert.Equal(3, await page.Locator("#trials tbody tr").CountAsync());
        Assert.Equal(new[] { "#", "optimizer.lr", "model.width", "State", "Epochs" }, (await page.Locator("#trials thead th").AllInnerTextsAsync()).Take(5));
        await page.WaitForSelectorAsync("#sweep-curves[data-lines='1'], #sweep-curves[data-lines='2'], #sweep-curves[data-lines='3']", new() { Timeout = 8 * 60_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sweep-1-running.png"), FullPage = true });

        await page.WaitForSelectorAsync("#sweep-state [data-state='Succeeded'], #sweep-state [data-state='Failed'], #sweep-state [data-state='Cancelled']",
            new() { Timeout = 10 * 60_000 });
        Assert.Equal("Succeeded", await page.GetAttributeAsync("#sweep-state [data-state]", "data-state"));
        Assert.Equal(0, await page.Locator("#cancel-sweep").CountAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sweep-2-finished.png"), FullPage = true });

        // What the page shows is what the API says, read through the studio.
        var detail = JsonDocument.Parse(await page.EvaluateAsync<string>(
            $"async () => JSON.stringify(await (await fetch('/api/sweeps/{sweepId}')).json())")).RootElement;
        var trials = detail.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(3, trials.Count);
        var best = detail.GetProperty("best");
        var bestNumber = best.GetProperty("number").GetInt32();
        // The best trial is the one with the best validation accuracy (ties go to either).
        Assert.Equal(trials.Max(t => t.GetProperty("bestValue").GetDouble()), best.GetProperty("value").GetDouble());

        foreach (var trial in trials)
        {
            var number = trial.GetProperty("number").GetInt32();
            var row = page.Locator($"#trials tbody tr[data-trial='{number}']");
            var cells = await row.Locator("td").AllInnerTextsAsync();
            Assert.Equal(Show(trial.GetProperty("values").GetProperty("optimizer.lr").GetDouble()), cells[1]);
            Assert.Equal(trial.GetProperty("values").GetProperty("model.width").GetInt32().ToString(CultureInfo.InvariantCulture), cells[2]);
            Assert.Equal("Succeeded", await row.Locator("[data-state]").GetAttributeAsync("data-state"));
            var epochs = trial.GetProperty("epochs").GetInt32();
            var done = trial.GetProperty("epochsDone").GetInt32();
            Assert.StartsWith($"{done} / {epochs}", cells[4], StringComparison.Ordinal);
            Assert.Equal(number == bestNumber, (await row.GetAttributeAsync("class"))!.Contains("best", StringComparison.Ordinal));
            Assert.Equal(trial.GetProperty("jobId").GetGuid().ToString(), await row.GetAttributeAsync("data-job"));
            var stopped = row.Locator(".stopped-by-asha");
            // Its curve: a point per epoch it validated.
            Assert.Equal(done, trial.GetProperty("curve").GetArrayLength());
            if (trial.GetProperty("stoppedEarly").GetBoolean())
            {
                // Stopped by ASHA: the row says so and why (the rung, its epoch and the ranking there). The trial may have
                // finished another epoch before the stop reached its trainer, so its epochs are not asserted.
                var reason = trial.GetProperty("stopReason").GetString()!;
                Assert.StartsWith("ASHA rung", reason, StringComparison.Ordinal);
                Assert.Equal(reason, await stopped.GetAttributeAsync("title"));
                Assert.Equal($"stopped\n{reason}", await stopped.InnerTextAsync());
            }
            else
            {
                Assert.Equal(epochs, done);
                Assert.Equal(0, await stopped.CountAsync());
            }
        }

        // One line per trial, every validated epoch a point.
        Assert.Equal("3", await page.GetAttributeAsync("#sweep-curves", "data-lines"));
        Assert.Equal(trials.Sum(t => t.GetProperty("curve").GetArrayLength()).ToString(CultureInfo.InvariantCulture),
            await page.GetAttributeAsync("#sweep-curves", "data-points"));
        Assert.Equal(1, await page.Locator("#sweep-curves canvas").CountAsync());

        // The scatter picture: a panel per searched key, a dot per trial, the best marked; the learning rate's axis is
        // logarithmic exactly when its values span more than two decades.
        foreach (var key in (string[])["optimizer.lr", "model.width"])
        {
            var panel = page.Locator($"#sweep-scatter svg[data-key='{key}']");
            Assert.Equal("3", await panel.GetAttributeAsync("data-points"));
            Assert.Equal(1, await panel.Locator($".point.best[data-trial='{bestNumber}']").CountAsync());
            Assert.Equal(3, await panel.Locator(".point").CountAsync());
        }
        var lrs = trials.Select(t => t.GetProperty("values").GetProperty("optimizer.lr").GetDouble()).ToList();
        Assert.Equal(lrs.Max() / lrs.Min() > 100 ? "true" : null, await page.GetAttributeAsync("#sweep-scatter svg[data-key='optimizer.lr']", "data-log"));

        // The best trial's block: its values, its value, its recipe, and its job, which holds the sweep's model.
        var block = page.Locator("#best-trial");
        Assert.Equal(bestNumber.ToString(CultureInfo.InvariantCulture), await block.GetAttributeAsync("data-trial"));
        Assert.Contains(Show(best.GetProperty("values").GetProperty("optimizer.lr").GetDouble()), await block.InnerTextAsync(), StringComparison.Ordinal);
        await block.Locator("summary").ClickAsync();
        var recipe = JsonDocument.Parse(await block.Locator("details pre").InnerTextAsync()).RootElement;
        Assert.Equal(best.GetProperty("values").GetProperty("model.width").GetInt32(), recipe.GetProperty("model").GetProperty("width").GetInt32());
        Assert.Equal(1, await page.Locator("#sweep-events tr[data-kind='Completed']").CountAsync());
        await page.ClickAsync("#best-job");
        await page.WaitForURLAsync(new Regex($"#/jobs/{best.GetProperty("jobId").GetGuid()}$"));
        await page.WaitForSelectorAsync("#job-state [data-state='Succeeded']");
        await page.WaitForSelectorAsync("#artifacts a[href$='model/best.safetensors']");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sweep-3-best-job.png"), FullPage = true });

        // The list shows the sweep over, every trial done.
        await page.ClickAsync("a[data-nav='sweeps']");
        var listed = page.Locator($"#sweeps tr[data-sweep='{sweepId}']");
        await listed.Locator("[data-state='Succeeded']").WaitForAsync();
        Assert.StartsWith("3 / 3", (await listed.Locator("td").AllInnerTextsAsync())[6], StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sweep-4-list.png") });

        // A long sweep, cancelled from its page while it runs: every trial not yet over is cancelled with it.
        await page.ClickAsync("a[data-nav='submit']");
        await page.SelectOptionAsync("#source", new SelectOptionValue { Value = "#upload" });
        await page.SetInputFilesAsync("#archive", archive);
        await page.FillAsync("#recipe", "epochs: 500\nbatch_size: 8\nmodel: { name: small_cnn, width: 4 }\nearly_stopping: { patience: null }\n");
        await page.FillAsync("#sweep", "search: grid\nspace:\n  optimizer.lr: [0.01, 0.02, 0.05, 0.1]\n");
        await page.ClickAsync("#submit");
        await page.WaitForURLAsync(new Regex("#/sweeps/[0-9a-f-]{36}$"));
        await page.ClickAsync("#cancel-sweep");
        await page.WaitForSelectorAsync("#sweep-state [data-state='Cancelled']", new() { Timeout = 120_000 });
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#trials tbody [data-state]')].every(s => s.dataset.state === 'Cancelled')",
            null, new() { Timeout = 120_000 });
        Assert.Equal(0, await page.Locator("#cancel-sweep").CountAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "sweep-5-cancelled.png"), FullPage = true });
    }

    // As the page writes a number: four significant digits.
    private static string Show(double value) => double.Parse(value.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
        .ToString(CultureInfo.InvariantCulture);
}
