using System.Collections.Concurrent;
using FluentAssertions;
using Qwen.Cluster.Membership;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// deploy/autoscale.sh acting on GET /v1/cluster/scale: heavy chat load grows the cluster from
/// one silo to three, a light trickle lets it shrink back to one, and no request fails meanwhile.
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
        _cluster = await TestCluster.StartAsync(silos: 0,
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
        var siloArgs = TestCluster.SiloArguments(_cluster.ConnectionString, _cluster.ModelDirectory, "unused").Where(a => !a.StartsWith("--Silo:SiloId=", StringComparison.Ordinal));
        _loop = ServiceProcess.StartCommand("autoscale", _cluster.ApiUrl, "bash",
            [script, "--api", _cluster.ApiUrl, "--interval", "0.5", "--base-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--id-prefix", "auto", "--log-dir", _logDirectory, "--", "dotnet", siloDll, .. siloArgs],
            RepositoryPaths.Root);

        await WaitForActiveCountAsync(1, TimeSpan.FromSeconds(90));
        var traffic = new ChatTraffic(_cluster);
        var failures = new ConcurrentQueue<string>();
        int sent = 0;

        // Heavy load: 16 users chatting without pause.
        using (var heavy = new CancellationTokenSource())
        {
            var load = RunLoadAsync(traffic, "heavy", 16, failures, () => Interlocked.Increment(ref sent), heavy.Token);
            await WaitForActiveCountAsync(3, TimeSpan.FromSeconds(120), failures);
            output.WriteLine($"three silos active after {sent} turns");
            await Task.Delay(TimeSpan.FromSeconds(3));
            await heavy.CancelAsync();
            await load;
        }
        int afterGrowth = sent;

        // A trickle (two users) keeps requests flowing while the loop stops two silos.
        using (var light = new CancellationTokenSource())
        {
            var trickle = RunLoadAsync(traffic, "light", 2, failures, () => Interlocked.Increment(ref sent), light.Token);
            await WaitForActiveCountAsync(1, TimeSpan.FromSeconds(120), failures);
            await Task.Delay(TimeSpan.FromSeconds(2));
            await light.CancelAsync();
            await trickle;
        }
        output.WriteLine($"{afterGrowth} turns while growing, {sent - afterGrowth} while shrinking");

        failures.Should().BeEmpty("no request may fail while silos join or leave");
        await traffic.VerifyHistoriesAsync();
        traffic.Acked.Values.SelectMany(t => t).Select(t => t.Silo).Distinct().Should().HaveCount(3, "all three silos served turns");
        var members = await _cluster.ReadMembershipAsync();
        members.Where(s => s.Status == SiloStatus.Dead).Should().HaveCount(2, "the two silos the loop stopped left the cluster");
        _loop.RecentOutput.Should().Contain("stopped (exit 0)").And.NotContain("exited on its own");
        output.WriteLine(_loop.RecentOutput);

        (await _loop.StopGracefullyAsync(TimeSpan.FromSeconds(60))).Should().Be(0);
        (await SiloProcessesAsync()).Should().BeEmpty("stopping the loop stops its silos");
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

    private async Task WaitForActiveCountAsync(int count, TimeSpan timeout, ConcurrentQueue<string>? failures = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var members = await _cluster.ReadMembershipAsync();
            int active = members.Count(s => s.Status == SiloStatus.Active && s.Load.ModelLoaded);
            int live = members.Count(s => s.Status is not SiloStatus.Dead);
            if (active == count && live == count) return;
            if (failures is { IsEmpty: false }) throw new InvalidOperationException($"requests failed: {string.Join("; ", failures.Take(5))}");
            if (DateTime.UtcNow > deadline)
            {
                var (_, scale) = await _cluster.GetAsync("/v1/cluster/scale");
                throw new TimeoutException($"{active} active silos, not {count}; scale signal {scale}\nloop output:\n{_loop?.RecentOutput}");
            }
            await Task.Delay(200);
        }
    }

    private async Task<IReadOnlyList<System.Diagnostics.Process>> SiloProcessesAsync()
    {
        await Task.Yield();
        return System.Diagnostics.Process.GetProcessesByName("dotnet")
            .Where(p =>
            {
                try
                {
                    return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("--Silo:SiloId=auto-", StringComparison.Ordinal)
                           && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(_cluster.ConnectionString.Split(';').First(s => s.StartsWith("Port=", StringComparison.Ordinal)), StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
            }).ToArray();
    }
}
