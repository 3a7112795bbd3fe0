using System.Diagnostics;

namespace Pipeline.Hosting;

/// <summary>Checks that the binaries of every resource exist; an interactive AppHost installs what is
/// missing with the repository's provisioning script, anything else stops with the command to run.</summary>
internal static class Prerequisites
{
    public const string ProvisionScript = "infra/provision.sh";

    public static async Task EnsureAsync(DistributedApplicationOptions options, DistributedApplicationModel model, CancellationToken cancellationToken)
    {
        if (Missing(options, model).Count == 0)
        {
            return;
        }
        var script = Path.Combine(options.AppDirectory, ProvisionScript);
        if (options.ConsoleOutput && File.Exists(script))
        {
            Console.WriteLine($"Missing: {string.Join(", ", Missing(options, model))}. Running bash {ProvisionScript} ...");
            // Inherits the console: apt and npm progress stay visible.
            using var provision = Process.Start(new ProcessStartInfo("bash", [script]) { WorkingDirectory = options.AppDirectory })!;
            await provision.WaitForExitAsync(cancellationToken);
        }
        var missing = Missing(options, model);
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"Missing {string.Join(", ", missing)}: run `bash {ProvisionScript}` in {options.AppDirectory} first.");
        }
    }

    private static List<string> Missing(DistributedApplicationOptions options, DistributedApplicationModel model) =>
        [.. model.ProcessResources
            .SelectMany(r => r.RequiredFiles(new ResourceContext(options, model, r)))
            .Distinct()
            .Where(f => !File.Exists(f))];
}
