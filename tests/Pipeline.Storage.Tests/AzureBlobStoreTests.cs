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
        // Azurite checks Shared Key signatures: the round trips above prove ours, and this proves it checks.
        var real = StorageConnectionString.Parse(azurite.ConnectionString);
        var wrongKey = real with { AccountKey = Convert.ToBase64String(new byte[64]) };
        using var store = new AzureBlobStore(wrongKey, new AzureBlobStoreOptions { MaxRetries = 0 });

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.UploadAsync(Container, "blob", new MemoryStream([1])));
        Assert.Equal(403, error.StatusCode);
        Assert.Contains("403", error.Message, StringComparison.Ordinal);
        Assert.False(await Store.ExistsAsync(Container, "blob"));
    }
}
