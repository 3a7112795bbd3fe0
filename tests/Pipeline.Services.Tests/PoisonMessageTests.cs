using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.Services.Tests;

/// <summary>A message no consumer can read lands in the queue's error queue with its exception; the service carries on.</summary>
[Collection(ServicesCollection.Name)]
public sealed class PoisonMessageTests(ServicesFixture fixture)
{
    [Fact]
    public async Task An_unreadable_submission_lands_in_the_ingest_error_queue_with_its_exception()
    {
        var factory = new ConnectionFactory { Uri = new Uri(fixture.App.GetConnectionString("rabbitmq")) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // What a broken producer might send: MassTransit's content type, a body that is not JSON.
        var body = Encoding.UTF8.GetBytes("{\"messageType\": [\"urn:message:Pipeline.Contracts.V1:SubmitDataset\"], \"message\": {\"path\": ");
        var id = Guid.NewGuid().ToString();
        var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", MessageId = id, Persistent = true };
        await channel.BasicPublishAsync("ingest", "", mandatory: true, properties, body);

        // MassTransit declares the error queue with the first fault it moves there; until then it does not exist.
        Assert.Null(await TryGetAsync(connection, "ingest_no_such_queue"));
        BasicGetResult? faulted = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && faulted is null)
        {
            faulted = await TryGetAsync(connection, "ingest_error");
            if (faulted is not null && faulted.BasicProperties.MessageId != id) faulted = null; // another test's fault
            if (faulted is null) await Task.Delay(250);
        }
        Assert.NotNull(faulted);
        Assert.Equal(body, faulted.Body.ToArray());
        var headers = faulted.BasicProperties.Headers!;
        var reason = Encoding.UTF8.GetString((byte[])headers["MT-Fault-Message"]!);
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.Contains("MT-Fault-ExceptionType", headers.Keys);

        // The service is still up and answers.
        using var response = await fixture.Http.GetAsync(new Uri("/api/jobs", UriKind.Relative));
        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
    }

    // One message from the queue, or null when it is empty or does not exist yet. A get from a missing queue is refused
    // (404), which closes the channel it was asked on: each try has a channel of its own.
    private static async Task<BasicGetResult?> TryGetAsync(IConnection connection, string queue)
    {
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return await channel.BasicGetAsync(queue, autoAck: true);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return null;
        }
    }
}
