using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.AppHost.Hosting;
using Pipeline.AppHost.Publishing;

// The system's resource graph: infrastructure first, then the services that meet through it.
var (run, builder) = PipelineRun.CreateBuilder(args);
builder.Services.AddSingleton(run);

// Each runs here unless configuration names an existing one (ConnectionStrings:rabbitmq, ConnectionStrings:blobs).
var rabbit = builder.AddPipelineRabbitMQ("rabbitmq", run);
var blobs = builder.AddPipelineBlobs("storage", "blobs", run);

// The evaluator also serves predictions; the API reaches it by reference and the key guards both.
var evaluator = builder.AddProject<Projects.Pipeline_Evaluator>("evaluator")
    .WithPipelineDefaults(rabbit, blobs)
    .WithEnvironment("PIPELINE_API_KEY", run.ApiKey);
// Classifiers served through their ONNX export in ONNX Runtime instead of TorchSharp (the evaluator checks the value).
if (builder.Configuration["PIPELINE_PREDICT_RUNTIME"] is { Length: > 0 } predictRuntime)
{
    evaluator.WithEnvironment("PIPELINE_PREDICT_RUNTIME", predictRuntime);
}

var ingest = builder.AddProject<Projects.Pipeline_Ingest>(RunReporter.IngestName)
    .WithAnnotation(new PersistentDataAnnotation())
    .WithPipelineDefaults(rabbit, blobs)
    .WithReference(evaluator)
    .WithEnvironment("PIPELINE_API_KEY", run.ApiKey)
    .WithEnvironment("PIPELINE_DATASET_ROOTS", run.DatasetRoots)
    .WithEnvironment("PIPELINE_TRAINER_REPLICAS", run.TrainerReplicas.ToString(CultureInfo.InvariantCulture))
    .WithEnvironment("PIPELINE_DATA_DIR", run.IngestDataDirectory);
if (run.UploadQuotaBytes is long quota)
{
    ingest.WithEnvironment("PIPELINE_UPLOAD_QUOTA_BYTES", quota.ToString(CultureInfo.InvariantCulture));
}

builder.AddProject<Projects.Pipeline_Preprocess>("preprocess")
    .WithPipelineDefaults(rabbit, blobs);

// The trainers: a job submitted with --trainers N trains on N of them as one data-parallel group. Each replica gets
// its index (the name of its stop queue and its rank's folder) and, on a GPU machine, one GPU round robin.
var trainerReplicas = run.TrainerReplicas;
var trainer = builder.AddProject<Projects.Pipeline_Trainer>("trainer")
    .WithPipelineDefaults(rabbit, blobs)
    .WithReplicas(trainerReplicas)
    .WithAnnotation(new GpuAnnotation())
    .WithEnvironment("PIPELINE_REPLICA_INDEX", GpuInventory.PerReplica(trainerReplicas, i => i.ToString(CultureInfo.InvariantCulture)))
    .WithEnvironment("PIPELINE_DATA_DIR", Path.Combine(run.Directory, "trainer"));
var gpus = GpuInventory.Visible();
if (gpus.Count > 0)
{
    trainer.WithEnvironment("CUDA_VISIBLE_DEVICES", GpuInventory.PerReplica(trainerReplicas, i => GpuInventory.DeviceFor(i, gpus)!));
}
if (run.DistTimeoutSeconds is string distTimeout)
{
    trainer.WithEnvironment("PIPELINE_DIST_TIMEOUT", distTimeout);
}

var prometheus = builder.AddPrometheus("prometheus", run, rabbit);

// The studio: the pipeline's own pages (jobs, curves, confusion matrices, submit). It calls the jobs API with the key
// server-side and reads queue depths and throughput from Prometheus; its link in the dashboard logs the browser in.
var studio = builder.AddProject<Projects.Pipeline_Studio>(RunReporter.StudioName)
    .WithHttpEndpoint(name: "http")
    .WithReference(ingest).WaitFor(ingest)
    .WithEnvironment("services__prometheus__http__0", prometheus.GetEndpoint(PrometheusResource.HttpEndpointName))
    .WithEnvironment("PIPELINE_API_KEY", run.ApiKey)
    .WithEnvironment("PIPELINE_STUDIO_TOKEN", run.StudioToken)
    .WithEnvironment("PIPELINE_BUNDLED_DATASETS", run.BundledDatasets)
    .WithEnvironment("ASPNETCORE_ENVIRONMENT", "Production")
    .WithEnvironment("DOTNET_ENVIRONMENT", "Production")
    .WithHttpHealthCheck("/health/ready")
    .WithUrlForEndpoint("http", url =>
    {
        url.Url = "/login?t=" + run.StudioToken;
        url.DisplayText = "Studio (log in)";
    });

// The registry's jobs in the dashboard: a "jobs" resource (with "Submit Fashion-MNIST") and one child per job whose
// state follows the registry (with "Cancel job"). Only a running system has jobs.
if (builder.ExecutionContext.IsRunMode)
{
    builder.AddTrainingJobs(TrainingJobs.ResourceName, ingest, studio, run);
}

builder.Services.AddHostedService<CrashSupervisor>();
builder.Services.AddHostedService<RunReporter>();

var app = builder.Build();
if (run.Kubernetes is { } kubernetes)
{
    var files = await KubernetesPublisher.WriteAsync(app.Services.GetRequiredService<DistributedApplicationModel>(),
        app.Services.GetRequiredService<DistributedApplicationExecutionContext>(), kubernetes);
    Console.WriteLine($"Kubernetes manifests: {files.Count} files in {kubernetes.OutputDirectory} (kubectl apply -k {kubernetes.OutputDirectory})");
    return;
}
await app.RunAsync();

/// <summary>Named so that tests can start this graph: DistributedApplicationTestingBuilder.CreateAsync&lt;Program&gt;().</summary>
public partial class Program;
