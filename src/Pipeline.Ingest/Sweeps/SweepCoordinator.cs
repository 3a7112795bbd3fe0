using MassTransit;
using Pipeline.Contracts.V1;

namespace Pipeline.Ingest.Sweeps;

/// <summary>
/// The <c>sweeps</c> queue: follows the trials' jobs. A validation result moves the trial's curve and, at an ASHA rung,
/// may stop it: the stop goes to the trainers over the bus as any early stop does (<see cref="StopTrainingEarly"/>, its
/// reason starting "ASHA"), so the trial ends with its best model evaluated. A trial's job ending may end the sweep.
/// Events of jobs that belong to no sweep are ignored.
/// </summary>
public sealed class SweepCoordinator(SweepRegistry sweeps) : IConsumer<EvaluationCompleted>, IConsumer<JobStatusChanged>
{
    public async Task Consume(ConsumeContext<EvaluationCompleted> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var e = context.Message;
        if (e.Split == "test")
        {
            await sweeps.OnTestAsync(e.JobId, e.Metrics, context.CancellationToken).ConfigureAwait(false);
            return;
        }
        if (e.Split != "val") return;
        if (await sweeps.OnValidationAsync(e.JobId, e.Epoch, e.Metrics, context.CancellationToken).ConfigureAwait(false) is { } stop)
            await context.Publish(new StopTrainingEarly(stop.JobId, stop.BestEpoch, stop.Reason), context.CancellationToken).ConfigureAwait(false);
    }

    // A trial that ends makes room for the next one.
    public async Task Consume(ConsumeContext<JobStatusChanged> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var change = context.Message;
        if (await sweeps.OnJobStateAsync(change.JobId, change.State, change.Reason, context.CancellationToken).ConfigureAwait(false) is { } sweep)
            await sweeps.SubmitDueTrialsAsync(sweep, s => context.Publish(s, context.CancellationToken), context.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Once the service has started (its bus too), submits the trials that are due in every running sweep: a sweep whose
/// submissions did not all go out before the service stopped (or that waited on an end the service missed) carries on.
/// </summary>
public sealed class SweepResumer(SweepRegistry sweeps, IBus bus, IHostApplicationLifetime lifetime, ILogger<SweepResumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        await using (lifetime.ApplicationStarted.Register(started.SetResult))
            await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        foreach (var sweep in await sweeps.RunningAsync(stoppingToken).ConfigureAwait(false))
        {
            logger.LogInformation("Sweep {SweepId} is running: submitting its due trials", sweep);
            await sweeps.SubmitDueTrialsAsync(sweep, s => bus.Publish(s, stoppingToken), stoppingToken).ConfigureAwait(false);
        }
    }
}
