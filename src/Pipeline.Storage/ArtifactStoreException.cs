using System.Globalization;

namespace Pipeline.Storage;

/// <summary>
/// A store operation failed. The message names the container and blob, the HTTP status and the
/// service's error code (the folder store reports the codes Azure would), so a person can act on it.
/// </summary>
public class ArtifactStoreException : Exception
{
    public ArtifactStoreException(string operation, string container, string? blob, int? statusCode, string? errorCode,
        string? detail, Exception? innerException = null)
        : base(Describe(operation, container, blob, statusCode, errorCode, detail), innerException)
    {
        Container = container;
        Blob = blob;
        StatusCode = statusCode;
        ErrorCode = errorCode;
    }

    /// <summary>The container the operation addressed.</summary>
    public string Container { get; }

    /// <summary>The blob the operation addressed; null for container-level operations.</summary>
    public string? Blob { get; }

    /// <summary>HTTP status of the failure; null when no response came (the connection or the local disk failed).</summary>
    public int? StatusCode { get; }

    /// <summary>The service's error code, e.g. BlobNotFound or ConditionNotMet.</summary>
    public string? ErrorCode { get; }

    /// <summary>Maps a failed service response onto the most specific exception.</summary>
    internal static ArtifactStoreException FromResponse(string operation, string container, string? blob,
        int statusCode, string? errorCode, string? detail, bool hadCondition) => statusCode switch
    {
        404 => new ArtifactNotFoundException(operation, container, blob, statusCode, errorCode, detail),
        412 => new ArtifactConditionFailedException(operation, container, blob, statusCode, errorCode, detail),
        // 409 also means leases and container deletion; only a conditional write reads as a failed condition.
        409 when hadCondition => new ArtifactConditionFailedException(operation, container, blob, statusCode, errorCode, detail),
        _ => new ArtifactStoreException(operation, container, blob, statusCode, errorCode, detail),
    };

    private static string Describe(string operation, string container, string? blob, int? statusCode, string? errorCode,
        string? detail)
    {
        var target = blob is null ? $"container '{container}'" : $"blob '{container}/{blob}'";
        var status = statusCode is { } code
            ? string.Create(CultureInfo.InvariantCulture, $"HTTP {code} {errorCode ?? "(no error code)"}")
            : errorCode ?? "no response";
        var text = $"{operation} of {target} failed: {status}";
        return string.IsNullOrWhiteSpace(detail) ? text + "." : $"{text}. {detail.Trim()}";
    }
}

/// <summary>The blob or its container does not exist (HTTP 404).</summary>
public sealed class ArtifactNotFoundException(string operation, string container, string? blob, int? statusCode,
    string? errorCode, string? detail)
    : ArtifactStoreException(operation, container, blob, statusCode, errorCode, detail);

/// <summary>
/// A precondition (If-Match / If-None-Match) did not hold (HTTP 412, or 409 for create-only); nothing changed.
/// </summary>
public sealed class ArtifactConditionFailedException(string operation, string container, string? blob, int? statusCode,
    string? errorCode, string? detail)
    : ArtifactStoreException(operation, container, blob, statusCode, errorCode, detail);
