namespace Pipeline.Storage.Tests;

/// <summary>The store contract against a real Azurite, listing in pages of two to exercise markers.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobStoreTests(AzuriteFixture azurite) : ArtifactStoreContract, IDisposable
{
    private readonly AzureBlobStore _store = new(azurite.ConnectionString, new AzureBlobStoreOptions { ListPageSize = ListPageSize });

    protected override IArtifactStore Store => _store;

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task Requests_signed_with_a_wrong_key_are_rejected()
    {
        // Azurite checks Shared Key signatures: the round trips above prove the SDK's, and this proves it checks.
        var wrongKey = WithPart(azurite.ConnectionString, "AccountKey", Convert.ToBase64String(new byte[64]));
        using var store = new AzureBlobStore(wrongKey, new AzureBlobStoreOptions { MaxRetries = 0 });

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.UploadAsync(Container, "blob", new MemoryStream([1])));
        Assert.Equal(403, error.StatusCode);
        Assert.Contains("403", error.Message, StringComparison.Ordinal);
        Assert.False(await Store.ExistsAsync(Container, "blob"));
    }

    [Fact]
    public async Task Lost_answers_to_blocks_and_the_commit_are_retried_without_corrupting_the_blob()
    {
        // The first try of every Put Block and of Put Block List reaches Azurite, but its answer is lost.
        using var handler = new FaultInjectingHandler((request, attempt) =>
            attempt == 1 && request.Method == HttpMethod.Put && request.RequestUri!.Query.Contains("comp=block", StringComparison.Ordinal)
                ? (request.RequestUri.Query.Contains("blocklist", StringComparison.Ordinal) ? Fault.ResetAfterApplying : Fault.LoseResponse)
                : Fault.None);
        using var store = FlakyStore(handler);
        var data = Bytes(9 * MiB, 5);

        var etag = await store.UploadAsync(Container, "retried", new ForwardOnlyStream(data));

        Assert.Equal(4, handler.Faults); // three blocks and the commit
        Assert.Equal(data, await DownloadAsync("retried"));
        Assert.Equal(etag, (await Store.GetPropertiesAsync(Container, "retried"))!.ETag);
    }

    [Fact]
    public async Task A_service_that_stays_unavailable_is_retried_a_bounded_number_of_times()
    {
        using var handler = new FaultInjectingHandler((_, _) => Fault.Unavailable);
        using var store = FlakyStore(handler, maxRetries: 3);

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.DownloadAsync(Container, "any"));

        Assert.Equal(503, error.StatusCode);
        Assert.Equal(4, handler.Requests);
        Assert.Contains($"'{Container}/any'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Definite_answers_are_not_retried()
    {
        using var handler = new FaultInjectingHandler((_, _) => Fault.None);
        using var store = FlakyStore(handler);

        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.DownloadAsync(Container, "missing"));
        await store.UploadAsync(Container, "once", new MemoryStream([1]), new() { Condition = BlobCondition.IfNotExists });
        await Assert.ThrowsAsync<ArtifactConditionFailedException>(() =>
            store.UploadAsync(Container, "once", new MemoryStream([2]), new() { Condition = BlobCondition.IfNotExists }));

        Assert.Equal(3, handler.Requests);
    }

    [Fact]
    public async Task An_unreachable_service_fails_naming_the_blob_and_the_endpoint()
    {
        var closed = WithPart(azurite.ConnectionString, "BlobEndpoint", "http://127.0.0.1:9/devstoreaccount1");
        using var store = new AzureBlobStore(closed, new AzureBlobStoreOptions { MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(1) });

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.UploadAsync(Container, "x/y", new MemoryStream([1])));

        Assert.Null(error.StatusCode);
        Assert.Contains($"'{Container}/x/y'", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:9", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 attempts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_large_upload_leaves_no_blob()
    {
        // Every try of the commit fails: the staged blocks must never become a readable blob.
        using var handler = new FaultInjectingHandler((request, _) =>
            request.RequestUri!.Query.Contains("comp=blocklist", StringComparison.Ordinal) ? Fault.Unavailable : Fault.None);
        using var store = FlakyStore(handler, maxRetries: 1);

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() =>
            store.UploadAsync(Container, "half", new ForwardOnlyStream(Bytes(9 * MiB, 6))));

        Assert.Equal(503, error.StatusCode);
        Assert.Contains($"'{Container}/half'", error.Message, StringComparison.Ordinal);
        Assert.False(await Store.ExistsAsync(Container, "half"));
        Assert.Empty(await ListAsync("half"));
    }

    private AzureBlobStore FlakyStore(FaultInjectingHandler handler, int maxRetries = 5) =>
        new(azurite.ConnectionString,
            new AzureBlobStoreOptions { MaxRetries = maxRetries, RetryDelay = TimeSpan.FromMilliseconds(1) },
            handler);

    /// <summary>The connection string with one Key=Value part replaced.</summary>
    private static string WithPart(string connectionString, string key, string value) =>
        string.Join(';', connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(part => part.StartsWith(key + "=", StringComparison.Ordinal) ? $"{key}={value}" : part));
}
