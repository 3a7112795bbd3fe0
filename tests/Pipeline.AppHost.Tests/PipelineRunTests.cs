using Aspire.Hosting.Testing;
using Pipeline.AppHost.Hosting;

namespace Pipeline.AppHost.Tests;

/// <summary>The AppHost's settings: read from configuration under the services' variable names, refused with a message
/// naming the setting when they make no sense.</summary>
public sealed class PipelineRunTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "pipeline-tests", "settings-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("--PIPELINE_TRAINER_REPLICAS=0", "PIPELINE_TRAINER_REPLICAS must be a whole number from 1 to 64, not '0'.")]
    [InlineData("--PIPELINE_TRAINER_REPLICAS=two", "PIPELINE_TRAINER_REPLICAS must be a whole number from 1 to 64, not 'two'.")]
    [InlineData("--PIPELINE_UPLOAD_QUOTA_BYTES=-5", "PIPELINE_UPLOAD_QUOTA_BYTES must be a whole number from 1 to 9223372036854775807, not '-5'.")]
    [InlineData("--PIPELINE_DIST_TIMEOUT=soon", "PIPELINE_DIST_TIMEOUT must be a number of seconds above 0, not 'soon'.")]
    [InlineData("--PIPELINE_BUNDLED_DATASETS=Fashion-MNIST", "PIPELINE_BUNDLED_DATASETS: 'Fashion-MNIST' is not NAME=/absolute/folder.")]
    [InlineData("--PIPELINE_BUNDLED_DATASETS=Fashion-MNIST=relative/folder", "PIPELINE_BUNDLED_DATASETS: 'Fashion-MNIST=relative/folder' is not NAME=/absolute/folder.")]
    public void A_bad_setting_is_refused_by_name(string argument, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => PipelineRun.CreatePart(folder, () => DistributedApplicationTestingBuilder.Create(argument)));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Settings_come_from_configuration_and_default_as_documented()
    {
        var (run, _) = PipelineRun.CreatePart(folder, () => DistributedApplicationTestingBuilder.Create(
            "--PIPELINE_API_KEY=given-key", "--PIPELINE_TRAINER_REPLICAS=3", "--PIPELINE_DATASET_ROOTS=/srv/data", "--PIPELINE_DIST_TIMEOUT=2.5"));
        Assert.Equal("given-key", run.ApiKey);
        Assert.Equal(3, run.TrainerReplicas);
        Assert.Equal("/usr/share/datasets:/srv/data", run.DatasetRoots);
        Assert.Equal("2.5", run.DistTimeoutSeconds);
        Assert.Null(run.UploadQuotaBytes);
        Assert.Equal(Path.Combine(Path.GetFullPath(folder), "ingest"), run.IngestDataDirectory);

        var (fresh, _) = PipelineRun.CreatePart(folder, () => DistributedApplicationTestingBuilder.Create());
        Assert.Matches("^[0-9a-f]{32}$", fresh.ApiKey);
        Assert.Equal(2, fresh.TrainerReplicas);
        Assert.Equal("/usr/share/datasets/fashion-mnist", fresh.BundledDataset("Fashion-MNIST"));

        // The bundled datasets the studio offers, and "Submit Fashion-MNIST" submits, by name.
        var (bundled, _) = PipelineRun.CreatePart(folder, () => DistributedApplicationTestingBuilder.Create(
            "--PIPELINE_BUNDLED_DATASETS=Digits=/srv/digits; Fashion-MNIST = /srv/fashion"));
        Assert.Equal("/srv/fashion", bundled.BundledDataset("Fashion-MNIST"));
        Assert.Equal("/srv/digits", bundled.BundledDataset("Digits"));
        Assert.Null(bundled.BundledDataset("CIFAR-10"));
    }
}
