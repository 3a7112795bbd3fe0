using YamlDotNet.RepresentationModel;

namespace Pipeline.AppHost.Tests;

/// <summary><c>AppHost publish --output DIR</c>: Kubernetes manifests generated from Aspire's application model of the
/// AppHost's own graph, parsed and checked.</summary>
public sealed class KubernetesPublishTests : IDisposable
{
    private readonly string output = Directory.CreateTempSubdirectory("k8s-").FullName;

    public void Dispose() => Directory.Delete(output, recursive: true);

    [Fact]
    public async Task The_Kubernetes_manifests_generated_from_Aspires_model_parse_and_reference_every_resource_of_the_graph()
    {
        var stdout = await AppHostCommand.RunAsync("publish", "--output", output, "--registry", "registry.example/team", "--tag", "v1");
        Assert.Contains("Kubernetes manifests", stdout, StringComparison.Ordinal);

        var documents = Directory.GetFiles(output, "*.yaml").SelectMany(file =>
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(file);
            stream.Load(reader);
            return stream.Documents.Select(d => (File: Path.GetFileName(file), Root: (YamlMappingNode)d.RootNode));
        }).ToList();
        static YamlNode At(YamlNode node, params string[] path) => path.Aggregate(node, (n, key) => ((YamlMappingNode)n)[key]);
        static string S(YamlNode node, params string[] path) => ((YamlScalarNode)At(node, path)).Value!;
        static bool Has(YamlNode node, string key) => node is YamlMappingNode m && m.Children.ContainsKey(key);
        YamlMappingNode Find(string kind, string name) =>
            documents.Single(d => S(d.Root, "kind") == kind && Has(d.Root, "metadata") && S(d.Root, "metadata", "name") == name).Root;

