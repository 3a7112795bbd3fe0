using Microsoft.Extensions.Configuration;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.AppHost.Hosting;

/// <summary>Erlang's port mapper as a resource of its own: left to itself, Erlang starts <c>epmd -daemon</c>, which
/// outlives the AppHost. This one runs in the foreground on a private port, so DCP stops it with the run.</summary>
public sealed class EpmdResource(string name, string workingDirectory) : ExecutableResource(name, "epmd", workingDirectory)
{
    public const string EndpointName = "tcp";

    public EndpointReference Endpoint => new(this, EndpointName);
}

/// <summary>Debian's RabbitMQ (<c>rabbitmq-server</c>) as an executable in a private folder of the run, with the run's
/// own user (never guest) and the <c>rabbitmq_prometheus</c> plugin for queue depths.</summary>
public sealed class RabbitMQServerResource(string name, string dataDirectory, ParameterResource userName, ParameterResource password)
    : ExecutableResource(name, ServerScript, dataDirectory), IResourceWithConnectionString
{
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    public const string PrimaryEndpointName = "tcp";
    public const string MetricsEndpointName = "metrics";
    public const string DistributionEndpointName = "dist";

    /// <summary>The rabbitmq_prometheus plugin's per-object page: each queue's depth is a series of its own.</summary>
    public const string MetricsPath = "/metrics/per-object";

    public string DataDirectory { get; } = dataDirectory;
    public ParameterResource UserNameParameter { get; } = userName;
    public ParameterResource PasswordParameter { get; } = password;
    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);
    public EndpointReference MetricsEndpoint => new(this, MetricsEndpointName);

    /// <summary>Loopback by address: the broker listens on 127.0.0.1 only, and "localhost" may resolve to ::1 first.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"amqp://{UserNameParameter}:{PasswordParameter}@127.0.0.1:{PrimaryEndpoint.Property(EndpointProperty.Port)}/");

    /// <summary>Stable for a data folder (so --keep-data finds its Mnesia database again), unique across folders.</summary>
    public static string NodeName(string dataDirectory)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory)));
        return $"pipeline-{Convert.ToHexStringLower(hash)[..10]}@localhost";
    }

    /// <summary>The broker's private configuration (new-style <c>.conf</c>).</summary>
    public static string ConfigFile(string dataDirectory) => Path.Combine(dataDirectory, "rabbitmq.conf");
}

