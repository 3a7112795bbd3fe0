using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Pipeline.AppHost.Hosting;
using Pipeline.Tests.Support;

namespace Pipeline.AppHost.Tests;

/// <summary>Issue 14: the registry's jobs as resources of the Aspire dashboard, driven through Aspire's own command
/// service as the dashboard drives it. "Submit Fashion-MNIST" (here the run's bundled Fashion-MNIST is a slice of it)
/// makes a job that appears as a child of <c>jobs</c> and follows the registry to its end; "Cancel job" cancels one.</summary>
[Collection(GraphCollection.Name)]
public sealed partial class JobResourceTests(GraphFixture fixture)
{
    private PipelineApp App => fixture.App;

    [Fact]
    public async Task A_job_submitted_with_the_command_appears_as_a_resource_that_follows_the_registry_to_its_end()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await App.Notifications.WaitForResourceAsync(TrainingJobs.ResourceName, KnownResourceStates.Running, limit.Token);
        var result = await App.App.ResourceCommands.ExecuteCommandAsync(TrainingJobs.ResourceName, TrainingJobs.SubmitCommand, limit.Token);
        Assert.True(result.Success, result.Message);
        var id = Guid.Parse(JobId().Match(result.Message ?? "").Value);
        var name = TrainingJobs.JobResourceName(id);

        // Every state the resource shows, in order, until the job ends.
        var states = new List<string>();
        var training = await App.Notifications.WaitForResourceAsync(name, e =>
        {
            Remember(states, e);
            return e.Snapshot.State?.Text == "Training" && Property(e, TrainingJobs.Properties.Loss) is not null;
        }, limit.Token);
        Assert.Equal(TrainingJobs.JobResourceType, training.Snapshot.ResourceType);
        Assert.Equal(id.ToString(), Property(training, TrainingJobs.Properties.Id));
        Assert.Equal("classify", Property(training, TrainingJobs.Properties.Task));
        Assert.Equal(2, Property(training, TrainingJobs.Properties.Trainers));
        Assert.Contains(fixture.FashionSubset, (string)Property(training, TrainingJobs.Properties.Dataset)!, StringComparison.Ordinal);
        Assert.True(double.Parse((string)Property(training, TrainingJobs.Properties.Loss)!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(TrainingJobs.ResourceName, Property(training, TrainingJobsWatcher.ParentNameProperty));
        Assert.Contains(training.Snapshot.Relationships, r => r.ResourceName == TrainingJobs.ResourceName && r.Type == "Parent");
        // Its link opens the job's page in the studio.
        var link = Assert.Single(training.Snapshot.Urls);
        Assert.EndsWith($"&job={id}", link.Url, StringComparison.Ordinal);
        Assert.Equal(ResourceCommandState.Enabled, Assert.Single(training.Snapshot.Commands, c => c.Name == TrainingJobs.CancelCommand).State);

        var ended = await App.Notifications.WaitForResourceAsync(name, e =>
        {
            Remember(states, e);
            return e.Snapshot.State?.Text is "Succeeded" or "Failed" or "Cancelled";
        }, limit.Token);
        Assert.Equal("Succeeded", ended.Snapshot.State?.Text);
        Assert.Equal(KnownResourceStateStyles.Success, ended.Snapshot.State?.Style);
        Assert.Equal(1, Property(ended, TrainingJobs.Properties.Epoch));
        Assert.StartsWith("val accuracy 0.", (string?)Property(ended, TrainingJobs.Properties.BestMetric), StringComparison.Ordinal);
        Assert.NotNull(ended.Snapshot.StopTimeStamp);
        Assert.Equal(ResourceCommandState.Disabled, Assert.Single(ended.Snapshot.Commands, c => c.Name == TrainingJobs.CancelCommand).State);
        // The states come in the registry's order (a state may pass between two polls, so only the order is asserted).
        var order = new[] { "Submitted", "Ingesting", "Ingested", "Preprocessing", "Prepared", "Training", "Evaluating", "Succeeded" };
        var seen = states.Distinct().ToList();
        Assert.Equal(seen, seen.OrderBy(s => Array.IndexOf(order, s)));
        Assert.All(seen, s => Assert.Contains(s, order));

        // The registry agrees.
        using var http = Api();
        var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative), limit.Token);
        Assert.Equal("Succeeded", job.GetProperty("job").GetProperty("state").GetString());
    }

    [Fact]
    public async Task Cancel_job_cancels_a_training_job_in_the_registry_and_the_resource_and_is_refused_once_it_is_over()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await App.Notifications.WaitForResourceAsync(TrainingJobs.ResourceName, KnownResourceStates.Running, limit.Token);
        // Many short steps on one trainer: it trains for minutes unless cancelled.
        using var http = Api();
        using var submitted = await http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new
        {
            path = fixture.FashionSubset,
            task = "classify",
            recipeYaml = "epochs: 20\nbatch_size: 10\nlog_every: 5\nmodel: { name: small_cnn, width: 8 }\n",
            trainers = 1,
        }, limit.Token);
        Assert.True(submitted.IsSuccessStatusCode, await submitted.Content.ReadAsStringAsync(limit.Token));
        var id = (await submitted.Content.ReadFromJsonAsync<JsonElement>(limit.Token)).GetProperty("id").GetGuid();
        var name = TrainingJobs.JobResourceName(id);

        await App.Notifications.WaitForResourceAsync(name, e => e.Snapshot.State?.Text == "Training" && Property(e, TrainingJobs.Properties.Loss) is not null, limit.Token);
        var cancelled = await App.App.ResourceCommands.ExecuteCommandAsync(name, TrainingJobs.CancelCommand, limit.Token);
        Assert.True(cancelled.Success, cancelled.Message);

        var ended = await App.Notifications.WaitForResourceAsync(name, e => e.Snapshot.State?.Text is "Succeeded" or "Failed" or "Cancelled", limit.Token);
        Assert.Equal("Cancelled", ended.Snapshot.State?.Text);
        Assert.Equal("cancelled by the user", Property(ended, TrainingJobs.Properties.Reason));
        Assert.Equal(ResourceCommandState.Disabled, Assert.Single(ended.Snapshot.Commands, c => c.Name == TrainingJobs.CancelCommand).State);
        var job = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative), limit.Token);
        Assert.Equal("Cancelled", job.GetProperty("job").GetProperty("state").GetString());

        // A job that is over cannot be cancelled: the command says why.
        var again = await App.App.ResourceCommands.ExecuteCommandAsync(name, TrainingJobs.CancelCommand, limit.Token);
        Assert.False(again.Success);
        Assert.Contains("already Cancelled", again.Message, StringComparison.Ordinal);
    }

    private HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = App.GetEndpoint("ingest"), Timeout = TimeSpan.FromMinutes(2) }; // the 2 cores are busy training
        http.DefaultRequestHeaders.Add("X-Api-Key", GraphFixture.ApiKey);
        return http;
    }

    private static void Remember(List<string> states, ResourceEvent e)
    {
        if (e.Snapshot.State?.Text is { Length: > 0 } state)
        {
            states.Add(state);
        }
    }

    private static object? Property(ResourceEvent e, string name) => e.Snapshot.Properties.FirstOrDefault(p => p.Name == name)?.Value;

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex JobId();
}
