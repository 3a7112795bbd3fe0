using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Pipeline.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit on RabbitMQ from <c>ConnectionStrings__rabbitmq</c> (an amqp:// URI, as Aspire injects it): kebab-case
/// queues, retries with back-off for transient failures, faults to each queue's <c>_error</c> queue, and the bus's
/// health in /health/ready.
/// </summary>
public static class BusRegistration
{
    public const string ConnectionName = "rabbitmq";

    public static IHostApplicationBuilder AddPipelineBus(this IHostApplicationBuilder builder, Action<IBusRegistrationConfigurator>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var connection = builder.Configuration.GetConnectionString(ConnectionName);
        if (string.IsNullOrWhiteSpace(connection))
            throw new InvalidOperationException($"ConnectionStrings__{ConnectionName} is not set: run the service from the AppHost, or set it to an amqp:// URI of a RabbitMQ server");
        var broker = RabbitMqAddress.Parse(connection);

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // MassTransit would phone home with usage figures; services here have no business reaching the internet.
            bus.DisableUsageTelemetry();
            configure?.Invoke(bus);
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(broker.Host, broker.Port, broker.VirtualHost, host =>
                {
                    host.Username(broker.Username);
                    host.Password(broker.Password);
                });
                // Transient failures (a blob store hiccup, a lost connection) are retried in place with back-off;
                // what still fails lands in the queue's _error queue with its exception.
                rabbit.UseMessageRetry(retry => retry.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)));
                rabbit.ConfigureEndpoints(context);
            });
        });
        builder.Services.Configure<MassTransitHostOptions>(options =>
        {
            options.WaitUntilStarted = false;
            options.StopTimeout = TimeSpan.FromSeconds(30);
        });
        return builder;
    }
}

/// <summary>The parts of an amqp:// URI.</summary>
public sealed record RabbitMqAddress(string Host, ushort Port, string VirtualHost, string Username, string Password)
{
    public static RabbitMqAddress Parse(string connection)
    {
        // The value is never echoed: it carries the password.
        if (!Uri.TryCreate(connection, UriKind.Absolute, out var uri) || (uri.Scheme != "amqp" && uri.Scheme != "amqps"))
            throw new FormatException("ConnectionStrings__rabbitmq must be an amqp:// URI (amqp://USER:PASSWORD@HOST:PORT/)");
        // No silent guest:guest: the AppHost's broker has only the user it generated for the run.
        if (string.IsNullOrEmpty(uri.UserInfo) || !uri.UserInfo.Contains(':', StringComparison.Ordinal))
            throw new FormatException("ConnectionStrings__rabbitmq must name the broker's user and password (amqp://USER:PASSWORD@HOST:PORT/)");
        var parts = uri.UserInfo.Split(':', 2);
        var user = Uri.UnescapeDataString(parts[0]);
        var password = Uri.UnescapeDataString(parts[1]);
        var vhost = uri.AbsolutePath.Trim('/');
        return new RabbitMqAddress(uri.Host, (ushort)(uri.IsDefaultPort || uri.Port < 0 ? 5672 : uri.Port), vhost.Length == 0 ? "/" : Uri.UnescapeDataString(vhost), user, password);
    }
}
