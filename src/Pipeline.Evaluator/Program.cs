using Pipeline.Artifacts;
using Pipeline.Evaluator;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Storage;

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

var app = builder.Build();
app.MapDefaultEndpoints();
await app.RunAsync().ConfigureAwait(false);
