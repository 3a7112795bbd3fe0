using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Pipeline.AppHost.Hosting;
using YamlDotNet.Serialization;

namespace Pipeline.AppHost.Publishing;

/// <summary>What <c>publish</c> was asked for: where to write, and how to name images and reach blob storage.</summary>
public sealed record PublishOptions(string OutputDirectory, string Registry = "pipeline", string Tag = "latest", string? BlobConnectionString = null);

/// <summary>A project that runs one GPU per replica (the trainers): a StatefulSet requesting <c>nvidia.com/gpu</c>.</summary>
public sealed class GpuAnnotation : IResourceAnnotation;

/// <summary>A project whose data folder must outlive its pod (the job registry): a StatefulSet with a volume claim.</summary>
public sealed class PersistentDataAnnotation : IResourceAnnotation;

/// <summary>
/// Writes Kubernetes manifests for the graph the AppHost runs locally, read from Aspire's
/// <see cref="DistributedApplicationModel"/> (Aspire's own Kubernetes publisher is not served here): projects as
/// Deployments (StatefulSets when they keep data or use GPUs, the latter requesting <c>nvidia.com/gpu</c>), each with a
/// Service, health probes and Prometheus scrape annotations; RabbitMQ and Azurite as StatefulSets; Prometheus with pod
/// discovery; connection strings and keys in one Secret. References become the variables Aspire sets locally
/// (<c>ConnectionStrings__*</c>, <c>services__*</c>), pointing at the cluster's Services.
/// </summary>
public static class KubernetesPublisher
{
    public const string SecretName = "pipeline-secrets";
    public const int ProjectPort = 8080;
    public const string ReadinessPath = "/health/ready";
    private const int RabbitPort = 5672, RabbitMetricsPort = 15692, BlobPort = 10000, PrometheusPort = 9090;

    /// <summary>Variables that only mean something on the machine of a local run (its folders, DCP's templates).</summary>
    private static readonly HashSet<string> LocalOnly = new(StringComparer.Ordinal)
    {
        "PIPELINE_DATA_DIR", "PIPELINE_REPLICA_INDEX", "CUDA_VISIBLE_DEVICES", "ASPNETCORE_URLS", "HTTP_PORTS", "PIPELINE_DATASET_ROOTS",
    };

    /// <summary>Writes one file per resource (and <c>secrets.yaml</c>, <c>kustomization.yaml</c>); returns the files.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(DistributedApplicationModel model, DistributedApplicationExecutionContext context, PublishOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.OutputDirectory);
        var secrets = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var files = new List<string>();
        // Quoted where YAML would read a string as a number or boolean: Kubernetes wants strings for env values and annotations.
        var serializer = new SerializerBuilder().DisableAliases().WithQuotingNecessaryStrings().Build();

        void Save(string name, IEnumerable<object> documents)
        {
            var path = Path.Combine(options.OutputDirectory, name + ".yaml");
            File.WriteAllText(path, string.Join("---\n", documents.Select(serializer.Serialize)));
            files.Add(path);
        }

        // Each Azurite gets an account of its own (name and key in the Secret), never the published development key.
        var accounts = new Dictionary<AzuriteResource, (string Name, string Key)>();
        (string Name, string Key) Account(AzuriteResource azurite)
        {
            if (!accounts.TryGetValue(azurite, out var account))
            {
                account = ("pipeline" + ResourceSecrets.RandomHex(4), ResourceSecrets.RandomBase64Key());
                accounts[azurite] = account;
                secrets[$"{azurite.Name}-accounts"] = $"{account.Name}:{account.Key}";
            }
            return account;
        }

