using System.Globalization;
using System.Xml.Linq;

namespace Pipeline.Storage;

/// <summary>One page of a List Blobs response: its blobs and the marker of the next page.</summary>
internal sealed record ListBlobsPage(IReadOnlyList<BlobProperties> Blobs, string? NextMarker)
{
    public static async Task<ListBlobsPage> ParseAsync(Stream xml, CancellationToken cancellationToken)
    {
        var document = await XDocument.LoadAsync(xml, LoadOptions.None, cancellationToken).ConfigureAwait(false);
        var root = document.Root ?? throw new InvalidDataException("The List Blobs response is empty.");
        var blobs = root.Element("Blobs")?.Elements("Blob").Select(ParseBlob).ToList() ?? [];
        var next = root.Element("NextMarker")?.Value;
        return new ListBlobsPage(blobs, string.IsNullOrEmpty(next) ? null : next);
    }

    private static BlobProperties ParseBlob(XElement blob)
    {
        var nameElement = blob.Element("Name") ?? throw new InvalidDataException("A listed blob has no Name.");
        // Names with characters XML cannot carry come percent-encoded and flagged.
        var name = (string?)nameElement.Attribute("Encoded") == "true"
            ? Uri.UnescapeDataString(nameElement.Value)
            : nameElement.Value;
        var properties = blob.Element("Properties") ?? throw new InvalidDataException($"Listed blob '{name}' has no Properties.");
        var etag = Required(properties, "Etag", name);
        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in blob.Element("Metadata")?.Elements() ?? [])
        {
            metadata[entry.Name.LocalName] = entry.Value;
        }

        return new BlobProperties(
            name,
            long.Parse(Required(properties, "Content-Length", name), CultureInfo.InvariantCulture),
            // Listings give the ETag bare; headers (and conditions) use the quoted form.
            etag.StartsWith('"') ? etag : $"\"{etag}\"",
            DateTimeOffset.Parse(Required(properties, "Last-Modified", name), CultureInfo.InvariantCulture),
            properties.Element("Content-Type")?.Value is { Length: > 0 } type ? type : null,
            metadata);
    }

    private static string Required(XElement properties, string element, string blob) =>
        properties.Element(element)?.Value ?? throw new InvalidDataException($"Listed blob '{blob}' has no {element}.");
}
