namespace Pipeline.Storage.Tests;

/// <summary>
/// The connection strings services are given (the SDK parses them now): where each one points, and that a
/// bad one fails at start without echoing the key. The custom-account Azurite string is proven by every
/// <see cref="AzureBlobStoreTests"/> round trip.
/// </summary>
public sealed class AzureConnectionStringTests
{
    private const string Key = "c2VjcmV0LWtleS1ieXRlcw==";

    [Fact]
    public void Development_storage_means_azurites_well_known_account()
    {
        using var store = new AzureBlobStore("UseDevelopmentStorage=true");

        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), store.Endpoint);
    }

    [Fact]
    public void The_endpoint_is_derived_from_protocol_account_and_suffix()
    {
        using var store = new AzureBlobStore(
            $"DefaultEndpointsProtocol=https;AccountName=pipelineart;AccountKey={Key};EndpointSuffix=core.chinacloudapi.cn");

        Assert.Equal(new Uri("https://pipelineart.blob.core.chinacloudapi.cn"), store.Endpoint);
    }

    [Fact]
    public void An_explicit_blob_endpoint_wins_and_a_trailing_separator_and_other_endpoints_are_fine()
    {
        using var store = new AzureBlobStore(
            $"DefaultEndpointsProtocol=http;AccountName=run1;AccountKey={Key};BlobEndpoint=http://storage:10000/run1;QueueEndpoint=http://storage:10001/run1;");

        Assert.Equal(new Uri("http://storage:10000/run1"), store.Endpoint);
    }

    [Theory]
    [InlineData("AccountKey=" + Key)]
    [InlineData("AccountName=a;JustAWord;AccountKey=" + Key)]
    [InlineData("AccountName=a;AccountKey=not*base64")]
    [InlineData("AccountName=a;AccountKey=" + Key + ";BlobEndpoint=ftp://x")]
    [InlineData("")]
    public void Bad_strings_fail_at_construction_without_echoing_the_key(string connectionString)
    {
        var error = Assert.ThrowsAny<Exception>(() => new AzureBlobStore(connectionString));

        Assert.True(error is FormatException or ArgumentException, error.ToString());
        Assert.DoesNotContain(Key, error.Message, StringComparison.Ordinal);
    }
}
