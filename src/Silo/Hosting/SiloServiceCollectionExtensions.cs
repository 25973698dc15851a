using Microsoft.Extensions.Options;
using Npgsql;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Cluster.Schema;
using Qwen.Grains;
using Qwen.Grains.Persistence;
using Qwen.Observability.Hosting;
using Qwen.Silo.Observability;
using Qwen.Silo.Runtime;
using Qwen.Silo.Storage;

namespace Qwen.Silo.Hosting;

public static class SiloServiceCollectionExtensions
{
    /// <summary>
    /// Everything a silo runs: the model, the grain runtime, storage and membership (PostgreSQL
    /// when Postgres:ConnectionString is set, otherwise in memory for the embedded mode), the
    /// rendezvous placement check and the lifecycle (join, heartbeat, drain, leave).
    /// </summary>
    public static IServiceCollection AddSilo(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<SiloOptions>(configuration.GetSection(SiloOptions.Section));
        services.Configure<ModelOptions>(configuration.GetSection(ModelOptions.Section));
        var siloOptions = configuration.GetSection(SiloOptions.Section).Get<SiloOptions>() ?? new SiloOptions();
        var endpoint = SiloEndpoint.From(configuration, siloOptions);
        services.AddSingleton(endpoint);
        services.AddSingleton(new SiloIdentity(siloOptions.SiloId ?? DefaultSiloId(endpoint)));

        // A cold start needs the cluster to route around the silo; the embedded silo is the only one, so it starts warm.
        services.AddSingleton(new SiloStartMode(siloOptions.StartCold && IsClustered(configuration)));
        services.AddSingleton<ModelProvisioner>();
        services.AddSingleton<ModelHost>();
        services.AddSingleton(sp => sp.GetRequiredService<ModelHost>().Model);

        if (IsClustered(configuration))
        {
            services.Configure<PostgresOptions>(configuration.GetSection(PostgresOptions.SectionName));
            services.AddSingleton(sp => PostgresDataSourceFactory.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
            foreach (SchemaModule module in ClusterSchema.Modules) services.AddSingleton(module);
            services.AddSingleton<PostgresSchemaMigrator>();
            services.AddHostedService<SchemaMigrationService>();
            services.AddSingleton<IMembershipTable, PostgresMembershipTable>();
            services.AddSingleton<IConversationStore, PostgresConversationStore>();
        }
        else
        {
            services.AddSingleton<IMembershipTable>(_ => new InMemoryMembershipTable());
            services.AddSingleton<IConversationStore, InMemoryConversationStore>();
        }

        services.AddSingleton<MembershipView>();
        services.AddSingleton<IGrainPlacement, RendezvousPlacement>();
        services.AddGrainRuntime(configuration);
        services.AddSingleton<SiloLifecycle>();
        services.AddHostedService(sp => sp.GetRequiredService<SiloLifecycle>());
        // After the lifecycle, which loads the model before the meters read the worker.
        services.AddQwenMetrics();
        services.AddSingleton<SiloMetrics>();
        services.AddSingleton<SiloCallMetrics>();
        services.AddSingleton<InferenceMetrics>();
        services.AddHostedService<SiloMetersService>();
        return services;
    }

    public static bool IsClustered(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration[$"{PostgresOptions.SectionName}:ConnectionString"]);

    private static string DefaultSiloId(SiloEndpoint endpoint)
    {
        int port = Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri) ? uri.Port : 0;
        return $"{Environment.MachineName}-{port}-{Guid.NewGuid().ToString("N")[..6]}";
    }
}
