namespace Pipeline.Studio;

/// <summary>Where the studio listens and what it serves as pages.</summary>
public static class StudioHosting
{
    /// <summary>The address when none is configured: loopback only.</summary>
    public const string LocalAddress = "http://127.0.0.1:5180";

    /// <summary>True when the host was told where to listen (ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS, --urls, Kestrel
    /// endpoints): an orchestrator or a cluster chose the address, and that choice stands.</summary>
    public static bool HasConfiguredAddress(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.IsNullOrWhiteSpace(configuration["urls"])
            || !string.IsNullOrWhiteSpace(configuration["http_ports"])
            || !string.IsNullOrWhiteSpace(configuration["https_ports"])
            || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();
    }

    /// <summary>A bundled page or script (built from web/ at build time and embedded).</summary>
    public static IResult Asset(string name, string contentType)
    {
        var stream = typeof(StudioHosting).Assembly.GetManifestResourceStream("studio/" + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, contentType);
    }
}
