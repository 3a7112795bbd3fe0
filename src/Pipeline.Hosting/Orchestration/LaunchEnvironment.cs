using System.Globalization;

namespace Pipeline.Hosting;

/// <summary>Composes a replica's environment the Aspire way: references first, then the resource's own
/// variables, then the user's WithEnvironment values (the most specific wins).</summary>
internal static class LaunchEnvironment
{
    public static ProcessLaunch Compose(ProcessResource resource, int replica, ProcessLaunch own)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var reference in resource.References)
        {
            AddReference(env, reference);
        }
        if (resource is ProjectResource or ExecutableResource)
        {
            env["PIPELINE_REPLICA_INDEX"] = replica.ToString(CultureInfo.InvariantCulture);
            env["PIPELINE_REPLICA_COUNT"] = resource.Replicas.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (k, v) in own.Environment)
        {
            env[k] = v;
        }
        foreach (var (k, value) in resource.Environment)
        {
            env[k] = value();
        }
        return own with { Environment = env };
    }

    // A connection string when the resource has one (as Aspire), otherwise its endpoints.
    private static void AddReference(Dictionary<string, string> env, IResource reference)
    {
        if (reference is IResourceWithConnectionString withConnection)
        {
            env[$"ConnectionStrings__{reference.Name}"] = withConnection.GetConnectionString();
        }
        else if (reference is ProcessResource process)
        {
            // One entry per replica: there is no proxy in front of replicas, so a client
            // (service discovery reads the array) sees each of them.
            foreach (var endpoint in process.Endpoints.Where(e => !e.IsInternal))
            {
                for (var i = 0; i < process.Replicas; i++)
                {
                    env[$"services__{reference.Name}__{endpoint.Name}__{i}"] = endpoint.Url(i);
                }
            }
        }
    }
}
