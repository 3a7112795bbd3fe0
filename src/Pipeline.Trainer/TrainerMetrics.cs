using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Pipeline.Training.Detection;
using Pipeline.Training.Progress;

namespace Pipeline.Trainer;

/// <summary>
/// What Prometheus sees of this replica's training (meter <c>Pipeline.Trainer</c>): its own images per second and the
/// training loss while it trains a job (one series per job and rank, gone when the job ends on this replica), and the
/// utilisation and memory of the GPUs it uses, read through NVML where the machine has one.
/// </summary>
public sealed class TrainerMetrics : IDisposable
{
    public const string MeterName = "Pipeline.Trainer";

    private readonly Meter meter = new(MeterName);
    private readonly ConcurrentDictionary<(Guid Job, int Rank), Reading> readings = new();
    private readonly NvmlGpus? gpus;

    public TrainerMetrics()
    {
        meter.CreateObservableGauge("pipeline.trainer.throughput", () => readings.Select(r => Measure(r, r.Value.SamplesPerSecond)),
            unit: "{sample}/s", description: "Training images per second this replica computes (its share of its group's batch)");
        meter.CreateObservableGauge("pipeline.trainer.loss", () => readings.Select(r => Measure(r, r.Value.Loss)),
            description: "Mean training loss over the last progress window");
        meter.CreateObservableGauge("pipeline.trainer.step", () => readings.Select(r => new Measurement<long>(r.Value.Step, Tags(r.Key))),
            description: "Optimizer steps the job has taken");
        gpus = NvmlGpus.TryOpen(Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
        if (gpus is not null)
        {
            meter.CreateObservableGauge("pipeline.gpu.utilization", () => gpus.Read().Select(g => new Measurement<double>(g.Utilization, GpuTags(g))),
                unit: "1", description: "Share of the last sample period in which a kernel ran on the GPU (NVML)");
            meter.CreateObservableGauge("pipeline.gpu.memory.used", () => gpus.Read().Select(g => new Measurement<long>((long)g.MemoryUsed, GpuTags(g))),
                unit: "By", description: "GPU memory in use, all processes (NVML)");
            meter.CreateObservableGauge("pipeline.gpu.memory.total", () => gpus.Read().Select(g => new Measurement<long>((long)g.MemoryTotal, GpuTags(g))),
                unit: "By", description: "GPU memory (NVML)");
        }
    }

    /// <summary>Whether NVML found GPUs for this replica.</summary>
    public bool HasGpus => gpus is not null;

    /// <summary>Starts the series of one rank of a job; the sink it returns updates them and its disposal ends them.</summary>
    /// <param name="worldSize">ranks in the job's group: progress reports the group's throughput, a rank does its share</param>
    public JobSink Track(Guid job, int rank, int worldSize)
    {
        readings[(job, rank)] = new Reading(0, double.NaN, 0);
        return new JobSink(this, job, rank, Math.Max(1, worldSize));
    }

    public void Dispose()
    {
        meter.Dispose();
        gpus?.Dispose();
    }

    private static Measurement<double> Measure(KeyValuePair<(Guid Job, int Rank), Reading> r, double value) => new(value, Tags(r.Key));

    private static KeyValuePair<string, object?>[] Tags((Guid Job, int Rank) key) =>
        [new("job", key.Job.ToString()), new("rank", key.Rank)];

    private static KeyValuePair<string, object?>[] GpuTags(GpuReading g) => [new("gpu", g.Index), new("gpu_name", g.Name)];

    private sealed record Reading(double SamplesPerSecond, double Loss, long Step);

    /// <summary>A training sink (classifier or detector) that keeps one rank's series current.</summary>
    public sealed class JobSink : ITrainingSink, IDetectionTrainingSink, IDisposable
    {
        private readonly TrainerMetrics owner;
        private readonly (Guid, int) key;
        private readonly int worldSize;

        internal JobSink(TrainerMetrics owner, Guid job, int rank, int worldSize) => (this.owner, key, this.worldSize) = (owner, (job, rank), worldSize);

        public void OnStep(StepProgress progress)
        {
            ArgumentNullException.ThrowIfNull(progress);
            owner.readings[key] = new Reading(progress.SamplesPerSecond / worldSize, progress.Loss, progress.Step);
        }

        public void OnEpoch(EpochResult result) { }
        public void OnEpoch(DetectionEpochResult result) { }
        public void OnFinished(TrainingSummary summary) { }
        public void OnFinished(DetectionTrainingSummary summary) { }

        public void Dispose() => owner.readings.TryRemove(key, out _);
    }
}
