using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using Orleans.TestingHost;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Grains.Placement;
using Qwen.Silo.Placement;
using Qwen.Silo.Storage;

namespace Qwen.Grains.Tests.Support;

/// <summary>How a test cluster is set up; the defaults keep replies short and the suite fast.</summary>
internal sealed record TestClusterSettings
{
    public short Silos { get; init; } = 1;

    public InferenceWorkerOptions Inference { get; init; } = new() { DefaultMaxNewTokens = 6, MaxNewTokensLimit = 64, ContextWindow = 1024 };

    public ConversationOptions Conversations { get; init; } = new() { MaxNewTokens = 6 };

    /// <summary>
    /// Null: Orleans' memory grain storage (as the embedded silo). Otherwise the clustered silo's
    /// grain storage adapter over this store, which outlives the cluster (a restart on the same storage).
    /// </summary>
    public IConversationStore? Store { get; init; }

    /// <summary>Silos (by instance number) started cold: registered, model not loaded.</summary>
    public int[] ColdSilos { get; init; } = [];
}

/// <summary>
/// An in-process Orleans cluster whose silos are configured as the real silo configures its grains:
/// conversation storage named <see cref="ConversationGrain.StorageName"/>, the placement directors
/// and the warm-silo view, and a model per silo whose worker is a real <see cref="InferenceWorker"/> on
/// the shared tiny model. Every call reaching a worker grain is watched by <see cref="Observer"/>.
/// </summary>
internal sealed class QwenTestCluster : IAsyncDisposable
{
    // The conversation grain's state name (a private constant of the grain); memory storage keys by it.
    private const string ConversationStateName = "conversation";

    private QwenTestCluster(InProcessTestCluster cluster, WorkerCallObserver observer, TestClusterSettings settings)
    {
        Cluster = cluster;
        Observer = observer;
        Settings = settings;
    }

    public InProcessTestCluster Cluster { get; }
    public WorkerCallObserver Observer { get; }
    public TestClusterSettings Settings { get; }
    public IClusterClient Client => Cluster.Client;

    public static async Task<QwenTestCluster> StartAsync(TinyModelFixture model, TestClusterSettings? settings = null)
    {
        settings ??= new TestClusterSettings();
        // As the silo host does: model calls must not leave timers waiting for the pool to grow.
        ThreadPoolFloor.Ensure();
        var observer = new WorkerCallObserver();
        var builder = new InProcessTestClusterBuilder(settings.Silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((silo, orleans) => ConfigureSilo(orleans, silo.SiloName, model, settings, observer));
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return new QwenTestCluster(cluster, observer, settings);
    }

    private static void ConfigureSilo(ISiloBuilder orleans, string siloName, TinyModelFixture model, TestClusterSettings settings,
        WorkerCallObserver observer)
    {
        var services = orleans.Services;
        var identity = new SiloIdentity(siloName);
        bool cold = settings.ColdSilos.Any(i => siloName == SiloName(i));
        services.AddSingleton(identity);
        services.AddSingleton(Options.Create(settings.Conversations));
        services.AddSingleton<ConversationActivity>();
        services.AddSingleton(_ => new TestSiloModel(model.Model, settings.Inference, identity, cold, observer));
        services.AddSingleton<ISiloModel>(sp => sp.GetRequiredService<TestSiloModel>());

        if (settings.Store is { } store)
            services.AddKeyedSingleton<IGrainStorage>(ConversationGrain.StorageName, (_, _) => new PostgresConversationGrainStorage(store));
        else
            orleans.AddMemoryGrainStorage(ConversationGrain.StorageName);

        services.AddSingleton<WarmSilos>();
        services.AddHostedService(sp => sp.GetRequiredService<WarmSilos>());
        orleans.AddPlacementDirector<SiloKeyedPlacement, SiloKeyedPlacementDirector>();
        services.AddPlacementDirector<WarmSiloPlacement>(sp => new WarmSiloPlacementDirector(sp.GetRequiredService<WarmSilos>()));
        orleans.AddIncomingGrainCallFilter(observer.For(siloName));
    }

    /// <summary>The name, and so the <see cref="SiloIdentity"/>, the test host gives silo number <paramref name="instance"/>.</summary>
    public static string SiloName(int instance) => $"Silo_{instance}";

    public IConversationGrain Conversation(string userId) => Client.GetGrain<IConversationGrain>(userId);

    public IInferenceWorker WorkerGrain => Client.GetGrain<IInferenceWorker>(0);

    public InProcessSiloHandle Silo(int instance) => Cluster.Silos.Single(s => s.Name == SiloName(instance));

    public IServiceProvider Services(int instance) => Silo(instance).ServiceProvider;

    public TestSiloModel Model(int instance) => Services(instance).GetRequiredService<TestSiloModel>();

    /// <summary>The silo's inference worker (its one engine).</summary>
    public InferenceWorker Worker(int instance = 0) => Model(instance).Worker;

    public ConversationActivity Activity(int instance) => Services(instance).GetRequiredService<ConversationActivity>();

    public ISiloGrain SiloGrain(int instance) =>
        Client.GetGrain<ISiloGrain>(SiloGrainKey.For(Silo(instance).SiloAddress.ToParsableString()));

    /// <summary>What the conversation storage holds for the user, read past every activation.</summary>
    public async Task<IReadOnlyList<StoredTurn>> StoredTurnsAsync(string userId)
    {
        var storage = Services(0).GetRequiredKeyedService<IGrainStorage>(ConversationGrain.StorageName);
        var state = new GrainState<ConversationGrainState>(new ConversationGrainState());
        await storage.ReadStateAsync(ConversationStateName, Conversation(userId).GetGrainId(), state);
        return state.State?.Turns ?? [];
    }

    /// <summary>
    /// Waits until every silo's placement sees each silo as it is (warm or cold): until then a silo
    /// places conversations on itself only.
    /// </summary>
    public async Task WaitForPlacementViewAsync()
    {
        var silos = Cluster.Silos.ToArray();
        await TestTimeout.UntilAsync(() => silos.All(viewer =>
        {
            var view = viewer.ServiceProvider.GetRequiredService<WarmSilos>();
            return silos.All(s =>
                view.IsWarm(s.SiloAddress) == (s.ServiceProvider.GetRequiredService<ISiloModel>().State == SiloStatusReport.Active));
        }), TimeSpan.FromSeconds(30), "every silo's placement knows which silos are warm");
    }

    public async ValueTask DisposeAsync()
    {
        Observer.Release();
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}
