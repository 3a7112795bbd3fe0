using System.CommandLine;

namespace Pipeline.Cli;

/// <summary>The <c>pipeline</c> command line: its sub-commands, parsed and run with the given output writers.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Pipeline: train and evaluate computer-vision models.") { TrainCommand.Create(stdout, stderr), DatasetsCommand.Create(stdout, stderr) };
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
