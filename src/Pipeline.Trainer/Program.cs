using Pipeline.Artifacts;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Storage;
using Pipeline.Trainer;
using Pipeline.Vision;

// libtorch's buffers on jemalloc (re-executes with it preloaded where installed), else on tuned glibc.
NativeAllocator.Use();
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddArtifactStore();
var replica = builder.Configuration["PIPELINE_REPLICA_INDEX"] ?? "0";
builder.AddPipelineBus(bus =>
{
    // One job at a time per replica: training uses every core (or the GPU) it has.
    // Jobs to lead and invitations to join a job's group share the queue and its limit, so only idle replicas join.
    bus.AddConsumer<DatasetPreparedConsumer>().Endpoint(e =>
    {
        e.Name = "trainer";
        e.ConcurrentMessageLimit = 1;
    });
    bus.AddConsumer<JoinTrainingGroupConsumer>().Endpoint(e =>
    {
        e.Name = "trainer";
        e.ConcurrentMessageLimit = 1;
    });
    // Every replica hears stop requests on a queue of its own.
    bus.AddConsumer<JobStopConsumer>().Endpoint(e =>
    {
        e.InstanceId = $"{Environment.MachineName}-{replica}";
        e.Temporary = true;
    });
});
builder.Services.AddSingleton<JobArtifacts>();
builder.Services.AddSingleton<JobControl>();
builder.Services.AddSingleton<RankRun>();
builder.Services.AddSingleton<TrainerMetrics>();

var app = builder.Build();
app.Services.GetRequiredService<TrainerMetrics>(); // its gauges (GPUs included) exist before the first scrape
app.MapDefaultEndpoints();
await app.RunAsync().ConfigureAwait(false);
