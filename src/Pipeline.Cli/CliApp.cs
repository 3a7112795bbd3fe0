using System.CommandLine;

namespace Pipeline.Cli;

/// <summary>The <c>pipeline</c> command line: its sub-commands, parsed and run with the given output writers.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Pipeline: train and evaluate computer-vision models.")
        {
            TrainCommand.Create(args, stdout, stderr), SweepCommand.Create(stdout, stderr), DatasetsCommand.Create(stdout, stderr), ExportCommand.Create(stdout, stderr), WeightsCommand.Create(stdout, stderr),
        };
        foreach (var command in Client.ClientCommands.Create(stdout, stderr)) root.Subcommands.Add(command);
        // Ctrl+C lets training finish its step and write a checkpoint (all ranks of a --nproc run together) instead
        // of the default 2 seconds before the process is ended.
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }

    /// <summary>Runs a command with its output captured instead of written to the console (tests, embedding hosts).</summary>
    public static (int Code, string Stdout, string Stderr) RunCaptured(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