        // Every file is in the kustomization, so `kubectl apply -k` takes the whole graph.
        var kustomization = documents.Single(d => S(d.Root, "kind") == "Kustomization").Root;
        Assert.Equal(Directory.GetFiles(output, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(),
            ((YamlSequenceNode)kustomization["resources"]).Select(n => ((YamlScalarNode)n).Value!).Order());

        // Infrastructure: RabbitMQ and Azurite keep their data; Prometheus discovers pods by their annotations.
        Assert.Equal("rabbitmq", S(Find("Service", "rabbitmq"), "metadata", "name"));
        Assert.True(Has(At(Find("StatefulSet", "rabbitmq"), "spec"), "volumeClaimTemplates"));
        // The broker's queue depths are scraped as locally: its Prometheus plugin enabled, its pod annotated.
        Assert.Equal("[rabbitmq_prometheus].\n", S(Find("ConfigMap", "rabbitmq-plugins"), "data", "enabled_plugins"));
        var rabbitPod = At(Find("StatefulSet", "rabbitmq"), "spec", "template");
        Assert.Equal("15692", S(rabbitPod, "metadata", "annotations", "prometheus.io/port"));
        Assert.Equal("/metrics/per-object", S(rabbitPod, "metadata", "annotations", "prometheus.io/path"));
        Assert.Equal("rabbitmq-plugins", S(((YamlSequenceNode)At(rabbitPod, "spec", "volumes"))[0], "configMap", "name"));
        Assert.True(Has(At(Find("StatefulSet", "storage"), "spec"), "volumeClaimTemplates"));
        Assert.Contains("prometheus_io_scrape", S(Find("ConfigMap", "prometheus"), "data", "prometheus.yml"), StringComparison.Ordinal);
        Find("ClusterRole", "prometheus");

        var secret = (YamlMappingNode)At(Find("Secret", Pipeline.AppHost.Publishing.KubernetesPublisher.SecretName), "stringData");
        Assert.StartsWith("amqp://", S(secret, "ConnectionStrings__rabbitmq"), StringComparison.Ordinal);
        Assert.Contains("BlobEndpoint=http://storage:10000/", S(secret, "ConnectionStrings__blobs"), StringComparison.Ordinal);

        // Credentials of their own, in the Secret: the broker's user is not guest, and the blob account is not Azurite's
        // development account, whose key is published.
        Dictionary<string, YamlMappingNode> ContainerEnv(string kind, string name) =>
            ((YamlSequenceNode)At(((YamlSequenceNode)At(Find(kind, name), "spec", "template", "spec", "containers"))[0], "env"))
                .Cast<YamlMappingNode>().ToDictionary(e => S(e, "name"));
        var broker = new Uri(S(secret, "ConnectionStrings__rabbitmq"));
        Assert.Equal($"pipeline:{S(secret, "rabbitmq-password")}", broker.UserInfo);
        var rabbitEnv = ContainerEnv("StatefulSet", "rabbitmq");
        Assert.Equal("pipeline", S(rabbitEnv["RABBITMQ_DEFAULT_USER"], "value"));
        Assert.Equal("rabbitmq-password", S(rabbitEnv["RABBITMQ_DEFAULT_PASS"], "valueFrom", "secretKeyRef", "key"));
        var account = S(secret, "storage-accounts").Split(':', 2);
        Assert.Matches("^[a-z0-9]{3,24}$", account[0]);
        Assert.Equal(64, Convert.FromBase64String(account[1]).Length);
        Assert.Equal("storage-accounts", S(ContainerEnv("StatefulSet", "storage")["AZURITE_ACCOUNTS"], "valueFrom", "secretKeyRef", "key"));
        var blobConnection = S(secret, "ConnectionStrings__blobs");
        Assert.Equal($"DefaultEndpointsProtocol=http;AccountName={account[0]};AccountKey={account[1]};BlobEndpoint=http://storage:10000/{account[0]};", blobConnection);
        Assert.DoesNotContain("devstoreaccount1", blobConnection, StringComparison.Ordinal);

        foreach (var (project, kind) in new[] { ("ingest", "StatefulSet"), ("preprocess", "Deployment"), ("trainer", "StatefulSet"), ("evaluator", "Deployment") })
        {
            var workload = Find(kind, project);
            Find("Service", project);
            var template = At(workload, "spec", "template");
            Assert.Equal("true", S(template, "metadata", "annotations", "prometheus.io/scrape"));
            var container = (YamlMappingNode)((YamlSequenceNode)At(template, "spec", "containers"))[0];
            Assert.Equal($"registry.example/team/pipeline-{project}:v1", S(container, "image"));
            Assert.Equal("/health/ready", S(container, "readinessProbe", "httpGet", "path"));
            var env = ((YamlSequenceNode)container["env"]).Cast<YamlMappingNode>().ToDictionary(e => S(e, "name"));
            // Connection strings and keys come from the Secret, and the Secret has each key asked for.
            foreach (var variable in env.Values.Where(e => Has(e, "valueFrom") && Has(e["valueFrom"], "secretKeyRef")))
                Assert.True(secret.Children.ContainsKey(S(variable, "valueFrom", "secretKeyRef", "key")), $"{project}: {S(variable, "name")} names a key the Secret lacks");
            Assert.True(Has(env["ConnectionStrings__rabbitmq"], "valueFrom"));
            Assert.True(Has(env["ConnectionStrings__blobs"], "valueFrom"));
            Assert.False(env.TryGetValue("PIPELINE_API_KEY", out var key) && Has(key, "value"), $"{project} carries the API key in plain text");
        }

        // The API reaches the evaluator's Service as it reaches its process locally.
        var ingestEnv = ((YamlSequenceNode)At(((YamlSequenceNode)At(Find("StatefulSet", "ingest"), "spec", "template", "spec", "containers"))[0], "env"))
            .Cast<YamlMappingNode>().ToDictionary(e => S(e, "name"));
        Assert.Equal("http://evaluator:8080", S(ingestEnv["services__evaluator__http__0"], "value"));
        // The registry keeps its data; the trainers are a StatefulSet of two, each asking for a GPU.
        Assert.True(Has(At(Find("StatefulSet", "ingest"), "spec"), "volumeClaimTemplates"));
        var trainer = Find("StatefulSet", "trainer");
        Assert.Equal("2", S(trainer, "spec", "replicas"));
        Assert.Equal("1", S(((YamlSequenceNode)At(trainer, "spec", "template", "spec", "containers"))[0], "resources", "limits", "nvidia.com/gpu"));
    }
}
