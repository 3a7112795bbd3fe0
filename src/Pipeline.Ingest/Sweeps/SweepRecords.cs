using Microsoft.EntityFrameworkCore;
using Pipeline.Contracts.V1;

namespace Pipeline.Ingest.Sweeps;

public enum SweepState { Running, Succeeded, Failed, Cancelled }

/// <summary>A sweep as the registry keeps it: its plan and where it stands. Times are UTC.</summary>
public sealed class SweepRecord
{
    public Guid Id { get; set; }
    public SweepState State { get; set; }
    public string Task { get; set; } = "classify";
    public string Source { get; set; } = "";
    public string? Format { get; set; }
    /// <summary>Trainers per trial (its data-parallel group).</summary>
    public int Trainers { get; set; } = 1;
    /// <summary>The most trials in progress at once; the next is submitted when one ends.</summary>
    public int Parallel { get; set; } = 1;
    public string SweepYaml { get; set; } = "";
    public string Metric { get; set; } = "accuracy";
    public string Mode { get; set; } = "max";
    public string Search { get; set; } = "random";
    /// <summary>The searched recipe keys, in the sweep file's order, as a JSON list.</summary>
    public string KeysJson { get; set; } = "[]";
    public int? AshaMinEpochs { get; set; }
    public int? AshaReduction { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public string? Reason { get; set; }
    public int? BestTrial { get; set; }
    public List<SweepTrialRecord> Trials { get; set; } = [];
    public List<SweepEventRecord> Events { get; set; } = [];
}

/// <summary>One trial: an ordinary job with its own recipe, and what the sweep learnt of it.</summary>
public sealed class SweepTrialRecord
{
    public long Id { get; set; }
    public Guid SweepId { get; set; }
    public int Number { get; set; }
    public Guid JobId { get; set; }
    public string ValuesJson { get; set; } = "{}";
    public string RecipeJson { get; set; } = "{}";
    public int Epochs { get; set; }
    public JobState State { get; set; }
    /// <summary>Its submission has been published (the trials beyond the sweep's parallel wait, their jobs Submitted).</summary>
    public bool Published { get; set; }
    public int EpochsDone { get; set; }
    public double? BestValue { get; set; }
    public int? BestEpoch { get; set; }
    /// <summary>ASHA stopped it (<see cref="StopReason"/> says at which rung and why).</summary>
    public bool StoppedEarly { get; set; }
    public string? StopReason { get; set; }
    /// <summary>The validation metric per epoch, as a JSON list of [epoch, value].</summary>
    public string CurveJson { get; set; } = "[]";
    public string? TestJson { get; set; }
}

/// <summary>A trial's validation value at an ASHA rung: what later trials at the same rung are ranked against.</summary>
public sealed class SweepRungRecord
{
    public long Id { get; set; }
    public Guid SweepId { get; set; }
    public Guid JobId { get; set; }
    public int Epoch { get; set; }
    public double Value { get; set; }
    public bool Continued { get; set; }
}

/// <summary>One line of a sweep's history, in words.</summary>
public sealed class SweepEventRecord
{
    public long Id { get; set; }
    public Guid SweepId { get; set; }
    public DateTime At { get; set; }
    public string Kind { get; set; } = "";
    public string Text { get; set; } = "";
}

/// <summary>Sweeps in their own SQLite file beside the jobs', so that neither schema has to migrate the other's.</summary>
public sealed class SweepRegistryDbContext(DbContextOptions<SweepRegistryDbContext> options) : DbContext(options)
{
    public DbSet<SweepRecord> Sweeps => Set<SweepRecord>();
    public DbSet<SweepTrialRecord> Trials => Set<SweepTrialRecord>();
    public DbSet<SweepRungRecord> Rungs => Set<SweepRungRecord>();
    public DbSet<SweepEventRecord> Events => Set<SweepEventRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<SweepRecord>(sweep =>
        {
            sweep.HasKey(s => s.Id);
            sweep.Property(s => s.State).HasConversion<string>();
            sweep.HasIndex(s => s.CreatedAt);
            sweep.HasMany(s => s.Trials).WithOne().HasForeignKey(t => t.SweepId).OnDelete(DeleteBehavior.Cascade);
            sweep.HasMany(s => s.Events).WithOne().HasForeignKey(e => e.SweepId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<SweepTrialRecord>(trial =>
        {
            trial.Property(t => t.State).HasConversion<string>();
            trial.HasIndex(t => t.JobId).IsUnique();
        });
        // One value per trial and rung: a redelivered evaluation is judged once.
        modelBuilder.Entity<SweepRungRecord>().HasIndex(r => new { r.SweepId, r.JobId, r.Epoch }).IsUnique();
        modelBuilder.Entity<SweepEventRecord>().HasIndex(e => new { e.SweepId, e.Id });
    }
}
