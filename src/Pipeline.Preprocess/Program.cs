using Pipeline.Preprocess;
using Pipeline.ServiceDefaults;
using Pipeline.ServiceDefaults.Messaging;
using Pipeline.ServiceDefaults.Storage;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddArtifactStore();
builder.AddPipelineBus(bus => bus.AddConsumer<DatasetIngestedConsumer>().Endpoint(e =>
{
    e.Name = "preprocess";
    // Decoding and splitting holds a whole dataset in memory: one at a time per replica.
    e.ConcurrentMessageLimit = 1;
}));
builder.Services.AddSingleton<DatasetPreparer>();

var app = builder.Build();
app.MapDefaultEndpoints();
await app.RunAsync().ConfigureAwait(false);
