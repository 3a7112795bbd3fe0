using Pipeline.Hosting;

// The system's resource graph. Services join it as they land, e.g.
//   builder.AddProject("ingest", "src/Pipeline.Ingest").WithReference(rabbit).WithReference(blobs).WaitFor(rabbit);
var builder = DistributedApplication.CreateBuilder(args);

builder.AddRabbitMQ("rabbitmq");
builder.AddAzurite("storage").AddBlobs("blobs");
builder.AddPrometheus("prometheus");

await builder.Build().RunAsync();

/// <summary>Named so that tests can start this graph: DistributedApplicationTestingBuilder.CreateAsync&lt;Program&gt;().</summary>
public partial class Program;
