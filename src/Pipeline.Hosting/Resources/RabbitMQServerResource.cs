using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Hosting;

/// <summary>Debian's RabbitMQ as a foreground process in a private folder of the run.</summary>
public sealed class RabbitMQServerResource : ProcessResource, IResourceWithConnectionString, IResourceWithMetrics
{
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    public RabbitMQServerResource(string name) : base(name)
    {
        Endpoints.Add(new EndpointAnnotation("tcp", "amqp"));
        Endpoints.Add(new EndpointAnnotation("metrics", "http"));
        // Erlang distribution and a private epmd: a shared epmd (4369) would couple instances.
        Endpoints.Add(new EndpointAnnotation("dist", "tcp", isInternal: true));
        Endpoints.Add(new EndpointAnnotation("epmd", "tcp", isInternal: true));
    }

    public override string TypeName => "RabbitMQ";

    /// <summary>The rabbitmq_prometheus plugin; per-object, so each queue's depth is a series of its own.</summary>
    public string MetricsEndpointName => "metrics";
    public string MetricsPath => "/metrics/per-object";

    private ResourceSecrets? secrets;

    /// <summary>The broker's only user, generated for the run folder (never guest:guest, which any local user knows).</summary>
    public string UserName => Secrets["user"];
    public string Password => Secrets["password"];

    private ResourceSecrets Secrets =>
        secrets ?? throw new InvalidOperationException($"RabbitMQ '{Name}' has no credentials yet: build the application first.");

    public override void InitializeSecrets(string dataDirectory) =>
        secrets = ResourceSecrets.LoadOrCreate(dataDirectory, () => new() { ["user"] = "pipeline", ["password"] = ResourceSecrets.RandomHex(24) });

    public string GetConnectionString() =>
        $"amqp://{Uri.EscapeDataString(UserName)}:{Uri.EscapeDataString(Password)}@127.0.0.1:{GetEndpoint("tcp").Port()}/";

    /// <summary>Stable for a data folder (so --keep-data finds its Mnesia database again), unique across folders.</summary>
    public static string NodeName(ResourceContext context) => NodeName(context.DataDirectory);

    public static string NodeName(string dataDirectory)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(dataDirectory));
        return $"pipeline-{Convert.ToHexStringLower(hash)[..10]}@localhost";
    }

    public override IEnumerable<string> RequiredFiles(ResourceContext context) => [ServerScript];

    public override Task PrepareAsync(ResourceContext context, Action<string> log, CancellationToken cancellationToken)
    {
        // RabbitMQ creates its default user only with a new database: a kept database from before credentials were
        // kept beside it has guest alone, and a password generated now would never be accepted.
        var mnesia = Path.Combine(context.DataDirectory, "mnesia");
        if (Secrets.Created && Directory.Exists(mnesia) && Directory.EnumerateFileSystemEntries(mnesia).Any())
        {
            throw new InvalidOperationException(
                $"RabbitMQ's database {mnesia} was created without the credentials kept in {Secrets.FilePath}: delete {mnesia} (its queued messages are lost) or use a new run folder.");
        }
        foreach (var dir in (string[])["home", "mnesia", "log"])
        {
            Directory.CreateDirectory(Path.Combine(context.DataDirectory, dir));
        }
        // A private plugins file with only the Prometheus endpoint (queue depths; ~0.7 s more per start): the
        // management UI would add seconds to every start.
        File.WriteAllText(Path.Combine(context.DataDirectory, "enabled_plugins"), "[rabbitmq_prometheus].\n");
        // A trainer holds its job's message unacknowledged for the whole run, so that a crash redelivers it; the
        // broker's default 30-minute consumer timeout would redeliver a long run while it is still training.
        // The default user replaces guest; it is created with the database (then kept there, as the password is in
        // secrets.json). The file is the owner's alone: it holds the password.
        var config = ConfigFile(context);
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
            consumer_timeout = 86400000
            prometheus.tcp.ip = 127.0.0.1
            prometheus.tcp.port = {GetEndpoint("metrics").Port()}
            default_user = {UserName}
            default_pass = {Password}

            """));
        ResourceSecrets.RestrictToOwner(config);
        return Task.CompletedTask;
    }

    public override ProcessLaunch GetLaunch(ResourceContext context, int replica)
    {
        string Port(string endpoint) => GetEndpoint(endpoint).Port(replica).ToString(CultureInfo.InvariantCulture);
        var data = context.DataDirectory;
        var environment = new Dictionary<string, string>
        {
            ["RABBITMQ_NODENAME"] = NodeName(context),
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port("tcp"),
            ["RABBITMQ_DIST_PORT"] = Port("dist"),
            ["ERL_EPMD_PORT"] = Port("epmd"),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            // Erlang distribution listens on every interface unless told otherwise.
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(data, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(data, "log"),
            ["RABBITMQ_LOGS"] = "-", // to stdout, where the supervisor captures it
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(data, "enabled_plugins"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(data, "rabbitmq.pid"),
            ["RABBITMQ_CONFIG_FILE"] = ConfigFile(context),
            ["HOME"] = Path.Combine(data, "home"), // the Erlang cookie is written here: private
            // Makes the script exec the Erlang VM instead of staying as a signal-forwarding shell,
            // so the supervised pid is beam.smp itself and SIGTERM stops the broker gracefully.
            ["RUNNING_UNDER_SYSTEMD"] = "true",
        };
        return new ProcessLaunch(ServerScript, [], data, environment);
    }

    /// <summary>The broker's private configuration (new-style <c>.conf</c>).</summary>
    public static string ConfigFile(ResourceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Path.Combine(context.DataDirectory, "rabbitmq.conf");
    }

    public override IHealthCheck GetHealthCheck(ResourceContext context, int replica) =>
        new AmqpHandshakeCheck(GetEndpoint("tcp").Port(replica));
}
