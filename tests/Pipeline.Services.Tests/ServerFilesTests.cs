using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pipeline.Services.Tests;

/// <summary>The API reads no file of the server that is not a dataset under its dataset folders, stores only a
/// dataset's own files, and keeps uploads to what they claim to be and to its quota.</summary>
[Collection(ServicesCollection.Name)]
public sealed class ServerFilesTests(ServicesFixture fixture) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("server-files-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("/etc")]
    [InlineData("/etc/passwd")]
    [InlineData("/etc/no-such-file")]
    [InlineData("/usr/share/datasets/../../../etc")]
    public async Task A_path_outside_the_dataset_folders_is_refused_at_submit_alike_whether_it_exists(string path)
    {
        using var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { path, task = "classify" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var detail = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
        Assert.Equal($"{path}: not under the service's dataset folders (/usr/share/datasets, {Path.GetTempPath().TrimEnd('/')}): upload the dataset instead (pipeline submit uploads a folder or an archive)", detail);
    }

    [Fact]
    public async Task A_folder_linking_to_a_file_of_the_machine_is_refused_and_nothing_of_the_file_is_stored_or_quoted()
    {
        var folder = ImageFolder("linked", perClass: 6);
        File.CreateSymbolicLink(Path.Combine(folder, "red", "passwd.png"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(folder, "classes.txt"), "/etc/passwd");
        var id = await SubmitPathAsync(folder);
        var job = (await fixture.WaitForJobAsync(id, "Failed", "Prepared", "Succeeded")).GetProperty("job");
        Assert.Equal("Failed", job.GetProperty("state").GetString());
        var reason = job.GetProperty("reason").GetString()!;
        Assert.Contains($"{folder}/red/passwd.png: linked file leads outside the dataset folder: not read", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("root:", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("/etc/passwd", reason, StringComparison.Ordinal);
        using var served = await fixture.Http.GetAsync(new Uri($"/api/jobs/{id}/artifacts/dataset/raw/red/passwd.png", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, served.StatusCode);
    }

    [Fact]
    public async Task Only_the_dataset_files_of_a_folder_are_stored()
    {
        var folder = ImageFolder("with-extras", perClass: 6);
        await File.WriteAllTextAsync(Path.Combine(folder, "notes.docx"), "private notes");
        await File.WriteAllTextAsync(Path.Combine(folder, "red", "secret.key"), "-----BEGIN PRIVATE KEY-----");
        var id = await SubmitPathAsync(folder);
        var job = (await fixture.WaitForJobAsync(id, "Prepared", "Training", "Evaluating", "Succeeded", "Failed")).GetProperty("job");
        Assert.NotEqual("Failed", job.GetProperty("state").GetString());
        using (var red = await fixture.Http.GetAsync(new Uri($"/api/jobs/{id}/artifacts/dataset/raw/red/0.png", UriKind.Relative)))
            Assert.Equal(HttpStatusCode.OK, red.StatusCode);
        foreach (var name in (string[])["notes.docx", "red/secret.key"])
        {
            using var response = await fixture.Http.GetAsync(new Uri($"/api/jobs/{id}/artifacts/dataset/raw/{name}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
        await fixture.Http.PostAsync(new Uri($"/api/jobs/{id}/cancel", UriKind.Relative), null);
    }

    [Theory]
    [InlineData("data.zip", "{}", "not a zip archive (it does not start with a zip header)")]
    [InlineData("data.tar.gz", "PK\u0003\u0004 a zip", "not a gzip-compressed tar archive (it does not start with a gzip header)")]
    [InlineData("data.tar", "just text", "not a tar archive (no ustar header)")]
    public async Task An_upload_that_is_not_what_its_name_says_is_refused_and_not_stored(string name, string body, string problem)
    {
        using var response = await fixture.Http.PostAsync(new Uri($"/api/uploads?name={name}", UriKind.Relative), new StringContent(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"{name}: {problem}", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_upload_over_the_quota_is_refused_before_its_body_and_a_used_upload_is_gone()
    {
        // Headers only, declaring more than the quota, over a raw socket: the answer must come before any body is sent.
        var api = fixture.App.GetEndpoint("ingest");
        using (var socket = new System.Net.Sockets.TcpClient())
        {
            await socket.ConnectAsync(api.Host, api.Port);
            await using var stream = socket.GetStream();
            var head = $"POST /api/uploads?name=big.zip HTTP/1.1\r\nHost: {api.Authority}\r\nX-Api-Key: {ServicesFixture.ApiKey}\r\n" +
                $"Content-Type: application/octet-stream\r\nContent-Length: {ServicesFixture.UploadQuota + 1}\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
            using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Assert.StartsWith("HTTP/1.1 413", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
            var answer = new System.Text.StringBuilder();
            for (string? line; !answer.ToString().Contains("PIPELINE_UPLOAD_QUOTA_BYTES", StringComparison.Ordinal) && (line = await reader.ReadLineAsync(timeout.Token)) is not null;)
                answer.AppendLine(line);
            Assert.Contains("PIPELINE_UPLOAD_QUOTA_BYTES", answer.ToString(), StringComparison.Ordinal);
        }

        // A submitted upload is deleted once ingested: it cannot be submitted twice.
        var folder = ImageFolder("once", perClass: 6);
        var (code, stdout, stderr) = await fixture.CliAsync("submit", folder, "--input.size=[8,8]", "--epochs=1", "--model.name=small_cnn");
        Assert.True(code == 0, stderr);
        var job = (await fixture.WaitForJobAsync(stdout.Trim(), "Prepared", "Training", "Evaluating", "Succeeded", "Failed")).GetProperty("job");
        var source = job.GetProperty("source").GetString()!;
        Assert.StartsWith("blob:uploads/", source, StringComparison.Ordinal);
        Assert.EndsWith("/once.tar", source, StringComparison.Ordinal);
        using var again = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { source, task = "classify" });
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        Assert.Contains("no such upload", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var malformed = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative), new { source = "blob:uploads/../../datasets/x.zip" });
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        await fixture.Http.PostAsync(new Uri($"/api/jobs/{job.GetProperty("id").GetString()}/cancel", UriKind.Relative), null);
    }

    private async Task<string> SubmitPathAsync(string path)
    {
        using var response = await fixture.Http.PostAsJsonAsync(new Uri("/api/jobs", UriKind.Relative),
            new { path, task = "classify", recipeYaml = "input: {size: [8, 8]}\nmodel: {name: small_cnn}\nepochs: 1\n" });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private string ImageFolder(string name, int perClass)
    {
        var root = Path.Combine(dir, name);
        foreach (var (cls, red) in new[] { ("red", true), ("blue", false) })
        {
            Directory.CreateDirectory(Path.Combine(root, cls));
            for (var k = 0; k < perClass; k++)
                File.WriteAllBytes(Path.Combine(root, cls, $"{k}.png"), HostileCorpus.Png(red ? k : 1000 + k, 10, 10, red));
        }
        return root;
    }
}
