using System.Net.Http.Json;
using System.Text.Json;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.TestSupport;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A real cluster for a test: its own PostgreSQL server, silo processes and one Api process,
/// all on loopback, with the tiny model; everything is killed and deleted on dispose.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan DeadSiloTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, ServiceProcess> _silos = [];
    private readonly string _modelDirectory;
    private IReadOnlyList<string> _siloArguments = [];
    private IReadOnlyList<string> _apiArguments = [];

    private TestCluster(PostgresServer postgres, string connectionString, string modelDirectory)
    {
        Postgres = postgres;
        ConnectionString = connectionString;
        _modelDirectory = modelDirectory;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
    }

    public PostgresServer Postgres { get; }
    public string ModelDirectory => _modelDirectory;
    public string ConnectionString { get; }
    public ServiceProcess? Api { get; private set; }
    public HttpClient Http { get; }
    public IReadOnlyDictionary<string, ServiceProcess> Silos => _silos;
    public string ApiUrl => Api?.Url ?? throw new InvalidOperationException("the Api is not started");

    /// <param name="siloArguments">Extra command-line options for every silo (they override the defaults here).</param>
    /// <param name="apiArguments">Extra command-line options for the Api.</param>
    public static async Task<TestCluster> StartAsync(int silos, IReadOnlyList<string>? siloArguments = null, IReadOnlyList<string>? apiArguments = null)
    {
        var postgres = await PostgresServer.StartNewAsync(CancellationToken.None);
        string connection = await postgres.CreateDatabaseAsync("cluster", CancellationToken.None);
        string model = Directory.CreateTempSubdirectory("qwen-cluster-model-").FullName;
        ModelDirectoryBuilder.Build(model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
        var cluster = new TestCluster(postgres, connection, model)
        {
            _siloArguments = siloArguments ?? [],
            _apiArguments = apiArguments ?? [],
        };
        try
        {
            await Task.WhenAll(Enumerable.Range(1, silos).Select(i => cluster.StartSiloAsync($"s{i}")));
            await cluster.StartApiAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async Task<ServiceProcess> StartSiloAsync(string siloId)
    {
        var silo = ServiceProcess.Start(siloId, RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), FreePort.Next(),
        [
            $"--Postgres:ConnectionString={ConnectionString}",
            $"--Model:Path={_modelDirectory}",
            "--Model:Threads=1",
            $"--Silo:SiloId={siloId}",
            $"--Silo:HeartbeatInterval={HeartbeatInterval}",
            $"--Silo:DeadSiloTimeout={DeadSiloTimeout}",
            "--Inference:MaxConcurrentRequests=1",
            "--Conversations:MaxNewTokens=6",
            "--Inference:DefaultMaxNewTokens=6",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Qwen=Information",
            .. _siloArguments,
        ]);
        lock (_silos) _silos[siloId] = silo;
        await silo.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        return silo;
    }

    public async Task StartApiAsync()
    {
        Api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Postgres:ConnectionString={ConnectionString}",
            "--Routing:MembershipRefresh=00:00:00.500",
            "--Logging:LogLevel:Default=Warning",
            .. _apiArguments,
        ]);
        await Api.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>A silo's inference worker load snapshot, read from its internal endpoint.</summary>
    public async Task<Qwen.Grains.Interfaces.WorkerLoad> ReadWorkerLoadAsync(string siloId)
    {
        var load = await Http.GetFromJsonAsync<Qwen.Grains.Interfaces.WorkerLoad>(
            Silos[siloId].Url + Qwen.Cluster.Transport.SiloRoutes.WorkerLoad, Qwen.Cluster.Transport.TransportJson.Options);
        return load ?? throw new InvalidOperationException($"silo {siloId} sent no load");
    }

    /// <summary>Polls a silo's load until <paramref name="condition"/> holds.</summary>
    public async Task<Qwen.Grains.Interfaces.WorkerLoad> WaitForLoadAsync(string siloId, Func<Qwen.Grains.Interfaces.WorkerLoad, bool> condition,
        string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var load = await ReadWorkerLoadAsync(siloId);
            if (condition(load)) return load;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"silo {siloId} did not reach: {what}; last load {load}");
            await Task.Delay(10);
        }
    }

    /// <summary>The membership table as the cluster sees it.</summary>
    public async Task<IReadOnlyList<SiloRecord>> ReadMembershipAsync()
    {
        await using var source = PostgresDataSourceFactory.Create(new PostgresOptions { ConnectionString = ConnectionString });
        var table = new PostgresMembershipTable(source, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresMembershipTable>.Instance);
        return await table.ReadAllAsync(CancellationToken.None);
    }

    /// <summary>Waits until the Api's routing and every live silo see exactly these active silos.</summary>
    public async Task WaitForActiveSilosAsync(IReadOnlyCollection<string> expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var active = (await ReadMembershipAsync()).Where(s => s.Status == SiloStatus.Active).Select(s => s.SiloId).ToHashSet();
            if (active.SetEquals(expected))
            {
                // One more refresh period for the Api and the silos to read the same list.
                await Task.Delay(HeartbeatInterval * 3);
                return;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"active silos did not become [{string.Join(", ", expected)}]");
    }

    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ApiUrl + path) { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await Http.SendAsync(request);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public async Task<(int Status, JsonElement Body)> SendRawAsync(HttpMethod method, string path, string? body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, ApiUrl + path);
        if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, contentType);
        using var response = await Http.SendAsync(request);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public async Task<(int Status, JsonElement Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(ApiUrl + path);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (Api is not null) await Api.DisposeAsync();
        foreach (var silo in _silos.Values) await silo.DisposeAsync();
        await Postgres.DisposeAsync();
        try
        {
            Directory.Delete(_modelDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
