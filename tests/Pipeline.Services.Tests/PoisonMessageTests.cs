using System.Text;
using RabbitMQ.Client;

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

        BasicGetResult? faulted = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && faulted is null)
        {
            faulted = await channel.BasicGetAsync("ingest_error", autoAck: true);
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
}
