namespace Pipeline.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IArtifactStore"/> must have, run against each store. Each test
/// works in a fresh container. Derived stores list in pages of <see cref="ListPageSize"/> where they page.
/// </summary>
public abstract class ArtifactStoreContract : IAsyncLifetime
{
    protected const int ListPageSize = 2;
    protected const int MiB = 1024 * 1024;

    protected abstract IArtifactStore Store { get; }

    protected string Container { get; } = "t" + Guid.NewGuid().ToString("N")[..24];

    public virtual async Task InitializeAsync() => Assert.True(await Store.CreateContainerIfMissingAsync(Container));

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Creating_an_existing_container_reports_it_existed()
    {
        Assert.False(await Store.CreateContainerIfMissingAsync(Container));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    [InlineData(4 * MiB)]
    [InlineData(4 * MiB + 1)]
    [InlineData(9 * MiB)]
    public async Task Upload_then_download_is_byte_exact(int size)
    {
        var data = Bytes(size, seed: size);
        // Non-seekable: the store must stream, never ask for Length.
        var etag = await Store.UploadAsync(Container, "data/blob.bin", new ForwardOnlyStream(data));

        Assert.Equal(data, await DownloadAsync("data/blob.bin"));
        var properties = await Store.GetPropertiesAsync(Container, "data/blob.bin");
        Assert.NotNull(properties);
        Assert.Equal(size, properties.Length);
        Assert.Equal(etag, properties.ETag);
        Assert.Equal("data/blob.bin", properties.Name);
        Assert.InRange(properties.LastModified, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task Names_with_spaces_unicode_and_url_characters_round_trip()
    {
        const string name = "odd names/with space/ünï cødé+%20#?&=;!'()*~.bin";
        await Store.UploadAsync(Container, name, new MemoryStream([1, 2, 3]));

        Assert.Equal([1, 2, 3], await DownloadAsync(name));
        var listed = await ListAsync("odd names/");
        Assert.Equal([name], listed.Select(b => b.Name));
    }

    [Fact]
    public async Task Ranged_reads_return_exactly_the_asked_bytes()
    {
        var data = Bytes(9 * MiB, seed: 7);
        await Store.UploadAsync(Container, "big", new MemoryStream(data));

        // Across the first block boundary, from the middle to the end, and past the end (truncated).
        Assert.Equal(data[(4 * MiB - 10)..(4 * MiB + 10)], await DownloadAsync("big", new ByteRange(4 * MiB - 10, 20)));
        Assert.Equal(data[(8 * MiB)..], await DownloadAsync("big", new ByteRange(8 * MiB)));
        Assert.Equal(data[^5..], await DownloadAsync("big", new ByteRange(data.Length - 5, 1000)));
        Assert.Equal(data[..1], await DownloadAsync("big", new ByteRange(0, 1)));

        await using var stream = await Store.DownloadAsync(Container, "big", new ByteRange(100, 50));
        Assert.Equal(50, stream.Length);
    }

    [Fact]
    public async Task A_range_starting_past_the_end_fails_with_416()
    {
        await Store.UploadAsync(Container, "small", new MemoryStream(Bytes(10, 1)));

        // Past, not at, the end: at the end Azure says 416 but Azurite 3.37 gives zero bytes.
        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => Store.DownloadAsync(Container, "small", new ByteRange(11, 5)));
        Assert.Equal(416, error.StatusCode);
        Assert.Contains($"{Container}/small", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listing_by_prefix_follows_every_page_in_name_order()
    {
        string[] names = ["p/c/e", "q/x", "p/a", "pz", "p/c/d", "p/b", ".hidden/f"];
        foreach (var name in names)
        {
            await Store.UploadAsync(Container, name, new MemoryStream(Bytes(name.Length, 3)));
        }

        Assert.Equal(["p/a", "p/b", "p/c/d", "p/c/e"], (await ListAsync("p/")).Select(b => b.Name));
        Assert.Equal(["p/a", "p/b", "p/c/d", "p/c/e", "pz"], (await ListAsync("p")).Select(b => b.Name));
        Assert.Equal(["p/c/d", "p/c/e"], (await ListAsync("p/c/")).Select(b => b.Name));
        Assert.Equal(names.Order(StringComparer.Ordinal), (await ListAsync(null)).Select(b => b.Name));
        Assert.Empty(await ListAsync("nothing/"));
        Assert.Empty(await ListAsync("p/a/"));

        var listed = (await ListAsync("q/")).Single();
        Assert.Equal(3, listed.Length);
        Assert.Equal((await Store.GetPropertiesAsync(Container, "q/x"))!.ETag, listed.ETag);
    }

    [Fact]
    public async Task Listing_a_missing_container_fails_naming_it()
    {
        var error = await Assert.ThrowsAsync<ArtifactNotFoundException>(async () =>
        {
            await foreach (var _ in Store.ListAsync("no-such-container"))
            {
            }
        });
        Assert.Contains("'no-such-container'", error.Message, StringComparison.Ordinal);
        Assert.Equal("ContainerNotFound", error.ErrorCode);
    }

    [Fact]
    public async Task Overwriting_replaces_content_and_changes_the_etag()
    {
        var first = await Store.UploadAsync(Container, "blob", new MemoryStream(Bytes(100, 1)));
        var second = await Store.UploadAsync(Container, "blob", new MemoryStream(Bytes(50, 2)));

        Assert.NotEqual(first, second);
        Assert.Equal(Bytes(50, 2), await DownloadAsync("blob"));
    }

    [Fact]
    public async Task Create_only_upload_fails_when_the_blob_exists_and_keeps_it()
    {
        await Store.UploadAsync(Container, "once", new MemoryStream(Bytes(10, 1)), new() { Condition = BlobCondition.IfNotExists });

        var error = await Assert.ThrowsAsync<ArtifactConditionFailedException>(() =>
            Store.UploadAsync(Container, "once", new MemoryStream(Bytes(10, 2)), new() { Condition = BlobCondition.IfNotExists }));
        Assert.Contains($"{Container}/once", error.Message, StringComparison.Ordinal);
        Assert.Contains(error.StatusCode!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Equal(Bytes(10, 1), await DownloadAsync("once"));
    }

    [Fact]
    public async Task Concurrent_create_only_uploads_have_exactly_one_winner()
    {
        var attempts = Enumerable.Range(0, 6).Select(async i =>
        {
            try
            {
                await Store.UploadAsync(Container, "race", new MemoryStream(Bytes(1000, i)), new() { Condition = BlobCondition.IfNotExists });
                return i;
            }
            catch (ArtifactConditionFailedException)
            {
                return -1;
            }
        });

        var winners = (await Task.WhenAll(attempts)).Where(i => i >= 0).ToList();
        Assert.Single(winners);
        Assert.Equal(Bytes(1000, winners[0]), await DownloadAsync("race"));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(9 * MiB)]
    public async Task Upload_with_a_stale_etag_fails_and_leaves_the_current_content(int size)
    {
        var stale = await Store.UploadAsync(Container, "versioned", new MemoryStream(Bytes(size, 1)));
        var current = await Store.UploadAsync(Container, "versioned", new MemoryStream(Bytes(size, 2)));

        var error = await Assert.ThrowsAsync<ArtifactConditionFailedException>(() => Store.UploadAsync(Container, "versioned",
            new MemoryStream(Bytes(size, 3)), new() { Condition = BlobCondition.IfETagMatches(stale) }));
        Assert.Equal(412, error.StatusCode);
        Assert.Equal(Bytes(size, 2), await DownloadAsync("versioned"));

        var replaced = await Store.UploadAsync(Container, "versioned", new MemoryStream(Bytes(size, 4)),
            new() { Condition = BlobCondition.IfETagMatches(current) });
        Assert.Equal(Bytes(size, 4), await DownloadAsync("versioned"));
        Assert.Equal(replaced, (await Store.GetPropertiesAsync(Container, "versioned"))!.ETag);
    }

    [Fact]
    public async Task Upload_with_if_match_fails_when_the_blob_is_absent()
    {
        await Assert.ThrowsAsync<ArtifactConditionFailedException>(() => Store.UploadAsync(Container, "absent",
            new MemoryStream([1]), new() { Condition = BlobCondition.IfETagMatches("\"0x1234\"") }));
        Assert.False(await Store.ExistsAsync(Container, "absent"));
    }

    [Fact]
    public async Task Readers_see_the_old_blob_until_a_large_overwrite_commits()
    {
        var old = Bytes(100, 1);
        var oldETag = await Store.UploadAsync(Container, "model.bin", new MemoryStream(old));
        var replacement = Bytes(9 * MiB, 2);
        var probed = false;
        // Midway through the new upload (a block or more already sent), the old blob must be all there is.
        var source = new ForwardOnlyStream(replacement, probeAt: 8 * MiB + 1, probe: async () =>
        {
            Assert.Equal(old, await DownloadAsync("model.bin"));
            Assert.Equal(oldETag, (await Store.GetPropertiesAsync(Container, "model.bin"))!.ETag);
            Assert.Equal(old.Length, (await ListAsync("model")).Single().Length);
            probed = true;
        });

        await Store.UploadAsync(Container, "model.bin", source);

        Assert.True(probed);
        Assert.Equal(replacement, await DownloadAsync("model.bin"));
    }

    [Fact]
    public async Task Delete_removes_the_blob_and_reports_whether_there_was_one()
    {
        await Store.UploadAsync(Container, "dir/gone", new MemoryStream([1]));
        await Store.UploadAsync(Container, "dir/kept", new MemoryStream([2]));
        Assert.True(await Store.ExistsAsync(Container, "dir/gone"));

        Assert.True(await Store.DeleteAsync(Container, "dir/gone"));
        Assert.False(await Store.ExistsAsync(Container, "dir/gone"));
        Assert.Null(await Store.GetPropertiesAsync(Container, "dir/gone"));
        Assert.False(await Store.DeleteAsync(Container, "dir/gone"));
        Assert.Equal(["dir/kept"], (await ListAsync(null)).Select(b => b.Name));
    }

    [Fact]
    public async Task Conditional_delete_honours_the_etag()
    {
        var stale = await Store.UploadAsync(Container, "blob", new MemoryStream([1]));
        var current = await Store.UploadAsync(Container, "blob", new MemoryStream([2]));

        await Assert.ThrowsAsync<ArtifactConditionFailedException>(() =>
            Store.DeleteAsync(Container, "blob", BlobCondition.IfETagMatches(stale)));
        Assert.Equal([2], await DownloadAsync("blob"));

        Assert.True(await Store.DeleteAsync(Container, "blob", BlobCondition.IfETagMatches(current)));
        Assert.False(await Store.ExistsAsync(Container, "blob"));
    }

    [Fact]
    public async Task Missing_blobs_and_containers_fail_with_not_found_naming_them()
    {
        var error = await Assert.ThrowsAsync<ArtifactNotFoundException>(() => Store.DownloadAsync(Container, "no/such/blob"));
        Assert.Contains($"'{Container}/no/such/blob'", error.Message, StringComparison.Ordinal);
        Assert.Contains("404", error.Message, StringComparison.Ordinal);
        Assert.Contains("BlobNotFound", error.Message, StringComparison.Ordinal);
        Assert.Equal(Container, error.Container);
        Assert.Equal("no/such/blob", error.Blob);

        var noContainer = await Assert.ThrowsAsync<ArtifactNotFoundException>(() =>
            Store.UploadAsync("no-such-container", "blob", new MemoryStream([1])));
        Assert.Equal("ContainerNotFound", noContainer.ErrorCode);
        Assert.Contains("'no-such-container/blob'", noContainer.Message, StringComparison.Ordinal);

        Assert.Null(await Store.GetPropertiesAsync("no-such-container", "blob"));
        Assert.False(await Store.ExistsAsync("no-such-container", "blob"));
        Assert.False(await Store.DeleteAsync("no-such-container", "blob"));
    }

    [Fact]
    public async Task Content_type_and_metadata_round_trip()
    {
        var metadata = new Dictionary<string, string> { ["job"] = "42", ["Kind_2"] = "checkpoint v1" };
        await Store.UploadAsync(Container, "meta/large", new MemoryStream(Bytes(5 * MiB, 1)),
            new() { ContentType = "application/x-safetensors", Metadata = metadata });
        await Store.UploadAsync(Container, "meta/small", new MemoryStream([1]), new() { Metadata = metadata });

        var large = await Store.GetPropertiesAsync(Container, "meta/large");
        Assert.Equal("application/x-safetensors", large!.ContentType);
        Assert.Equal("42", large.Metadata["job"]);
        Assert.Equal("checkpoint v1", large.Metadata["kind_2"]);
        Assert.Equal(2, large.Metadata.Count);

        var small = await Store.GetPropertiesAsync(Container, "meta/small");
        Assert.Equal("application/octet-stream", small!.ContentType);

        var listed = await ListAsync("meta/");
        Assert.All(listed, b => Assert.Equal("42", b.Metadata["JOB"]));
        Assert.Equal("application/x-safetensors", listed[0].ContentType);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("a\\..\\b")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("trailing/")]
    [InlineData("")]
    public async Task Names_that_could_escape_or_alias_are_refused(string name)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.UploadAsync(Container, name, new MemoryStream([1])));
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DownloadAsync(Container, name));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DeleteAsync(Container, name));
    }

    [Theory]
    [InlineData("../")]
    [InlineData("a/../")]
    [InlineData("/abs")]
    [InlineData("a//")]
    public async Task Listing_prefixes_that_could_escape_are_refused(string prefix)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => ListAsync(prefix));
        Assert.Contains($"'{prefix}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listing_prefixes_may_end_mid_segment_even_with_dots()
    {
        await Store.UploadAsync(Container, "a/..data", new MemoryStream([1]));

        Assert.Equal(["a/..data"], (await ListAsync("a/..")).Select(b => b.Name));
        Assert.Equal(["a/..data"], (await ListAsync("a/.")).Select(b => b.Name));
    }

    [Fact]
    public async Task Bad_metadata_is_refused_before_anything_is_written()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.UploadAsync(Container, "m", new MemoryStream([1]),
            new() { Metadata = new Dictionary<string, string> { ["bad-name"] = "v" } }));
        Assert.Contains("'bad-name'", error.Message, StringComparison.Ordinal);
        Assert.False(await Store.ExistsAsync(Container, "m"));
    }

    protected async Task<byte[]> DownloadAsync(string blob, ByteRange? range = null)
    {
        await using var stream = await Store.DownloadAsync(Container, blob, range);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    protected async Task<List<BlobProperties>> ListAsync(string? prefix)
    {
        var blobs = new List<BlobProperties>();
        await foreach (var blob in Store.ListAsync(Container, prefix))
        {
            blobs.Add(blob);
        }

        return blobs;
    }

    protected static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
