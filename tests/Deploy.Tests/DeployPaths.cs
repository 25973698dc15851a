using Qwen.TestSupport;

namespace Qwen.Deploy.Tests;

/// <summary>Files under deploy/ and the built programs the deployment runs.</summary>
internal static class DeployPaths
{
    public static string Deploy(params string[] parts) => Path.Combine([RepositoryPaths.Root, "deploy", .. parts]);

    /// <summary>Where a project's build puts its native launcher (what /opt/qwen/NAME holds after publish).</summary>
    public static string BuildOutput(string project) =>
        Path.Combine(RepositoryPaths.Root, "src", project, "bin", RepositoryPaths.Configuration, "net10.0");

    /// <summary>The qwen tool as a command line for the scripts' --qwen option.</summary>
    public static string QwenCommand => $"dotnet {RepositoryPaths.BuiltAssembly("Cli", "qwen.dll")}";
}
