using System.Collections.Concurrent;
using System.Diagnostics;
using FluentAssertions;
using Npgsql;
using Qwen.Api.Tests.Cluster;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Cluster.Routing;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Qwen.Api.Tests.MultiHost;

/// <summary>
/// Silos on three separate network hosts (network namespaces with veth links), PostgreSQL and the
/// Api on the router side. Under chat load one host's link is cut — no clean shutdown, packets
/// simply vanish — its users fail over to the other silos and no acknowledged turn is lost; the
/// link comes back and the silo rejoins and serves again.
/// </summary>
public sealed class MultiHostFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int SiloPort = 7101;
    private readonly ConcurrentDictionary<string, ServiceProcess> _silos = new();
    private readonly List<ServiceProcess> _retired = [];
    private VirtualNetwork? _network;
    private PostgresServer? _postgres;
    private ServiceProcess? _api;
    private ApiClient? _client;
    private string? _model;
    private string _siloConnection = "";
    private string _adminConnection = "";

    public async Task InitializeAsync()
    {
        if (VirtualNetwork.Unavailable() is not null) return;
        _network = await VirtualNetwork.CreateAsync(hosts: 3, CancellationToken.None);
        _postgres = await PostgresServer.StartNewAsync(CancellationToken.None, [_network.Gateway], _network.Cidr);
        _adminConnection = await _postgres.CreateDatabaseAsync("cluster", CancellationToken.None);
        _siloConnection = new NpgsqlConnectionStringBuilder(_adminConnection) { Host = _network.Gateway }.ConnectionString;
        _model = Directory.CreateTempSubdirectory("qwen-multihost-model-").FullName;
        ModelDirectoryBuilder.Build(_model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => StartSiloAsync($"s{i + 1}", _network.Hosts[i])));
        _api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Postgres:ConnectionString={_adminConnection}",
            "--Routing:MembershipRefresh=00:00:00.500",
            // A call stuck on a host that vanished gives up after this; the client then retries the same turn.
            "--Routing:CallTimeout=00:00:10",
            "--Routing:ConnectTimeout=00:00:01",
            "--Logging:LogLevel:Default=Warning",
        ]);
        _client = new ApiClient(_api.Url);
        await _api.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_api is not null) await _api.DisposeAsync();
        foreach (var silo in _silos.Values.Concat(_retired)) await silo.DisposeAsync();
        if (_postgres is not null) await _postgres.DisposeAsync();
        if (_network is not null) await _network.DisposeAsync();
        if (_model is not null) Directory.Delete(_model, recursive: true);
    }

    [NetworkNamespacesFact]
    public async Task A_host_whose_link_is_cut_loses_no_acknowledged_turn_and_its_silo_rejoins_when_the_link_returns()
    {
        var network = _network!;
        var traffic = new ChatTraffic(_client!);
        string[] users = Enumerable.Range(0, 60).Select(i => $"mh-{i:D2}").ToArray();
        string[] silos = ["s1", "s2", "s3"];
        string[] s2Users = users.Where(u => RendezvousHash.Owner(u, silos) == "s2").ToArray();
        s2Users.Should().NotBeEmpty();
        var attempts = new ConcurrentBag<int>();

        await RunRoundAsync(traffic, users, 1, attempts);
        traffic.Acked.Values.Select(t => t.Single().Silo).Distinct().Should().BeEquivalentTo(silos, "every host serves its users");

        // Round 2: cut s2's link while its turns are in flight.
        int acked = 0;
        var cutAt = new TaskCompletionSource();
        var round2 = RunRoundAsync(traffic, users, 2, attempts, () =>
        {
            if (Interlocked.Increment(ref acked) == 20) cutAt.TrySetResult();
        });
        await Task.WhenAny(cutAt.Task, round2);
        if (round2.IsFaulted) await round2;
        await network.CutAsync(network.Hosts[1], CancellationToken.None);
        var sinceCut = Stopwatch.StartNew();
        var declaredDead = WaitForStatusAsync("s2", SiloStatus.Dead, TimeSpan.FromSeconds(30)).ContinueWith(_ => sinceCut.Elapsed, TaskScheduler.Default);
        await round2;
        var deadAfter = await declaredDead;
        (await ReadSiloAsync("s2"))!.Status.Should().Be(SiloStatus.Dead, $"s2 is declared dead once its heartbeats stop:\n{_silos["s2"].RecentOutput}");
        output.WriteLine($"s2 declared dead {deadAfter.TotalSeconds:F1} s after its link was cut; round 2 needed {attempts.Sum() - attempts.Count} client retries");

        // Round 3 without s2: its users are served by the others.
        await RunRoundAsync(traffic, users, 3, attempts);
        foreach (string user in s2Users)
            traffic.Acked[user].Single(t => t.Round == 3).Silo.Should().Be(RendezvousHash.Owner(user, ["s1", "s3"]), $"{user} moved to its next silo");

        // The link returns: s2 learns it was declared dead and stops (exit code 3); its supervisor
        // (systemd's Restart= in deploy/) starts it again and it rejoins.
        await network.RestoreAsync(network.Hosts[1], CancellationToken.None);
        output.WriteLine("restored s2's link");
        var old = _silos["s2"];
        var waited = Stopwatch.StartNew();
        while (!old.HasExited && waited.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(200);
        old.HasExited.Should().BeTrue($"s2 must notice it was declared dead once its link is back:\n{old.RecentOutput}");
        old.ExitCode.Should().Be(3);
        output.WriteLine($"s2 stopped itself {waited.Elapsed.TotalSeconds:F1} s after its link came back (exit code 3)");
        lock (_retired) _retired.Add(old);
        await StartSiloAsync("s2", network.Hosts[1]);
        await WaitForStatusAsync("s2", SiloStatus.Active, TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2));

        await RunRoundAsync(traffic, users, 4, attempts);
        s2Users.Select(u => traffic.Acked[u].Single(t => t.Round == 4).Silo).Should().AllBe("s2", "traffic reaches the rejoined silo");

        // No acknowledged turn lost or doubled: each history is exactly the acknowledged turns, in order.
        await traffic.VerifyHistoriesAsync();
        traffic.Acked.Values.Should().OnlyContain(t => t.Count == 4);
        output.WriteLine($"{attempts.Count} turns acknowledged; {attempts.Count(a => a > 1)} needed a client retry");
    }

    /// <summary>Starts a silo in the host's namespace, again if it stops with exit code 3 (declared dead), as systemd's Restart= does.</summary>
    private async Task StartSiloAsync(string siloId, VirtualHost host)
    {
        string url = $"http://{host.Address}:{SiloPort}";
        string dll = RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll");
        for (int start = 1; ; start++)
        {
            var silo = ServiceProcess.StartCommand(siloId, url, VirtualNetwork.IpCommand,
                VirtualNetwork.InHost(host, ["dotnet", dll, $"--urls={url}",
                    .. TestCluster.SiloArguments(_siloConnection, _model!, siloId),
                    // An isolated silo's database calls give up quickly, so it notices the cluster's verdict soon after the link returns ...
                    "--Postgres:CommandTimeout=00:00:05",
                    // ... and a transaction it left open when its link went down holds its locks only briefly.
                    "--Postgres:IdleInTransactionTimeout=00:00:02"]),
                Path.GetDirectoryName(dll)!);
            _silos[siloId] = silo;
            try
            {
                await silo.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
                return;
            }
            catch (InvalidOperationException) when (silo.HasExited && silo.ExitCode == 3 && start < 3)
            {
                output.WriteLine($"{siloId} was declared dead while starting (a heartbeat came too late); starting it again");
                lock (_retired) _retired.Add(silo);
            }
        }
    }

    private static Task RunRoundAsync(ChatTraffic traffic, string[] users, int round, ConcurrentBag<int> attempts, Action? onAcked = null) =>
        Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 12 }, async (user, _) =>
        {
            var (_, tries) = await traffic.SendUntilAckedAsync(user, round, TimeSpan.FromSeconds(90));
            attempts.Add(tries);
            onAcked?.Invoke();
        });

    private async Task<SiloRecord?> ReadSiloAsync(string siloId)
    {
        await using var source = PostgresDataSourceFactory.Create(new PostgresOptions { ConnectionString = _adminConnection });
        var table = new PostgresMembershipTable(source, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresMembershipTable>.Instance);
        return (await table.ReadAllAsync(CancellationToken.None)).SingleOrDefault(s => s.SiloId == siloId);
    }

    private async Task WaitForStatusAsync(string siloId, SiloStatus status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var silo = await ReadSiloAsync(siloId);
            if (silo?.Status == status && (status != SiloStatus.Active || silo.Load.ModelLoaded)) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{siloId} did not become {status} (is {silo?.Status})");
            await Task.Delay(100);
        }
    }
}
