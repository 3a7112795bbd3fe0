using Microsoft.Extensions.Configuration;

namespace Pipeline.Studio.Tests;

/// <summary>The configuration contract the AppHost wires, and the key's redaction, without a running studio.</summary>
public sealed class StudioSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Aspire_service_discovery_variables_name_the_jobs_api_and_prometheus()
    {
        // As the environment variables arrive: services__ingest__http__0 is the key services:ingest:http:0.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["services:ingest:http:0"] = "http://127.0.0.1:5123",
            ["services:prometheus:http:0"] = "http://127.0.0.1:9090/",
            ["PIPELINE_API_KEY"] = "k1",
            ["PIPELINE_STUDIO_TOKEN"] = "t1",
            ["PIPELINE_BUNDLED_DATASETS"] = "Fashion-MNIST=/usr/share/datasets/fashion-mnist; Mine = /data/my set",
        }).Build();
        var settings = StudioSettings.From(configuration);
        // By name: the HttpClients resolve them through service discovery (the studio API tests go through it).
        Assert.Equal(new Uri("http://ingest/"), settings.JobsApi);
        Assert.Equal(new Uri("http://prometheus/"), settings.Prometheus);
        Assert.Equal("k1", settings.ApiKey);
        Assert.Equal("t1", settings.Token);
        Assert.False(settings.TokenGenerated);
        Assert.Equal([new("Fashion-MNIST", "/usr/share/datasets/fashion-mnist"), new("Mine", "/data/my set")], settings.BundledDatasets);
    }

    [Fact]
    public void Without_a_token_each_run_makes_its_own_and_without_services_there_is_no_jobs_api()
    {
        var a = StudioSettings.From(Config());
        var b = StudioSettings.From(Config());
        Assert.True(a.TokenGenerated);
        Assert.True(a.Token.Length >= 32);
        Assert.NotEqual(a.Token, b.Token);
        Assert.Null(a.JobsApi);
        Assert.Null(a.Prometheus);
        Assert.Empty(a.BundledDatasets);
    }

    [Theory]
    [InlineData("services:ingest:http:0", "ftp://host/")]
    [InlineData("services:prometheus:http:0", "not a url")]
    [InlineData("PIPELINE_BUNDLED_DATASETS", "Fashion-MNIST")]
    [InlineData("PIPELINE_BUNDLED_DATASETS", "Fashion-MNIST=relative/folder")]
    [InlineData("PIPELINE_BUNDLED_DATASETS", "=/usr/share/datasets")]
    public void A_malformed_value_stops_the_start_naming_its_key(string key, string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => StudioSettings.From(Config((key, value))));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_address_given_by_the_host_stands_and_none_means_loopback()
    {
        Assert.False(StudioHosting.HasConfiguredAddress(Config()));
        Assert.True(StudioHosting.HasConfiguredAddress(Config(("urls", "http://localhost:5000"))));
        Assert.True(StudioHosting.HasConfiguredAddress(Config(("http_ports", "8080"))));
        Assert.True(StudioHosting.HasConfiguredAddress(Config(("Kestrel:Endpoints:http:Url", "http://0.0.0.0:80"))));
        Assert.StartsWith("http://127.0.0.1:", StudioHosting.LocalAddress, StringComparison.Ordinal);
    }

    [Fact]
    public void Redaction_blanks_every_copy_of_the_key_and_a_cut_body_loses_what_could_start_it()
    {
        Assert.Equal("a [redacted] b [redacted]", JobsApiProxy.Redact("a KEY123 b KEY123", cutShort: false, "KEY123"));
        // Cut short at the limit, the body may end in "KEY1": as many characters as the key has are dropped.
        Assert.Equal("header", JobsApiProxy.Redact("header: KEY1", cutShort: true, "KEY123"));
        Assert.Equal("no key here", JobsApiProxy.Redact("no key here", cutShort: false, ""));
    }
}
