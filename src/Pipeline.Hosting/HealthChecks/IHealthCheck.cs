namespace Pipeline.Hosting;

/// <summary>Probes one replica; the supervisor turns results into Healthy/Unhealthy states.</summary>
public interface IHealthCheck
{
    Task<HealthResult> CheckAsync(CancellationToken cancellationToken);
}

public sealed record HealthResult(bool IsHealthy, string? Description = null)
{
    public static readonly HealthResult Healthy = new(true);
    public static HealthResult Unhealthy(string description) => new(false, description);
}
