using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// deploy/autoscale.sh acting on GET /v1/cluster/scale, driven by qwen load: heavy load grows the
/// cluster from one silo to three, light load lets it shrink back to one, and no request fails meanwhile.
/// </summary>
public sealed class AutoscaleLoopTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TestCluster _cluster = null!;
    private ServiceProcess? _loop;
    private string _logDirectory = null!;

    // A tiny SLO: two requests in flight per silo; latency left out (a generous p90 target).
    public async Task InitializeAsync()
    {
        _logDirectory = Directory.CreateTempSubdirectory("qwen-autoscale-logs-").FullName;
        _cluster = await TestCluster.StartAsync(silos: 0, apiArguments:
        [
            "--Autoscale:QueuePerSilo=2", "--Autoscale:TargetP90Ms=60000", "--Autoscale:MinSilos=1", "--Autoscale:MaxSilos=3",
            "--Autoscale:ScaleInAfter=00:00:03", "--Autoscale:EvaluationInterval=00:00:00.250",
        ]);
    }

    public async Task DisposeAsync()
    {
        if (_loop is not null) await _loop.DisposeAsync();
        // The loop's silos run in its process group only while it lives: kill any left behind.
        foreach (var silo in await SiloProcessesAsync()) silo.Kill(entireProcessTree: true);
        await _cluster.DisposeAsync();
        Directory.Delete(_logDirectory, recursive: true);
    }

    [Fact]
    public async Task The_loop_grows_the_cluster_to_three_silos_under_load_and_back_to_one_without_a_failed_request()
    {
        string script = Path.Combine(RepositoryPaths.Root, "deploy", "autoscale.sh");
        string siloDll = RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll");
        string[] siloArgs =
        [
            .. TestCluster.SiloArguments(_cluster.ConnectionString, _cluster.ModelDirectory, "unused")
                .Where(a => !a.StartsWith("--Silo:SiloId=", StringComparison.Ordinal)),
            .. TestCluster.ClusterArguments(_cluster.Redis.Configuration, _cluster.ClusterId), "--Cluster:AdvertisedAddress=127.0.0.1",
        ];
        static string Port() => FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture);
        _loop = ServiceProcess.StartCommand("autoscale", _cluster.ApiUrl, "bash",
            [script, "--api", _cluster.ApiUrl, "--interval", "0.5", "--base-port", Port(), "--silo-port", Port(), "--gateway-port", Port(),
             "--id-prefix", "auto", "--log-dir", _logDirectory, "--", "dotnet", siloDll, .. siloArgs],
            RepositoryPaths.Root);

        await WaitForActiveCountAsync(1, TimeSpan.FromSeconds(90));
        // qwen load is the load; a few watched users beside it have their histories checked at the end.
        var traffic = new ChatTraffic(_cluster);
        var failures = new ConcurrentQueue<string>();
        int watchedTurns = 0;

        // Heavy load: 16 virtual users of qwen load's mixed workload, without pause.
        using (var watched = new CancellationTokenSource())
        {
            var watchers = RunLoadAsync(traffic, "heavy", 2, failures, () => Interlocked.Increment(ref watchedTurns), watched.Token);
            var load = StartQwenLoad("heavy", users: 16, TimeSpan.FromSeconds(45));
            await WaitForActiveCountAsync(3, TimeSpan.FromSeconds(45), failures, until: load);
            output.WriteLine("three silos active");
            var heavy = await FinishQwenLoadAsync(load);
            await watched.CancelAsync();
            await watchers;
            output.WriteLine($"heavy phase: {heavy}");
        }

        // Light load (two requests in flight) while the loop stops two silos.
        using (var watched = new CancellationTokenSource())
        {
            var watchers = RunLoadAsync(traffic, "light", 1, failures, () => Interlocked.Increment(ref watchedTurns), watched.Token);
            var load = StartQwenLoad("light", users: 1, TimeSpan.FromSeconds(40));
            await WaitForActiveCountAsync(1, TimeSpan.FromSeconds(40), failures, until: load);
            output.WriteLine("back to one silo");
            var light = await FinishQwenLoadAsync(load);
            await watched.CancelAsync();
            await watchers;
            output.WriteLine($"light phase: {light}");
        }

        failures.Should().BeEmpty("no request may fail while silos join or leave");
        await traffic.VerifyHistoriesAsync();
        output.WriteLine($"{watchedTurns} turns of watched users, histories intact");
        var members = await _cluster.ReadSilosAsync();
        members.Where(s => s.Status == "dead").Should().HaveCount(2, "the two silos the loop stopped left the cluster");
        _loop.RecentOutput.Should().Contain("stopped (exit 0)").And.NotContain("exited on its own");
        output.WriteLine(_loop.RecentOutput);

        (await _loop.StopGracefullyAsync(TimeSpan.FromSeconds(60))).Should().Be(0);
        (await SiloProcessesAsync()).Should().BeEmpty("stopping the loop stops its silos");
    }

    private ServiceProcess StartQwenLoad(string name, int users, TimeSpan duration) =>
        ServiceProcess.StartCommand($"qwen-load-{name}", _cluster.ApiUrl, "dotnet",
            [RepositoryPaths.BuiltAssembly("Cli", "qwen.dll"), "load", "--url", _cluster.ApiUrl, "--levels", users.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--duration", $"{duration.TotalSeconds:0}s", "--json", Path.Combine(_logDirectory, $"{name}.json"), "--seed", "7"],
            RepositoryPaths.Root);

    /// <summary>Waits for qwen load to end; every one of its requests must have succeeded.</summary>
    private async Task<string> FinishQwenLoadAsync(ServiceProcess load)
    {
        (await load.WaitForExitAsync(TimeSpan.FromMinutes(3))).Should().Be(0, load.RecentOutput);
        string file = Path.Combine(_logDirectory, $"{load.Name["qwen-load-".Length..]}.json");
        using var report = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(file));
        var row = report.RootElement.GetProperty("rows")[0];
        int requests = row.GetProperty("requests").GetInt32();
        requests.Should().BeGreaterThan(0);
        row.GetProperty("errors").GetInt32().Should().Be(0, $"no request of qwen load may fail: {row}");
        return $"{requests} requests, p90 {row.GetProperty("p90_ms").GetDouble():F0} ms, 0 errors";
    }

    private static Task RunLoadAsync(ChatTraffic traffic, string prefix, int users, ConcurrentQueue<string> failures, Action onSent,
        CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, users).Select(i => Task.Run(async () =>
        {
            string user = $"{prefix}-{i}";
            for (int round = 1; !stop.IsCancellationRequested; round++)
            {
                try
                {
                    await traffic.SendAsync(user, round, 0);
                    onSent();
                }
                catch (Exception e)
                {
                    failures.Enqueue($"{user} round {round}: {e.Message}");
                    return;
                }
            }
        })));

    private async Task WaitForActiveCountAsync(int count, TimeSpan timeout, ConcurrentQueue<string>? failures = null, ServiceProcess? until = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var members = await _cluster.ReadSilosAsync();
            int active = members.Count(s => s.IsActive);
            int live = members.Count(s => s.Status != "dead");
            if (active == count && live == count) return;
            if (failures is { IsEmpty: false }) throw new InvalidOperationException($"requests failed: {string.Join("; ", failures.Take(5))}");
            if (DateTime.UtcNow > deadline || until is { HasExited: true })
            {
                var (_, scale) = await _cluster.GetAsync("/v1/cluster/scale");
                throw new TimeoutException($"{active} active silos, not {count}; scale signal {scale}\nloop output:\n{_loop?.RecentOutput}"
                    + SiloLogTails());
            }
            await Task.Delay(200);
        }
    }

    /// <summary>The last lines of every silo's log, so a silo that died during a failed run says why.</summary>
    private string SiloLogTails() => string.Concat(Directory.EnumerateFiles(_logDirectory, "*.log").Order(StringComparer.Ordinal)
        .Select(f => $"\n--- {Path.GetFileName(f)} (last 40 lines) ---\n{string.Join('\n', File.ReadLines(f).TakeLast(40))}"));

    private async Task<IReadOnlyList<System.Diagnostics.Process>> SiloProcessesAsync()
    {
        await Task.Yield();
        return System.Diagnostics.Process.GetProcessesByName("dotnet")
            .Where(p =>
            {
                try
                {
                    return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("--Silo:SiloId=auto-", StringComparison.Ordinal)
                           && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(_cluster.ClusterId, StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
            }).ToArray();
    }
}
