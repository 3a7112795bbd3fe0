using System.Net.Http.Headers;

namespace Pipeline.Storage.Tests;

/// <summary>
/// Known vectors: the expected strings-to-sign are written out by hand from Azure's Shared Key
/// documentation, and the expected signatures computed independently (Python's hmac over the same
/// text with Azurite's published key).
/// </summary>
public sealed class SharedKeySignerTests
{
    private readonly SharedKeySigner _signer = new(StorageConnectionString.DevelopmentAccountName, StorageConnectionString.DevelopmentAccountKey);

    [Fact]
    public void A_put_block_signs_length_conditions_sorted_lowercase_headers_and_decoded_query()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put,
            "http://127.0.0.1:10000/devstoreaccount1/datasets/raw/a%20b.png?comp=block&blockid=AAAA%2B%2F%3D%3D");
        request.Headers.Add("x-ms-version", "2025-01-05");
        request.Headers.Add("x-ms-meta-Kind", "label map");
        request.Headers.Add("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT");
        request.Headers.Add("x-ms-blob-content-type", "image/png");
        request.Headers.TryAddWithoutValidation("If-Match", "\"0x8DC0FFEE\"");
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("pipeline", "1")); // not signed
        request.Content = new ByteArrayContent([1, 2, 3, 4, 5]);

        Assert.Equal(
            "PUT\n\n\n5\n\n\n\n\n\"0x8DC0FFEE\"\n\n\n\n" +
            "x-ms-blob-content-type:image/png\n" +
            "x-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n" +
            "x-ms-meta-kind:label map\n" +
            "x-ms-version:2025-01-05\n" +
            "/devstoreaccount1/devstoreaccount1/datasets/raw/a%20b.png\n" +
            "blockid:AAAA+/==\n" +
            "comp:block",
            _signer.StringToSign(request));

        _signer.Sign(request);
        Assert.Equal("SharedKey", request.Headers.Authorization!.Scheme);
        Assert.Equal("devstoreaccount1:mSx6qZMv8uwGZzrEhEU6uMAw/y4Z9+Nv8PIPLdZ2dPg=", request.Headers.Authorization.Parameter);
    }

    [Fact]
    public void A_list_signs_no_length_and_every_query_parameter_sorted()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            "http://127.0.0.1:10000/devstoreaccount1/jobs?restype=container&comp=list&prefix=jobs%2F1%202%2F&marker=2%2188%21xyz&include=metadata");
        request.Headers.Add("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT");
        request.Headers.Add("x-ms-version", "2025-01-05");

        Assert.Equal(
            "GET\n\n\n\n\n\n\n\n\n\n\n\n" +
            "x-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n" +
            "x-ms-version:2025-01-05\n" +
            "/devstoreaccount1/devstoreaccount1/jobs\n" +
            "comp:list\ninclude:metadata\nmarker:2!88!xyz\nprefix:jobs/1 2/\nrestype:container",
            _signer.StringToSign(request));

        _signer.Sign(request);
        Assert.Equal("devstoreaccount1:4SvlwiMINibub4KpWQgbWotPyhQHdJakXqCp8KCK3vY=", request.Headers.Authorization!.Parameter);
    }

    [Fact]
    public void A_zero_length_body_signs_an_empty_content_length()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "https://acct.blob.core.windows.net/jobs?restype=container");
        request.Content = new ByteArrayContent([]);

        Assert.StartsWith("PUT\n\n\n\n", _signer.StringToSign(request), StringComparison.Ordinal);
        Assert.EndsWith("\n/devstoreaccount1/jobs\nrestype:container", _signer.StringToSign(request), StringComparison.Ordinal);
    }
}