public static class RabbitMQBuilderExtensions
{
    /// <summary>
    /// Adds <c>epmd</c> and a RabbitMQ broker that uses it, both run from Debian's packages in <c>run</c>'s folder, or,
    /// when configuration has <c>ConnectionStrings:{name}</c>, that broker instead (nothing is started then).
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddPipelineRabbitMQ(this IDistributedApplicationBuilder builder, string name, PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(run);
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString(name)))
        {
            return builder.AddConnectionString(name);
        }
        return builder.AddRabbitMQServer(name, run);
    }

    public static IResourceBuilder<RabbitMQServerResource> AddRabbitMQServer(this IDistributedApplicationBuilder builder, string name, PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(run);
        var data = Path.Combine(run.Directory, name);
        var publishing = builder.ExecutionContext.IsPublishMode;

        // The broker's only user, generated for the data folder and kept there: RabbitMQ creates its default user only
        // with a new database. Publishing leaves them to the deployment (parameters without values).
        IResourceBuilder<ParameterResource> user, password;
        (string User, string Password)? credentials = null;
        if (publishing)
        {
            user = builder.AddParameter($"{name}-username");
            password = builder.AddParameter($"{name}-password", secret: true);
        }
        else
        {
            var secrets = ResourceSecrets.LoadOrCreate(data, () => new() { ["user"] = "pipeline", ["password"] = ResourceSecrets.RandomHex(24) });
            var mnesia = Path.Combine(data, "mnesia");
            if (secrets.Created && Directory.Exists(mnesia) && Directory.EnumerateFileSystemEntries(mnesia).Any())
            {
                throw new InvalidOperationException(
                    $"RabbitMQ's database {mnesia} was created without the credentials kept in {secrets.FilePath}: delete {mnesia} (its queued messages are lost) or use a new run folder.");
            }
            credentials = (secrets["user"], secrets["password"]);
            user = builder.AddParameter($"{name}-username", secrets["user"]);
            password = builder.AddParameter($"{name}-password", secrets["password"], secret: true);
        }

        var epmdPort = FreePort.Next();
        var epmd = builder.AddResource(new EpmdResource($"{name}-epmd", data))
            .WithArgs("-port", epmdPort.ToString(CultureInfo.InvariantCulture), "-address", "127.0.0.1")
            .WithEndpoint(EpmdResource.EndpointName, e => FreePort.Fix(e, epmdPort, "tcp"));
        var epmdCheck = $"{name}-epmd-tcp";
        builder.Services.AddHealthChecks().Add(new(epmdCheck, _ => new TcpConnectCheck(() => epmdPort), failureStatus: null, tags: null));
        epmd.WithHealthCheck(epmdCheck);

        var amqp = FreePort.Next();
        var metrics = FreePort.Next();
        // Fixed and on loopback: by default Erlang takes AMQP port + 20000 (which can pass 65535) on every interface.
        var dist = FreePort.Next();
        var resource = new RabbitMQServerResource(name, data, user.Resource, password.Resource);
        var rabbit = builder.AddResource(resource)
            .WithEndpoint(RabbitMQServerResource.PrimaryEndpointName, e => FreePort.Fix(e, amqp, "amqp"))
            .WithEndpoint(RabbitMQServerResource.MetricsEndpointName, e => FreePort.Fix(e, metrics, "http"))
            .WithEndpoint(RabbitMQServerResource.DistributionEndpointName, e => FreePort.Fix(e, dist, "tcp"))
            .WithEnvironment("RABBITMQ_NODENAME", RabbitMQServerResource.NodeName(data))
            .WithEnvironment("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .WithEnvironment("RABBITMQ_NODE_PORT", amqp.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_DIST_PORT", dist.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("ERL_EPMD_PORT", epmdPort.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("ERL_EPMD_ADDRESS", "127.0.0.1")
            // epmd is ours (above); distribution on loopback only.
            .WithEnvironment("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}")
            // Every other Erlang VM the broker starts (rabbit's epmd check runs `erl` when it loses its epmd, as when DCP
            // stops epmd first at the end of a run) must not start `epmd -daemon` either: it would outlive the run.
            .WithEnvironment("ERL_FLAGS", "-start_epmd false")
            .WithEnvironment("RABBITMQ_MNESIA_BASE", Path.Combine(data, "mnesia"))
            .WithEnvironment("RABBITMQ_LOG_BASE", Path.Combine(data, "log"))
            .WithEnvironment("RABBITMQ_LOGS", "-") // to stdout: the dashboard's console log
            .WithEnvironment("RABBITMQ_ENABLED_PLUGINS_FILE", Path.Combine(data, "enabled_plugins"))
            .WithEnvironment("RABBITMQ_PID_FILE", Path.Combine(data, "rabbitmq.pid"))
            .WithEnvironment("RABBITMQ_CONFIG_FILE", RabbitMQServerResource.ConfigFile(data))
            .WithEnvironment("HOME", Path.Combine(data, "home")) // the Erlang cookie is written here: private
            // Makes the script exec the Erlang VM instead of staying as a shell, so the process DCP stops is beam.smp
            // itself and SIGTERM stops the broker gracefully.
            .WithEnvironment("RUNNING_UNDER_SYSTEMD", "true")
            .WithReferenceRelationship(epmd)
            .WaitFor(epmd);

        var check = $"{name}-amqp";
        builder.Services.AddHealthChecks().Add(new(check, _ => new AmqpHandshakeCheck(() => amqp), failureStatus: null, tags: null));
        rabbit.WithHealthCheck(check);

        if (credentials is var (userName, secret))
        {
            WriteConfiguration(data, metrics, userName, secret);
        }
        return rabbit;
    }

    private static void WriteConfiguration(string data, int metricsPort, string user, string password)
    {
        foreach (var dir in (string[])["home", "mnesia", "log"])
        {
            Directory.CreateDirectory(Path.Combine(data, dir));
        }
        // Only the Prometheus endpoint (queue depths; ~0.7 s more per start): the management UI would add seconds.
        File.WriteAllText(Path.Combine(data, "enabled_plugins"), "[rabbitmq_prometheus].\n");
        // A trainer holds its job's message unacknowledged for the whole run, so that a crash redelivers it; the
        // broker's default 30-minute consumer timeout would redeliver a long run while it is still training. The
        // default user replaces guest; the file is the owner's alone: it holds the password.
        var config = RabbitMQServerResource.ConfigFile(data);
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $"""
            consumer_timeout = 86400000
            prometheus.tcp.ip = 127.0.0.1
            prometheus.tcp.port = {metricsPort}
            default_user = {user}
            default_pass = {password}

            """));
        ResourceSecrets.RestrictToOwner(config);
    }
}
