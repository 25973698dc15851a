using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Storage;
using Qwen.ClusterTransport;
using Qwen.Grains;
using Qwen.Grains.Persistence;
using Qwen.Grains.Placement;
using Qwen.Grains.Security;
using Qwen.Inference.Prompts;
using Qwen.Observability.Hosting;
using Qwen.Silo.Observability;
using Qwen.Silo.Placement;
using Qwen.Silo.Storage;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo.Hosting;

public static class SiloHostingExtensions
{
    /// <summary>
    /// Everything a silo runs, on Orleans: the model and its inference worker, the grains, clustering
    /// (Redis when Cluster:Redis is set, otherwise localhost development clustering) and conversation
    /// storage (PostgreSQL when Postgres:ConnectionString is set, otherwise Orleans' memory storage).
    /// </summary>
    public static IHostApplicationBuilder AddQwenSilo(this IHostApplicationBuilder builder)
    {
        // Model calls keep both cores busy for seconds; timers and continuations must not wait for the pool to grow.
        ThreadPoolFloor.Ensure();
        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddOptions<SiloOptions>().Bind(configuration.GetSection(SiloOptions.Section));
        services.AddOptions<SiloClusterOptions>().Bind(configuration.GetSection(SiloClusterOptions.Section));
        services.AddOptions<ModelOptions>().Bind(configuration.GetSection(ModelOptions.Section));
        services.Configure<InferenceWorkerOptions>(configuration.GetSection(InferenceWorkerOptions.SectionName));
        services.Configure<SentimentPromptOptions>(configuration.GetSection(SentimentPromptOptions.SectionName));
        services.Configure<ChatPromptOptions>(configuration.GetSection(ChatPromptOptions.SectionName));
        services.AddOptions<ConversationOptions>().Bind(configuration.GetSection(ConversationOptions.SectionName))
            .Validate(o => o.Validate() is not null).ValidateOnStart();
        var siloOptions = configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var cluster = configuration.GetSection(SiloClusterOptions.Section).Get<SiloClusterOptions>() ?? new SiloClusterOptions();
        var conversations = configuration.GetSection(ConversationOptions.SectionName).Get<ConversationOptions>() ?? new ConversationOptions();

        // Without a cluster, unconfigured ports are picked free, so several embedded services can share a host.
        if (!cluster.IsClustered)
            cluster = cluster with
            {
                SiloPort = configuration[$"{SiloClusterOptions.Section}:SiloPort"] is null ? 0 : cluster.SiloPort,
                GatewayPort = configuration[$"{SiloClusterOptions.Section}:GatewayPort"] is null ? 0 : cluster.GatewayPort,
            };
        var endpoints = ResolvePorts(cluster);
        services.AddSingleton(new SiloIdentity(siloOptions.SiloId ?? $"{Environment.MachineName}-{endpoints.SiloPort}"));
        services.AddSingleton<ModelProvisioner>();
        services.AddSingleton<ModelHost>();
        services.AddSingleton<SiloModel>();
        services.AddSingleton<ISiloModel>(sp => sp.GetRequiredService<SiloModel>());
        services.AddHostedService(sp => sp.GetRequiredService<SiloModel>());
        services.AddSingleton<ConversationActivity>();

        bool postgres = !string.IsNullOrWhiteSpace(configuration[$"{PostgresOptions.SectionName}:ConnectionString"]);
        if (postgres)
        {
            services.AddOptions<PostgresOptions>().Bind(configuration.GetSection(PostgresOptions.SectionName));
            services.AddSingleton(sp => PostgresDataSourceFactory.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value,
                sp.GetRequiredService<ILoggerFactory>()));
            services.AddSingleton(ConversationSchema.Module);
            services.AddSingleton(ApiKeySchema.Module);
            services.AddSingleton<PostgresSchemaMigrator>();
            // Before Orleans starts: a silo that cannot reach its database stops here with one clear error.
            services.AddHostedService<SchemaMigrationService>();
            services.AddSingleton<IConversationStore, PostgresConversationStore>();
            services.AddSingleton<IApiKeyStore, PostgresApiKeyStore>();
        }
        else
        {
            services.AddSingleton<IApiKeyStore, NoApiKeyStore>();
        }

