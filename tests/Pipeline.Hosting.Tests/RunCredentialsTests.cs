using Pipeline.Hosting.Testing;
using Pipeline.Storage;
using RabbitMQ.Client;

namespace Pipeline.Hosting.Tests;

/// <summary>The broker's user and the blob account are generated per run folder and kept in it: RabbitMQ creates its
/// default user only with a new database, and Azurite keeps blobs per account, so a reused folder (--keep-data,
/// --data-dir) must come back with the same credentials.</summary>
public sealed class RunCredentialsTests
{
    [Fact]
    public async Task A_reused_run_folder_keeps_the_broker_user_and_the_blob_account_and_both_still_let_in()
    {
        var folder = Path.Combine(Path.GetTempPath(), "pipeline-tests", "kept-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            string password, account, key;
            await using (var first = await StartAsync(folder))
            {
                var rabbit = (RabbitMQServerResource)first.Model["rabbitmq"];
                var storage = (AzuriteResource)first.Model["storage"];
                (password, account, key) = (rabbit.Password, storage.AccountName, storage.AccountKey);
                using var store = new AzureBlobStore(first.GetConnectionString("blobs"));
                await store.CreateContainerIfMissingAsync("kept");
                using var content = new MemoryStream("kept across runs"u8.ToArray());
                await store.UploadAsync("kept", "note.txt", content, null);
            }

            await using (var second = await StartAsync(folder))
            {
                var rabbit = (RabbitMQServerResource)second.Model["rabbitmq"];
                var storage = (AzuriteResource)second.Model["storage"];
                Assert.Equal(password, rabbit.Password);
                Assert.Equal((account, key), (storage.AccountName, storage.AccountKey));
                // The database made in the first run still knows the user.
                await using var connection = await new ConnectionFactory { Uri = new Uri(second.GetConnectionString("rabbitmq")) }.CreateConnectionAsync();
                Assert.True(connection.IsOpen);
                using var store = new AzureBlobStore(second.GetConnectionString("blobs"));
                await using var note = await store.DownloadAsync("kept", "note.txt", null);
                using var reader = new StreamReader(note);
                Assert.Equal("kept across runs", await reader.ReadToEndAsync());
            }

            // A fresh folder gets fresh credentials.
            var other = Path.Combine(Path.GetTempPath(), "pipeline-tests", "fresh-" + Guid.NewGuid().ToString("N")[..8]);
            var builder = DistributedApplicationTestingBuilder.Create("--data-dir", other);
            var fresh = builder.AddRabbitMQ("rabbitmq").Resource;
            var freshStorage = builder.AddAzurite("storage").Resource;
            await using (await builder.BuildAsync())
            {
                Assert.NotEqual(password, fresh.Password);
                Assert.NotEqual(key, freshStorage.AccountKey);
            }
            Directory.Delete(other, recursive: true);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static async Task<DistributedApplication> StartAsync(string folder)
    {
        var builder = DistributedApplicationTestingBuilder.Create("--data-dir", folder);
        builder.AddRabbitMQ("rabbitmq");
        builder.AddAzurite("storage").AddBlobs("blobs");
        var app = await builder.BuildAsync();
        await app.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await app.Resources.WaitForResourceHealthyAsync("rabbitmq", timeout.Token);
        await app.Resources.WaitForResourceHealthyAsync("storage", timeout.Token);
        return app;
    }
}
