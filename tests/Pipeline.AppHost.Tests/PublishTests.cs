using System.Text.Json;

namespace Pipeline.AppHost.Tests;

/// <summary>Aspire's manifest publishing of the AppHost's graph (<c>--publisher manifest --output-path DIR</c>).</summary>
public sealed class PublishTests : IDisposable
{
    private readonly string output = Directory.CreateTempSubdirectory("manifest-").FullName;

    public void Dispose() => Directory.Delete(output, recursive: true);

    [Fact]
    public async Task The_published_manifest_parses_and_names_every_resource_with_its_references()
    {
        await AppHostCommand.RunAsync("--publisher", "manifest", "--output-path", output);
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "aspire-manifest.json")));
        var resources = manifest.RootElement.GetProperty("resources");
        foreach (var (name, type) in new[]
        {
            ("rabbitmq-epmd", "executable.v0"), ("rabbitmq", "executable.v0"), ("storage", "executable.v0"), ("prometheus", "executable.v0"),
            ("ingest", "project.v0"), ("preprocess", "project.v0"), ("trainer", "project.v0"), ("evaluator", "project.v0"), ("studio", "project.v0"),
        })
        {
            Assert.Equal(type, resources.GetProperty(name).GetProperty("type").GetString());
        }
        // The broker's connection string names its credentials as parameters (secret, no value published).
        Assert.Contains("{rabbitmq-password.value}", resources.GetProperty("rabbitmq").GetProperty("connectionString").GetString(), StringComparison.Ordinal);
        Assert.True(resources.GetProperty("rabbitmq-password").GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        Assert.Contains("{storage-key.value}", resources.GetProperty("blobs").GetProperty("connectionString").GetString(), StringComparison.Ordinal);
        foreach (var service in (string[])["ingest", "preprocess", "trainer", "evaluator"])
        {
            var env = resources.GetProperty(service).GetProperty("env");
            Assert.Equal("{rabbitmq.connectionString}", env.GetProperty("ConnectionStrings__rabbitmq").GetString());
            Assert.Equal("{blobs.connectionString}", env.GetProperty("ConnectionStrings__blobs").GetString());
        }
        Assert.Equal("{evaluator.bindings.http.url}", resources.GetProperty("ingest").GetProperty("env").GetProperty("services__evaluator__http__0").GetString());
    }
}
