using FluentAssertions;
using Qwen.Cli.Tests.Support;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cli.Tests;

/// <summary>deploy/loadtest/locustfile.py run headless by locust (Debian python3-locust) against a real Api process.</summary>
[Collection(EmbeddedApiCollection.Name)]
public sealed class LocustfileTests(EmbeddedApiFixture fixture) : IDisposable
{
    private readonly string _csvDirectory = Directory.CreateTempSubdirectory("qwen-locust-").FullName;

    [Fact]
    public async Task Locust_drives_both_endpoints_without_failures()
    {
        string locust = File.Exists("/usr/bin/locust") ? "/usr/bin/locust" : "locust";
        string prefix = Path.Combine(_csvDirectory, "run");
        var run = await CommandRun.RunAsync(locust,
        [
            "-f", Path.Combine(RepositoryPaths.Root, "deploy", "loadtest", "locustfile.py"),
            "--headless", "--users", "3", "--spawn-rate", "3", "--run-time", "5s", "--stop-timeout", "30",
            "--host", fixture.ApiUrl, "--csv", prefix, "--only-summary",
        ], TimeSpan.FromMinutes(2));

        run.ExitCode.Should().Be(0, run.ToString());
        string csv = await File.ReadAllTextAsync(prefix + "_stats.csv");
        var stats = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToArray();
        int requests = Array.IndexOf(stats[0], "Request Count"), failures = Array.IndexOf(stats[0], "Failure Count"), name = Array.IndexOf(stats[0], "Name");
        requests.Should().BeGreaterThanOrEqualTo(0);
        int Count(string row, int column) =>
            stats.Where(r => r[name] == row).Select(r => int.Parse(r[column], System.Globalization.CultureInfo.InvariantCulture)).SingleOrDefault();
        Count("Aggregated", requests).Should().BePositive();
        Count("Aggregated", failures).Should().Be(0, run.ToString());
        Count("/v1/sentiment", requests).Should().BePositive(csv);
        Count("/v1/conversations/[user]/messages", requests).Should().BePositive(csv);
    }

    public void Dispose() => Directory.Delete(_csvDirectory, recursive: true);
}
