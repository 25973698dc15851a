namespace Qwen.TestSupport;

/// <summary>Where the built projects are, found from the test assembly's own location.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>Release or Debug: the configuration the tests themselves were built in.</summary>
    public static string Configuration { get; } = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    /// <summary>The main assembly of a project under src/, e.g. ("Silo", "Qwen.Silo.dll").</summary>
    public static string BuiltAssembly(string project, string assembly)
    {
        string path = Path.Combine(Root, "src", project, "bin", Configuration, "net10.0", assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{assembly} is not built at {path}; build the solution first", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qwen.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Qwen.sln above {AppContext.BaseDirectory}");
    }
}
