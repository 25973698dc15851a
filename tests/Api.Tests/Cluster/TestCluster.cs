using System.Globalization;
using System.Text.Json;
using FluentAssertions;
using Qwen.Inference.Building;
using Qwen.Inference.Models;
using Qwen.Observability.Prometheus;
using Qwen.TestSupport;

namespace Qwen.Api.Tests.Cluster;

/// <summary>
/// A real Orleans cluster for a test: its own redis-server (membership) and PostgreSQL server
/// (conversations), silo processes and one Api process (an Orleans client), all on loopback, with the
/// tiny model; everything is killed and deleted on dispose.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    /// <summary>
    /// Failure detection tuned for tests: a probe a second, dead after two missed probes (and the
    /// votes of the others), the membership table re-read every 2 s. Measured: a SIGKILLed silo is
    /// dead in the Api's view within about 3 s (defaults: about 16 s).
    /// </summary>
    public static readonly IReadOnlyList<string> MembershipArguments =
    [
        "--Cluster:Membership:ProbeTimeout=00:00:01",
        "--Cluster:Membership:NumMissedProbesLimit=2",
        "--Cluster:Membership:IAmAliveTablePublishTimeout=00:00:05",
        "--Cluster:Membership:TableRefreshTimeout=00:00:02",
    ];

    private readonly Dictionary<string, ServiceProcess> _silos = [];
    private readonly List<ServiceProcess> _retired = [];
    private IReadOnlyList<string> _siloArguments = [];
    private IReadOnlyList<string> _apiArguments = [];
    private ApiClient? _client;
    private string? _adminKey;

    private TestCluster(RedisServer redis, PostgresServer postgres, string connectionString, string modelDirectory)
    {
        Redis = redis;
        Postgres = postgres;
        ConnectionString = connectionString;
        ModelDirectory = modelDirectory;
    }

    public RedisServer Redis { get; }
    public PostgresServer Postgres { get; }
    public string ModelDirectory { get; }
    public string ConnectionString { get; }
    public string ClusterId { get; } = $"test-{Guid.NewGuid():N}"[..13];
    public ServiceProcess? Api { get; private set; }
    public HttpClient Http => Client.Http;

    /// <summary>The public API of the Api process.</summary>
    public ApiClient Client => _client ?? throw new InvalidOperationException("the Api is not started");
    public IReadOnlyDictionary<string, ServiceProcess> Silos => _silos;
    public string ApiUrl => Api?.Url ?? throw new InvalidOperationException("the Api is not started");

    /// <param name="siloArguments">Extra command-line options for every silo (they override the defaults here).</param>
    /// <param name="apiArguments">Extra command-line options for the Api (e.g. --Autoscale:...).</param>
    /// <param name="adminKey">With a key, the Api checks keys: this one is configured as its admin key and <see cref="Client"/> sends it.</param>
    public static async Task<TestCluster> StartAsync(int silos, IReadOnlyList<string>? siloArguments = null,
        IReadOnlyList<string>? apiArguments = null, string? adminKey = null)
    {
        var redisStart = RedisServer.StartNewAsync(CancellationToken.None);
        var postgresStart = PostgresServer.StartNewAsync(CancellationToken.None);
        string model = Directory.CreateTempSubdirectory("qwen-cluster-model-").FullName;
        string connection;
        try
        {
            ModelDirectoryBuilder.Build(model, QwenConfig.Tiny, new HashWeightSource(QwenConfig.Tiny, 7), new ModelBuildOptions());
            await Task.WhenAll(redisStart, postgresStart);
            connection = await postgresStart.Result.CreateDatabaseAsync("cluster", CancellationToken.None);
        }
        catch
        {
            if (redisStart.IsCompletedSuccessfully) await redisStart.Result.DisposeAsync();
            if (postgresStart.IsCompletedSuccessfully) await postgresStart.Result.DisposeAsync();
            Directory.Delete(model, recursive: true);
            throw;
        }
        var cluster = new TestCluster(redisStart.Result, postgresStart.Result, connection, model)
        {
            _siloArguments = siloArguments ?? [],
            _apiArguments = adminKey is null ? apiArguments ?? []
                : ["--Auth:Disabled=false", "--Auth:Keys:0:Id=test-admin", "--Auth:Keys:0:Tenant=ops", "--Auth:Keys:0:Admin=true",
                    $"--Auth:Keys:0:Key={adminKey}", .. apiArguments ?? []],
            _adminKey = adminKey,
        };
        try
        {
            await Task.WhenAll(Enumerable.Range(1, silos).Select(i => cluster.StartSiloAsync($"s{i}")));
            await cluster.StartApiAsync();
            if (silos > 0) await cluster.WaitForActiveSilosAsync([.. Enumerable.Range(1, silos).Select(i => $"s{i}")], TimeSpan.FromSeconds(60));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <param name="extraArgs">Extra settings (e.g. --Silo:StartCold=true).</param>
    /// <param name="readyPath">What to wait for: /readyz (model loaded) or /healthz (listening, e.g. a cold silo).</param>
    public async Task<ServiceProcess> StartSiloAsync(string siloId, IReadOnlyList<string>? extraArgs = null, string readyPath = "/readyz")
    {
        var silo = ServiceProcess.Start(siloId, RepositoryPaths.BuiltAssembly("Silo", "Qwen.Silo.dll"), FreePort.Next(),
        [
            .. SiloArguments(ConnectionString, ModelDirectory, siloId), .. ClusterArguments(Redis.Configuration, ClusterId),
            $"--Cluster:SiloPort={FreePort.Next()}", $"--Cluster:GatewayPort={FreePort.Next()}", "--Cluster:AdvertisedAddress=127.0.0.1",
            .. _siloArguments, .. extraArgs ?? [],
        ]);
        lock (_silos)
        {
            if (_silos.Remove(siloId, out var old)) _retired.Add(old);
            _silos[siloId] = silo;
        }
        await silo.WaitUntilReadyAsync(TimeSpan.FromSeconds(90), readyPath);
        return silo;
    }

    /// <summary>The settings every test silo runs with: the tiny model, short replies.</summary>
    public static IReadOnlyList<string> SiloArguments(string connectionString, string modelDirectory, string siloId) =>
        [
            $"--Postgres:ConnectionString={connectionString}",
            $"--Model:Path={modelDirectory}",
            "--Model:Threads=1",
            $"--Silo:SiloId={siloId}",
            "--Inference:MaxConcurrentRequests=1",
            "--Conversations:MaxNewTokens=6",
            "--Inference:DefaultMaxNewTokens=6",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Qwen=Information",
        ];

    /// <summary>Redis membership of one cluster, with the fast failure detection of <see cref="MembershipArguments"/>.</summary>
    public static IReadOnlyList<string> ClusterArguments(string redis, string clusterId) =>
        [$"--Cluster:Redis={redis}", $"--Cluster:ClusterId={clusterId}", .. MembershipArguments];

    public async Task StartApiAsync()
    {
        Api = ServiceProcess.Start("api", RepositoryPaths.BuiltAssembly("Api", "Qwen.Api.dll"), FreePort.Next(),
        [
            $"--Cluster:Redis={Redis.Configuration}",
            $"--Cluster:ClusterId={ClusterId}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Qwen=Information",
            // Keys are the subject of their own tests (which give --Auth:Disabled=false); the others call without keys.
            "--Auth:Disabled=true",
            .. _apiArguments,
        ]);
        _client = new ApiClient(Api.Url);
        if (_adminKey is not null) _client.Http.DefaultRequestHeaders.Add("X-Api-Key", _adminKey);
        // Without silos the Api is up but not ready (nothing to serve with).
        await Api.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), _silos.Count == 0 ? "/healthz" : "/readyz");
    }

    /// <summary>Every silo as the Api's /v1/cluster/status shows it now.</summary>
    public async Task<IReadOnlyList<SiloState>> ReadSilosAsync()
    {
        var (status, body) = await Client.GetAsync("/v1/cluster/status");
        if (status != 200) throw new InvalidOperationException($"/v1/cluster/status answered {status}: {body}");
        return [.. body.GetProperty("silos").EnumerateArray().Select(SiloState.Of)];
    }

    /// <summary>Polls the Api's view until <paramref name="condition"/> holds for the silos; returns them.</summary>
    public async Task<IReadOnlyList<SiloState>> WaitForSilosAsync(Func<IReadOnlyList<SiloState>, bool> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var silos = await ReadSilosAsync();
            if (condition(silos)) return silos;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"not within {timeout}: {what}; the Api sees {string.Join(", ", silos)}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the Api sees exactly these silos active (answering, model loaded), and routes to them.</summary>
    public Task WaitForActiveSilosAsync(IReadOnlyCollection<string> expected, TimeSpan timeout) =>
        WaitForSilosAsync(silos => silos.Where(s => s.IsActive).Select(s => s.Id).ToHashSet().SetEquals(expected),
            $"active silos [{string.Join(", ", expected)}]", timeout);

    /// <summary>A silo's inference load, read from its own /metrics (live: the gauges are read when scraped).</summary>
    public async Task<SiloLoad> ReadLoadAsync(string siloId)
    {
        string text = await Http.GetStringAsync(Silos[siloId].Url + "/metrics");
        return SiloLoad.Parse(text);
    }

    /// <summary>Polls a silo's load until <paramref name="condition"/> holds.</summary>
    public async Task<SiloLoad> WaitForLoadAsync(string siloId, Func<SiloLoad, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var load = await ReadLoadAsync(siloId);
            if (condition(load)) return load;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"silo {siloId} did not reach: {what}; last load {load}");
            await Task.Delay(10);
        }
    }

    public Task<(int Status, JsonElement Body)> PostAsync(string path, object body, string? idempotencyKey = null) =>
        Client.PostAsync(path, body, idempotencyKey);

    public Task<(int Status, JsonElement Body)> SendRawAsync(HttpMethod method, string path, string? body, string contentType = "application/json") =>
        Client.SendRawAsync(method, path, body, contentType);

    public Task<(int Status, JsonElement Body)> GetAsync(string path) => Client.GetAsync(path);

    /// <summary>A user's stored messages; none when the conversation does not exist (404: nothing was ever stored).</summary>
    public async Task<JsonElement[]> MessagesAsync(string user)
    {
        var (status, body) = await GetAsync($"/v1/conversations/{user}");
        status.Should().BeOneOf([200, 404], $"{user}'s history is readable or does not exist");
        return status == 404 ? [] : body.GetProperty("messages").EnumerateArray().ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        // For diagnosing a failed run: QWEN_TEST_LOGS=DIR keeps every process's last output lines.
        if (Environment.GetEnvironmentVariable("QWEN_TEST_LOGS") is { Length: > 0 } logs)
        {
            string directory = Directory.CreateDirectory(Path.Combine(logs, ClusterId)).FullName;
            foreach (var process in _silos.Values.Concat(_retired).Append(Api).OfType<ServiceProcess>())
                await File.AppendAllTextAsync(Path.Combine(directory, $"{process.Name}.log"), process.RecentOutput);
        }
        _client?.Dispose();
        if (Api is not null) await Api.DisposeAsync();
        foreach (var silo in _silos.Values.Concat(_retired)) await silo.DisposeAsync();
        await Task.WhenAll(Redis.DisposeAsync().AsTask(), Postgres.DisposeAsync().AsTask());
        try
        {
            Directory.Delete(ModelDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

/// <summary>One silo in the Api's /v1/cluster/status.</summary>
/// <param name="Status">active, cold, warming, stopping, joining or dead.</param>
public sealed record SiloState(string Id, string Status, bool Reachable, bool ModelLoaded, int Queue, int Running, int Load)
{
    public bool IsActive => Status == "active" && Reachable && ModelLoaded;

    public static SiloState Of(JsonElement silo) => new(silo.GetProperty("id").GetString()!, silo.GetProperty("status").GetString()!,
        silo.GetProperty("reachable").GetBoolean(), silo.GetProperty("model_loaded").GetBoolean(), silo.GetProperty("queue").GetInt32(),
        silo.GetProperty("running").GetInt32(), silo.GetProperty("load").GetInt32());

    public override string ToString() => $"{Id}:{Status}{(Reachable ? "" : "(unreachable)")}";
}

/// <summary>A silo's inference worker and conversations, from its Prometheus metrics.</summary>
/// <param name="DecodedRows">Sequence rows of every decode step since start (the step batch-size histogram's sum).</param>
public sealed record SiloLoad(int Queued, int Running, int BatchSize, long Refused, long Cancelled, long Expired, long DecodedRows,
    bool Degraded, int QueuedTurns, int RunningTurns)
{
    public static SiloLoad Parse(string prometheusText)
    {
        var families = PrometheusTextParser.Parse(prometheusText);
        double Value(string sample) => families.SelectMany(f => f.Samples).Where(s => s.Name == sample).Sum(s => s.Value);
        return new SiloLoad((int)Value("qwen_inference_queue_depth"), (int)Value("qwen_inference_running"), (int)Value("qwen_inference_batch_size"),
            (long)Value("qwen_inference_refused_total"), (long)Value("qwen_inference_cancelled_total"), (long)Value("qwen_inference_expired_total"),
            (long)Value("qwen_inference_step_batch_size_sum"), Value("qwen_inference_degraded") > 0, (int)Value("qwen_silo_queued_turns"),
            (int)Value("qwen_silo_running_turns"));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"queued {Queued}, running {Running}, batch {BatchSize}, refused {Refused}, cancelled {Cancelled}, expired {Expired}, " +
        $"decoded rows {DecodedRows}, degraded {Degraded}, turns queued {QueuedTurns} running {RunningTurns}");
}
