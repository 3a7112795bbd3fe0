namespace Pipeline.Storage.Tests;

public sealed class StorageConnectionStringTests
{
    private const string Key = "c2VjcmV0LWtleS1ieXRlcw==";

    [Fact]
    public void Development_storage_means_azurites_well_known_account()
    {
        var parsed = StorageConnectionString.Parse("UseDevelopmentStorage=true");

        Assert.Equal("devstoreaccount1", parsed.AccountName);
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), parsed.BlobEndpoint);
        Assert.Equal(StorageConnectionString.DevelopmentAccountKey, parsed.AccountKey);
    }

    [Fact]
    public void The_endpoint_is_derived_from_protocol_account_and_suffix()
    {
        var parsed = StorageConnectionString.Parse(
            $"DefaultEndpointsProtocol=https;AccountName=pipelineart;AccountKey={Key};EndpointSuffix=core.chinacloudapi.cn");

        Assert.Equal("pipelineart", parsed.AccountName);
        Assert.Equal(Key, parsed.AccountKey);
        Assert.Equal(new Uri("https://pipelineart.blob.core.chinacloudapi.cn"), parsed.BlobEndpoint);
    }

    [Fact]
    public void Defaults_are_https_and_the_public_cloud()
    {
        var parsed = StorageConnectionString.Parse($"AccountName=acct;AccountKey={Key}");

        Assert.Equal(new Uri("https://acct.blob.core.windows.net"), parsed.BlobEndpoint);
    }

    [Fact]
    public void An_explicit_blob_endpoint_wins_and_keys_are_case_insensitive_with_spaces_and_trailing_separator()
    {
        var parsed = StorageConnectionString.Parse(
            $" accountname = devstoreaccount1 ; ACCOUNTKEY={Key}; BlobEndpoint=http://127.0.0.1:41234/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/q;");

        Assert.Equal(new Uri("http://127.0.0.1:41234/devstoreaccount1"), parsed.BlobEndpoint);
        Assert.Equal("devstoreaccount1", parsed.AccountName);
    }

    [Theory]
    [InlineData("AccountName=a;AccountKey=" + Key + ";Colour=blue", "'Colour'")]
    [InlineData("AccountKey=" + Key, "'AccountName'")]
    [InlineData("AccountName=a", "'AccountKey'")]
    [InlineData("AccountName=a;AccountKey=not*base64", "'AccountKey'")]
    [InlineData("AccountName=a;AccountKey=" + Key + ";BlobEndpoint=ftp://x", "'BlobEndpoint'")]
    [InlineData("AccountName=a;AccountKey=" + Key + ";BlobEndpoint=not a url", "'BlobEndpoint'")]
    [InlineData("DefaultEndpointsProtocol=gopher;AccountName=a;AccountKey=" + Key, "'DefaultEndpointsProtocol'")]
    [InlineData("AccountName=a;AccountName=b;AccountKey=" + Key, "'AccountName'")]
    [InlineData("UseDevelopmentStorage=false", "'UseDevelopmentStorage'")]
    [InlineData("UseDevelopmentStorage=true;AccountName=x", "'AccountName'")]
    [InlineData("AccountName=a;JustAWord", "'JustAWord'")]
    public void Errors_name_the_bad_key(string connectionString, string named)
    {
        var error = Assert.Throws<FormatException>(() => StorageConnectionString.Parse(connectionString));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_never_appears_in_text()
    {
        var parsed = StorageConnectionString.Parse($"AccountName=acct;AccountKey={Key}");

        Assert.DoesNotContain(Key, parsed.ToString(), StringComparison.Ordinal);
    }
}
