using Microsoft.EntityFrameworkCore;

namespace Pipeline.Ingest.Registry;

public sealed class JobRegistryDbContext(DbContextOptions<JobRegistryDbContext> options) : DbContext(options)
{
    public DbSet<JobRecord> Jobs => Set<JobRecord>();
    public DbSet<JobEventRecord> Events => Set<JobEventRecord>();
    public DbSet<MetricRecord> Metrics => Set<MetricRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<JobRecord>(job =>
        {
            job.HasKey(j => j.Id);
            job.Property(j => j.State).HasConversion<string>();
            job.HasIndex(j => j.CreatedAt);
            job.HasMany(j => j.Events).WithOne().HasForeignKey(e => e.JobId).OnDelete(DeleteBehavior.Cascade);
            job.HasMany(j => j.Metrics).WithOne().HasForeignKey(m => m.JobId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<JobEventRecord>().HasIndex(e => new { e.JobId, e.Id });
        modelBuilder.Entity<MetricRecord>().HasIndex(m => new { m.JobId, m.Name });
    }
}
