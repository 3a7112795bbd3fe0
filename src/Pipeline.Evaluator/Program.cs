using Pipeline.Artifacts;
using Pipeline.Evaluator;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Security;
using Pipeline.ServiceDefaults.Storage;
using Pipeline.Vision;

// libtorch's buffers on jemalloc (re-executes with it preloaded where installed), else on tuned glibc.
NativeAllocator.Use();
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddArtifactStore();
builder.AddPipelineBus(bus => bus.AddConsumer<EvaluationConsumers>().Endpoint(e =>
{
    e.Name = "evaluator";
    e.ConcurrentMessageLimit = 1;
}));
builder.Services.AddSingleton<JobArtifacts>();
builder.Services.AddSingleton<ModelEvaluator>();
builder.Services.AddSingleton<PredictionService>();
// A bad PIPELINE_PREDICT_RUNTIME stops the service at start, naming it, not at its first prediction.
PredictionService.ParseRuntime(builder.Configuration[PredictionService.RuntimeVariable]);
builder.AddApiKey();

var app = builder.Build();
app.UseApiKey();
app.MapDefaultEndpoints();
app.MapPrediction();
await app.RunAsync().ConfigureAwait(false);
