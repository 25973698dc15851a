using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Qwen.Api.Observability;
using Qwen.Api.Routing;
using Qwen.Api.Scaling;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Postgres;
using Qwen.Cluster.Schema;
using Qwen.Grains.Interfaces;
using Qwen.Silo.Hosting;

namespace Qwen.Api.Hosting;

public static class ApiServiceCollectionExtensions
{
    /// <summary>
    /// Clustered (Postgres:ConnectionString set): grains are reached over HTTP on the silos the
    /// membership table lists. Embedded (no cluster configuration): one silo runs in this
    /// process with in-memory membership and storage, and grains are called directly.
    /// </summary>
    public static IServiceCollection AddQwenApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ApiLimits>(configuration.GetSection(ApiLimits.Section));
        services.Configure<RoutingOptions>(configuration.GetSection(RoutingOptions.Section));
        services.AddApiObservability(SiloServiceCollectionExtensions.IsClustered(configuration));
        if (SiloServiceCollectionExtensions.IsClustered(configuration))
        {
            services.Configure<PostgresOptions>(configuration.GetSection(PostgresOptions.SectionName));
            services.AddSingleton(sp => PostgresDataSourceFactory.Create(sp.GetRequiredService<IOptions<PostgresOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
            services.AddSingleton<SchemaModule>(MembershipSchema.Module);
            services.AddSingleton<PostgresSchemaMigrator>();
            services.AddHostedService<SchemaMigrationService>();
            services.AddSingleton<IMembershipTable, PostgresMembershipTable>();
            services.AddSingleton<SiloDirectory>();
            services.AddHostedService(sp => sp.GetRequiredService<SiloDirectory>());
            services.AddSingleton<SiloClients>();
            services.AddSingleton<IGrainFactory, ClusterGrainFactory>();
            services.AddSingleton<IWorkerLoads, ClusterWorkerLoads>();
            services.AddSingleton<IReadiness>(sp => new ClusterReadiness(sp.GetRequiredService<SiloDirectory>()));
            services.Configure<AutoscaleOptions>(configuration.GetSection(AutoscaleOptions.Section));
            services.TryAddSingleton(TimeProvider.System);
            services.AddSingleton<RequestLatencyWindow>();
            services.AddSingleton<ClusterScaleMonitor>();
            services.AddHostedService(sp => sp.GetRequiredService<ClusterScaleMonitor>());
        }
        else
        {
            services.AddSilo(configuration);
            services.AddSingleton<IWorkerLoads, LocalWorkerLoads>();
            services.AddSingleton<IReadiness>(sp => new EmbeddedReadiness(sp.GetRequiredService<SiloLifecycle>()));
        }
        return services;
    }
}

/// <summary>Whether the service can take requests now (for /readyz).</summary>
public interface IReadiness
{
    bool IsReady(out string reason);
}

internal sealed class ClusterReadiness(SiloDirectory directory) : IReadiness
{
    public bool IsReady(out string reason)
    {
        int count = directory.Active.Count;
        reason = count > 0 ? $"{count} active silo(s)" : "no active silo with a loaded model";
        return count > 0;
    }
}

internal sealed class EmbeddedReadiness(SiloLifecycle silo) : IReadiness
{
    public bool IsReady(out string reason)
    {
        reason = silo.IsActive ? "embedded silo active" : "embedded silo starting (loading the model)";
        return silo.IsActive;
    }
}
