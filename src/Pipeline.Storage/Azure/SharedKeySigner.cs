using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Storage;

/// <summary>
/// Signs requests with Azure Storage's Shared Key scheme (service version 2015-02-21 and later):
/// HMAC-SHA256, keyed with the account key, over the verb, the standard headers, the canonicalized
/// x-ms-* headers and the canonicalized resource, exactly as
/// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key describes.
/// </summary>
internal sealed class SharedKeySigner(string accountName, string accountKey)
{
    private readonly byte[] _key = Convert.FromBase64String(accountKey);

    /// <summary>Sets the Authorization header; call after every other header is set.</summary>
    public void Sign(HttpRequestMessage request)
    {
        using var hmac = new HMACSHA256(_key);
        var signature = Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(StringToSign(request))));
        request.Headers.Authorization = new AuthenticationHeaderValue("SharedKey", $"{accountName}:{signature}");
    }

    public string StringToSign(HttpRequestMessage request)
    {
        var content = request.Content?.Headers;
        // Since 2015-02-21 a zero Content-Length is signed as the empty string.
        var length = content?.ContentLength is { } n and > 0 ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : "";
        var builder = new StringBuilder()
            .Append(request.Method.Method).Append('\n')
            .Append(Header(content, "Content-Encoding")).Append('\n')
            .Append(Header(content, "Content-Language")).Append('\n')
            .Append(length).Append('\n')
            .Append(Header(content, "Content-MD5")).Append('\n')
            .Append(Header(content, "Content-Type")).Append('\n')
            .Append('\n') // Date: x-ms-date is always sent instead
            .Append(Header(request.Headers, "If-Modified-Since")).Append('\n')
            .Append(Header(request.Headers, "If-Match")).Append('\n')
            .Append(Header(request.Headers, "If-None-Match")).Append('\n')
            .Append(Header(request.Headers, "If-Unmodified-Since")).Append('\n')
            .Append(Header(request.Headers, "Range")).Append('\n');
        AppendCanonicalizedHeaders(builder, request.Headers);
        AppendCanonicalizedResource(builder, request.RequestUri ?? throw new InvalidOperationException("The request has no URI."));
        return builder.ToString();
    }

    /// <summary>Every x-ms-* header, lowercase, sorted, "name:value\n" with trimmed values.</summary>
    private static void AppendCanonicalizedHeaders(StringBuilder builder, HttpRequestHeaders headers)
    {
        var canonical = headers
            .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            .Select(h => (Name: h.Key.ToLowerInvariant(), Value: string.Join(',', h.Value.Select(v => v.Trim()))))
            .OrderBy(h => h.Name, StringComparer.Ordinal);
        foreach (var (name, value) in canonical)
        {
            builder.Append(name).Append(':').Append(value).Append('\n');
        }
    }

    /// <summary>"/account/path" (path as encoded on the wire), then "\nname:v1,v2" per query parameter, sorted and decoded.</summary>
    private void AppendCanonicalizedResource(StringBuilder builder, Uri uri)
    {
        builder.Append('/').Append(accountName).Append(uri.AbsolutePath);
        var query = uri.Query.TrimStart('?');
        if (query.Length == 0)
        {
            return;
        }

        var parameters = query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(kv => (Name: Uri.UnescapeDataString(kv[0]).ToLowerInvariant(), Value: kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : ""))
            .GroupBy(kv => kv.Name, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var parameter in parameters)
        {
            var values = parameter.Select(kv => kv.Value).Order(StringComparer.Ordinal);
            builder.Append('\n').Append(parameter.Key).Append(':').Append(string.Join(',', values));
        }
    }

    private static string Header(HttpHeaders? headers, string name) =>
        headers is not null && headers.NonValidated.TryGetValues(name, out var values) ? string.Join(",", values) : "";
}
