using Pipeline.Contracts.V1;

namespace Pipeline.Ingest.Registry;

/// <summary>A job as the registry keeps it. Times are UTC.</summary>
public sealed class JobRecord
{
    public Guid Id { get; set; }
    public JobState State { get; set; }
    public string Task { get; set; } = "classify";
    public string Source { get; set; } = "";
    public string? Format { get; set; }
    public string RecipeYaml { get; set; } = "";
    public int Trainers { get; set; } = 1;
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public string? Reason { get; set; }
    public string? DatasetId { get; set; }
    public int? Epoch { get; set; }
    public long? Step { get; set; }
    public long? TotalSteps { get; set; }
    public string? BestCheckpoint { get; set; }
    public int? BestEpoch { get; set; }
    public List<JobEventRecord> Events { get; set; } = [];
    public List<MetricRecord> Metrics { get; set; } = [];
}

/// <summary>One event of a job's history, with its message as JSON.</summary>
public sealed class JobEventRecord
{
    public long Id { get; set; }
    public Guid JobId { get; set; }
    public DateTime At { get; set; }
    public string Kind { get; set; } = "";
    public string PayloadJson { get; set; } = "{}";
}

/// <summary>One point of a metric curve: train loss per step, validation accuracy per epoch, ...</summary>
public sealed class MetricRecord
{
    public long Id { get; set; }
    public Guid JobId { get; set; }
    public string Name { get; set; } = "";
    public string Split { get; set; } = "train";
    public int Rank { get; set; }
    public int Epoch { get; set; }
    public long Step { get; set; }
    public double Value { get; set; }
    public DateTime At { get; set; }
}
