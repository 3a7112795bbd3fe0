namespace Pipeline.Storage.Tests;

public sealed class FolderArtifactStoreTests : ArtifactStoreContract, IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("pipeline-folder-store-");
    private readonly FolderArtifactStore _store;

    public FolderArtifactStoreTests() => _store = new FolderArtifactStore(Path.Combine(_root.FullName, "store"));

    protected override IArtifactStore Store => _store;

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task Escaping_names_write_nothing_outside_the_container()
    {
        var before = AllFiles();

        foreach (var name in new[] { "../outside", "../../outside", "/tmp/outside", "x/../../outside" })
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.UploadAsync(Container, name, new MemoryStream([1])));
            Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, AllFiles());
        Assert.False(File.Exists(Path.Combine(_root.FullName, "outside")));
    }

    [Fact]
    public async Task Container_names_outside_the_rules_are_refused()
    {
        foreach (var container in new[] { "..", ".staging", "UPPER", "a", "has/slash", "-dash", "double--dash" })
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateContainerIfMissingAsync(container));
            Assert.Contains($"'{container}'", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_blob_and_a_folder_of_blobs_with_the_same_name_conflict_clearly()
    {
        await Store.UploadAsync(Container, "a/b", new MemoryStream([1]));
        await Store.UploadAsync(Container, "c", new MemoryStream([1]));

        var asFile = await Assert.ThrowsAsync<ArtifactStoreException>(() => Store.UploadAsync(Container, "a", new MemoryStream([2])));
        Assert.Equal("BlobPathConflict", asFile.ErrorCode);
        var asFolder = await Assert.ThrowsAsync<ArtifactStoreException>(() => Store.UploadAsync(Container, "c/d", new MemoryStream([2])));
        Assert.Equal("BlobPathConflict", asFolder.ErrorCode);
        Assert.Contains("'c'", asFolder.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_leave_no_staging_files_behind_even_when_they_fail()
    {
        await Store.UploadAsync(Container, "x", new MemoryStream([1]), new() { Condition = BlobCondition.IfNotExists });
        await Assert.ThrowsAsync<ArtifactConditionFailedException>(() =>
            Store.UploadAsync(Container, "x", new MemoryStream([2]), new() { Condition = BlobCondition.IfNotExists }));

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_store.Root, ".staging")));
    }

    [Fact]
    public async Task Deleting_the_last_blob_of_a_folder_removes_the_empty_folders()
    {
        await Store.UploadAsync(Container, "deep/er/blob", new MemoryStream([1]));
        await Store.DeleteAsync(Container, "deep/er/blob");

        Assert.False(Directory.Exists(Path.Combine(_store.Root, Container, "deep")));
        Assert.True(Directory.Exists(Path.Combine(_store.Root, Container)));
    }

    [Fact]
    public async Task A_file_not_written_by_the_store_is_reported_naming_it()
    {
        await File.WriteAllTextAsync(Path.Combine(_store.Root, Container, "foreign.txt"), "not a blob");

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => Store.DownloadAsync(Container, "foreign.txt"));
        Assert.Equal("InvalidBlobFile", error.ErrorCode);
        Assert.Contains("foreign.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_store_on_the_same_folder_sees_the_same_blobs()
    {
        var etag = await Store.UploadAsync(Container, "shared", new MemoryStream([7]));
        var other = new FolderArtifactStore(_store.Root);

        Assert.Equal(etag, (await other.GetPropertiesAsync(Container, "shared"))!.ETag);
        await Assert.ThrowsAsync<ArtifactConditionFailedException>(() =>
            other.UploadAsync(Container, "shared", new MemoryStream([8]), new() { Condition = BlobCondition.IfNotExists }));
    }

    private string[] AllFiles() =>
        Directory.EnumerateFileSystemEntries(_root.FullName, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Order(StringComparer.Ordinal).ToArray();
}