        services.AddQwenMetrics();
        services.AddSingleton<SiloMetrics>();
        services.AddSingleton<InferenceMetrics>();
        services.AddHostedService<SiloMetersService>();

        builder.UseOrleans(silo =>
        {
            // Explicitly: the embedded default loads this assembly at run time, outside the host's dependency graph.
            silo.Services.AddSerializer(serializer => serializer.AddAssembly(typeof(ConversationGrain).Assembly)
                .AddAssembly(typeof(Qwen.Grains.Interfaces.IConversationGrain).Assembly));
            if (cluster.IsClustered)
            {
                silo.UseRedisClustering(cluster.Redis!);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = cluster.ClusterId;
                    o.ServiceId = cluster.ServiceId;
                });
                var advertised = AdvertisedAddress(cluster);
                silo.Configure<EndpointOptions>(o =>
                {
                    o.AdvertisedIPAddress = advertised;
                    o.SiloPort = endpoints.SiloPort;
                    o.GatewayPort = endpoints.GatewayPort;
                    var listen = cluster.ListenOnAdvertisedAddressOnly ? advertised : IPAddress.Any;
                    o.SiloListeningEndpoint = new IPEndPoint(listen, endpoints.SiloPort);
                    o.GatewayListeningEndpoint = new IPEndPoint(listen, endpoints.GatewayPort);
                });
                silo.UseClusterTls(configuration.GetSection(ClusterTlsOptions.Section).Get<ClusterTlsOptions>() ?? new ClusterTlsOptions());
            }
            else
            {
                silo.UseLocalhostClustering(endpoints.SiloPort, endpoints.GatewayPort, serviceId: cluster.ServiceId, clusterId: cluster.ClusterId);
            }
            silo.Services.Configure<ClusterMembershipOptions>(configuration.GetSection($"{SiloClusterOptions.Section}:Membership"));

            if (postgres)
                silo.Services.AddKeyedSingleton<IGrainStorage>(ConversationGrain.StorageName,
                    (sp, _) => new PostgresConversationGrainStorage(sp.GetRequiredService<IConversationStore>()));
            else
                silo.AddMemoryGrainStorage(ConversationGrain.StorageName);

            // Grain and silo statistics for the Orleans Dashboard, which the Api serves.
            silo.AddDashboard();
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, TurnDrain>();
            silo.Services.AddSingleton<WarmSilos>();
            silo.Services.AddHostedService(sp => sp.GetRequiredService<WarmSilos>());
            silo.AddPlacementDirector<SiloKeyedPlacement, SiloKeyedPlacementDirector>();
            silo.Services.AddPlacementDirector<WarmSiloPlacement>(sp => new WarmSiloPlacementDirector(sp.GetRequiredService<WarmSilos>()));
            silo.Configure<GrainCollectionOptions>(o =>
                o.ClassSpecificCollectionAge[typeof(ConversationGrain).FullName!] = conversations.IdleTimeout);
        });
        return builder;
    }

    /// <summary>The configured ports; 0 takes a free one.</summary>
    private static (int SiloPort, int GatewayPort) ResolvePorts(SiloClusterOptions cluster) =>
        (cluster.SiloPort == 0 ? FreePort() : cluster.SiloPort, cluster.GatewayPort == 0 ? FreePort() : cluster.GatewayPort);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IPAddress AdvertisedAddress(SiloClusterOptions cluster)
    {
        if (!string.IsNullOrWhiteSpace(cluster.AdvertisedAddress))
        {
            return IPAddress.TryParse(cluster.AdvertisedAddress, out var ip) ? ip
                : Dns.GetHostAddresses(cluster.AdvertisedAddress).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        }
        return Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? IPAddress.Loopback;
    }
}