        foreach (var resource in model.Resources)
        {
            switch (resource)
            {
                case RabbitMQServerResource rabbit:
                    secrets[$"{rabbit.Name}-password"] = ResourceSecrets.RandomHex(12);
                    secrets[$"ConnectionStrings__{rabbit.Name}"] = $"amqp://pipeline:{secrets[$"{rabbit.Name}-password"]}@{rabbit.Name}:{RabbitPort}/";
                    Save(rabbit.Name, RabbitMQ(rabbit));
                    break;
                case AzuriteResource azurite:
                    Account(azurite);
                    Save(azurite.Name, [Service(azurite.Name, BlobPort), StatefulSet(azurite.Name, 1, Container(azurite.Name, "mcr.microsoft.com/azure-storage/azurite", BlobPort,
                        command: ["azurite-blob", "--blobHost", "0.0.0.0", "--blobPort", BlobPort.ToString(CultureInfo.InvariantCulture), "--location", "/data"],
                        env: [SecretEnv("AZURITE_ACCOUNTS", $"{azurite.Name}-accounts")],
                        mounts: [Mount("data", "/data")]), volumeClaim: "data")]);
                    break;
                case AzuriteBlobsResource blobs:
                    // A real Azure Storage account when given; otherwise the cluster's own Azurite, with its account.
                    var (account, key) = Account(blobs.Parent);
                    secrets[$"ConnectionStrings__{blobs.Name}"] = options.BlobConnectionString ??
                        $"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint=http://{blobs.Parent.Name}:{BlobPort}/{account};";
                    break;
                case PrometheusResource prometheus:
                    Save(prometheus.Name, Prometheus(prometheus.Name));
                    break;
                case ProjectResource project:
                    Save(project.Name, await ProjectAsync(project, context, options, secrets, cancellationToken));
                    break;
            }
        }
        Save("secrets", [new Dictionary<string, object>
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = Metadata(SecretName),
            ["type"] = "Opaque",
            ["stringData"] = secrets,
        }]);
        var kustomization = Path.Combine(options.OutputDirectory, "kustomization.yaml");
        File.WriteAllText(kustomization, serializer.Serialize(new Dictionary<string, object>
        {
            ["apiVersion"] = "kustomize.config.k8s.io/v1beta1",
            ["kind"] = "Kustomization",
            ["resources"] = files.Select(Path.GetFileName).ToList(),
        }));
        files.Add(kustomization);
        return files;
    }

    private static async Task<IEnumerable<object>> ProjectAsync(ProjectResource project, DistributedApplicationExecutionContext context, PublishOptions options, IDictionary<string, string> secrets, CancellationToken cancellationToken)
    {
        var usesGpu = project.Annotations.OfType<GpuAnnotation>().Any();
        var keepsData = project.Annotations.OfType<PersistentDataAnnotation>().Any();
        var env = new List<object>
        {
            Env("ASPNETCORE_URLS", $"http://+:{ProjectPort}"),
            Env("OTEL_SERVICE_NAME", project.Name),
            Env("PIPELINE_DATA_DIR", "/data"),
        };
        // WithReference records a reference relationship: connection strings come from the Secret, projects by Service.
        foreach (var reference in project.Annotations.OfType<ResourceRelationshipAnnotation>().Where(r => r.Type == "Reference").Select(r => r.Resource).Distinct())
        {
            if (reference is IResourceWithConnectionString)
            {
                env.Add(SecretEnv($"ConnectionStrings__{reference.Name}", $"ConnectionStrings__{reference.Name}"));
            }
            else if (reference is ProjectResource target)
            {
                env.Add(Env($"services__{target.Name}__http__0", $"http://{target.Name}:{ProjectPort}"));
            }
        }
        // The pipeline's own settings (plain values) from the project's environment callbacks, as they are when publishing.
        var variables = new Dictionary<string, object>(StringComparer.Ordinal);
        var callbackContext = new EnvironmentCallbackContext(context, project, variables, cancellationToken);
        foreach (var callback in project.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(callbackContext);
        }
        foreach (var (name, value) in variables.Where(v => v.Key.StartsWith("PIPELINE_", StringComparison.Ordinal) && !LocalOnly.Contains(v.Key))
            .Select(v => (v.Key, Value: v.Value as string)).Where(v => v.Value is not null).Select(v => (v.Key, v.Value!)))
        {
            // Keys and passwords go to the Secret, never into the Deployment.
            if (IsSecret(name))
            {
                secrets[name] = value;
                env.Add(SecretEnv(name, name));
            }
            else
            {
                env.Add(Env(name, value));
            }
        }
        if (usesGpu)
        {
            // Group members reach each other's stores at their pod addresses; the pod's ordinal is the replica index.
            env.Add(new Dictionary<string, object> { ["name"] = "PIPELINE_TRAINER_ADDRESS", ["valueFrom"] = new Dictionary<string, object> { ["fieldRef"] = new Dictionary<string, object> { ["fieldPath"] = "status.podIP" } } });
            env.Add(new Dictionary<string, object> { ["name"] = "PIPELINE_REPLICA_INDEX", ["valueFrom"] = new Dictionary<string, object> { ["fieldRef"] = new Dictionary<string, object> { ["fieldPath"] = "metadata.labels['apps.kubernetes.io/pod-index']" } } });
        }
        var container = Container(project.Name, $"{options.Registry}/pipeline-{project.Name}:{options.Tag}", ProjectPort, env: env, mounts: [Mount("data", "/data")]);
        container["readinessProbe"] = Probe(ReadinessPath);
        container["livenessProbe"] = Probe("/health/live");
        if (usesGpu)
        {
            container["resources"] = new Dictionary<string, object> { ["limits"] = new Dictionary<string, object> { ["nvidia.com/gpu"] = 1 } };
        }
        var scrape = Scrape(ProjectPort, "/metrics");
        var replicas = project.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1;
        var workload = usesGpu || keepsData
            ? StatefulSet(project.Name, replicas, container, volumeClaim: keepsData ? "data" : null, podAnnotations: scrape, emptyDataVolume: !keepsData)
            : Deployment(project.Name, replicas, container, scrape);
        return [Service(project.Name, ProjectPort), workload];
    }

    /// <summary>The broker with its Prometheus plugin enabled (queue depths, scraped per object as locally).</summary>
    private static IEnumerable<object> RabbitMQ(RabbitMQServerResource rabbit)
    {
        var plugins = rabbit.Name + "-plugins";
        var container = Container(rabbit.Name, "rabbitmq:3.12", RabbitPort,
            env: [Env("RABBITMQ_DEFAULT_USER", "pipeline"), SecretEnv("RABBITMQ_DEFAULT_PASS", $"{rabbit.Name}-password")],
            mounts: [Mount("data", "/var/lib/rabbitmq"), new Dictionary<string, object> { ["name"] = "plugins", ["mountPath"] = "/etc/rabbitmq/enabled_plugins", ["subPath"] = "enabled_plugins" }]);
        ((List<object>)container["ports"]).Add(new Dictionary<string, object> { ["containerPort"] = RabbitMetricsPort });
        var statefulSet = StatefulSet(rabbit.Name, 1, container, volumeClaim: "data", podAnnotations: Scrape(RabbitMetricsPort, RabbitMQServerResource.MetricsPath));
        PodSpec(statefulSet)["volumes"] = new List<object> { new Dictionary<string, object> { ["name"] = "plugins", ["configMap"] = new Dictionary<string, object> { ["name"] = plugins } } };
        return
        [
            new Dictionary<string, object> { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = Metadata(plugins), ["data"] = new Dictionary<string, object> { ["enabled_plugins"] = "[rabbitmq_prometheus].\n" } },
            Service(rabbit.Name, RabbitPort),
            statefulSet,
        ];
    }

    /// <summary>The pod spec of a Deployment or StatefulSet built here (spec.template.spec).</summary>
    private static Dictionary<string, object> PodSpec(Dictionary<string, object> workload) =>
        (Dictionary<string, object>)((Dictionary<string, object>)((Dictionary<string, object>)workload["spec"])["template"])["spec"];

    private static Dictionary<string, string> Scrape(int port, string path) => new()
    {
        ["prometheus.io/scrape"] = "true",
        ["prometheus.io/port"] = port.ToString(CultureInfo.InvariantCulture),
        ["prometheus.io/path"] = path,
    };

    private static bool IsSecret(string name) =>
        new[] { "KEY", "SECRET", "PASSWORD", "TOKEN" }.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<object> Prometheus(string name)
    {
        var config = """
            global:
              scrape_interval: 5s
            scrape_configs:
              - job_name: pipeline
                kubernetes_sd_configs:
                  - role: pod
                relabel_configs:
                  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
                    action: keep
                    regex: "true"
                  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
                    action: replace
                    regex: ([^:]+)(?::\d+)?;(\d+)
                    replacement: $1:$2
                    target_label: __address__
                  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
                    action: replace
                    regex: (.+)
                    target_label: __metrics_path__
                  - source_labels: [__meta_kubernetes_pod_name]
                    target_label: instance
            """;
        var container = Container(name, "prom/prometheus", PrometheusPort, args: ["--config.file=/etc/prometheus/prometheus.yml"], mounts: [Mount("config", "/etc/prometheus")]);
        var deployment = Deployment(name, 1, container, null);
        var pod = PodSpec(deployment);
        pod["serviceAccountName"] = name;
        pod["volumes"] = new List<object> { new Dictionary<string, object> { ["name"] = "config", ["configMap"] = new Dictionary<string, object> { ["name"] = name } } };
        return
        [
            new Dictionary<string, object> { ["apiVersion"] = "v1", ["kind"] = "ServiceAccount", ["metadata"] = Metadata(name) },
            new Dictionary<string, object>
            {
                ["apiVersion"] = "rbac.authorization.k8s.io/v1",
                ["kind"] = "ClusterRole",
                ["metadata"] = Metadata(name),
                ["rules"] = new List<object> { new Dictionary<string, object> { ["apiGroups"] = new List<string> { "" }, ["resources"] = new List<string> { "pods" }, ["verbs"] = new List<string> { "get", "list", "watch" } } },
            },
            new Dictionary<string, object>
            {
                ["apiVersion"] = "rbac.authorization.k8s.io/v1",
                ["kind"] = "ClusterRoleBinding",
                ["metadata"] = Metadata(name),
                ["roleRef"] = new Dictionary<string, object> { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "ClusterRole", ["name"] = name },
                ["subjects"] = new List<object> { new Dictionary<string, object> { ["kind"] = "ServiceAccount", ["name"] = name, ["namespace"] = "default" } },
            },
            new Dictionary<string, object> { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = Metadata(name), ["data"] = new Dictionary<string, object> { ["prometheus.yml"] = config } },
            Service(name, PrometheusPort),
            deployment,
        ];
    }

    private static Dictionary<string, object> Metadata(string name, IDictionary<string, string>? annotations = null)
    {
        var metadata = new Dictionary<string, object> { ["name"] = name, ["labels"] = Labels(name) };
        if (annotations is not null) metadata["annotations"] = annotations;
        return metadata;
    }

    private static Dictionary<string, string> Labels(string name) => new() { ["app.kubernetes.io/name"] = name, ["app.kubernetes.io/part-of"] = "pipeline" };

    private static Dictionary<string, object> Service(string name, int port) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = Metadata(name),
        ["spec"] = new Dictionary<string, object>
        {
            ["selector"] = Labels(name),
            ["ports"] = new List<object> { new Dictionary<string, object> { ["name"] = "main", ["port"] = port, ["targetPort"] = port } },
        },
    };

    private static Dictionary<string, object> Deployment(string name, int replicas, Dictionary<string, object> container, IDictionary<string, string>? podAnnotations)
    {
        var pod = new Dictionary<string, object> { ["containers"] = new List<object> { container } };
        if (container.ContainsKey("volumeMounts") && ((List<object>)container["volumeMounts"]).Any(m => ((Dictionary<string, object>)m)["name"] is "data"))
            pod["volumes"] = new List<object> { new Dictionary<string, object> { ["name"] = "data", ["emptyDir"] = new Dictionary<string, object>() } };
        return new()
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["metadata"] = Metadata(name),
            ["spec"] = new Dictionary<string, object>
            {
                ["replicas"] = replicas,
                ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Labels(name) },
                ["template"] = new Dictionary<string, object> { ["metadata"] = Metadata(name, podAnnotations), ["spec"] = pod },
            },
        };
    }

    private static Dictionary<string, object> StatefulSet(string name, int replicas, Dictionary<string, object> container, string? volumeClaim,
        IDictionary<string, string>? podAnnotations = null, bool emptyDataVolume = false)
    {
        var pod = new Dictionary<string, object> { ["containers"] = new List<object> { container } };
        if (emptyDataVolume) pod["volumes"] = new List<object> { new Dictionary<string, object> { ["name"] = "data", ["emptyDir"] = new Dictionary<string, object>() } };
        var spec = new Dictionary<string, object>
        {
            ["serviceName"] = name,
            ["replicas"] = replicas,
            ["selector"] = new Dictionary<string, object> { ["matchLabels"] = Labels(name) },
            ["template"] = new Dictionary<string, object> { ["metadata"] = Metadata(name, podAnnotations), ["spec"] = pod },
        };
        if (volumeClaim is not null)
        {
            spec["volumeClaimTemplates"] = new List<object>
            {
                new Dictionary<string, object>
                {
                    ["metadata"] = new Dictionary<string, object> { ["name"] = volumeClaim },
                    ["spec"] = new Dictionary<string, object>
                    {
                        ["accessModes"] = new List<string> { "ReadWriteOnce" },
                        ["resources"] = new Dictionary<string, object> { ["requests"] = new Dictionary<string, object> { ["storage"] = "10Gi" } },
                    },
                },
            };
        }
        return new() { ["apiVersion"] = "apps/v1", ["kind"] = "StatefulSet", ["metadata"] = Metadata(name), ["spec"] = spec };
    }

    private static Dictionary<string, object> Container(string name, string image, int port, IReadOnlyList<string>? command = null, IReadOnlyList<string>? args = null,
        IReadOnlyList<object>? env = null, IReadOnlyList<object>? mounts = null)
    {
        var container = new Dictionary<string, object>
        {
            ["name"] = name,
            ["image"] = image,
            ["ports"] = new List<object> { new Dictionary<string, object> { ["containerPort"] = port } },
        };
        if (command is not null) container["command"] = command.ToList();
        if (args is not null) container["args"] = args.ToList();
        if (env is { Count: > 0 }) container["env"] = env.ToList();
        if (mounts is { Count: > 0 }) container["volumeMounts"] = mounts.ToList();
        return container;
    }

    private static Dictionary<string, object> Env(string name, string value) => new() { ["name"] = name, ["value"] = value };

    private static Dictionary<string, object> SecretEnv(string name, string key) => new()
    {
        ["name"] = name,
        ["valueFrom"] = new Dictionary<string, object> { ["secretKeyRef"] = new Dictionary<string, object> { ["name"] = SecretName, ["key"] = key } },
    };

    private static Dictionary<string, object> Mount(string name, string path) => new() { ["name"] = name, ["mountPath"] = path };

    private static Dictionary<string, object> Probe(string path) => new()
    {
        ["httpGet"] = new Dictionary<string, object> { ["path"] = path, ["port"] = ProjectPort },
        ["periodSeconds"] = 10,
    };
}
