namespace Qwen.Api.Tests.PublicApi;

/// <summary>
/// The official OpenAI SDK for Node (npm package <c>openai</c>), installed on first use into the
/// cache folder beside the build's other npm downloads (never into the repository).
/// </summary>
public static class OpenAiSdk
{
    public const string Version = "7.55.0";

    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    /// <summary>A folder holding node_modules/openai at <see cref="Version"/>.</summary>
    public static async Task<string> EnsureInstalledAsync(CancellationToken cancellationToken)
    {
        string cache = Environment.GetEnvironmentVariable("QWEN_CACHE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "qwen-aio");
        string target = Path.Combine(cache, "npm-tools", $"openai-{Version}");
        string marker = Path.Combine(target, "node_modules", "openai", "package.json");
        await InstallGate.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(marker)) return target;
            // Install beside the target, then move it in whole, so an interrupted install is never used.
            string staging = target + ".staging-" + Environment.ProcessId;
            Directory.CreateDirectory(staging);
            var (exit, stdout, stderr) = await CommandLine.RunAsync("npm",
                ["install", "--prefix", staging, "--no-audit", "--no-fund", "--no-save", $"openai@{Version}"], null, TimeSpan.FromMinutes(5));
            if (exit != 0) throw new InvalidOperationException($"npm install openai@{Version} failed ({exit}): {stdout}\n{stderr}");
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.Move(staging, target);
            return target;
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
