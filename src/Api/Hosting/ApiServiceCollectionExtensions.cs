using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Dashboard;
using Qwen.ClusterTransport;
using Qwen.Api.Cluster;
using Qwen.Api.Endpoints;
using Qwen.Api.Observability;
using Qwen.Api.Scaling;
using Qwen.Api.Security;

namespace Qwen.Api.Hosting;

public static class ApiHostingExtensions
{
    /// <summary>
    /// Clustered (Cluster:Redis set): an Orleans client that finds the silos' gateways through the
    /// Redis membership. Embedded (no cluster configuration): one silo runs in this process
    /// (localhost clustering, memory storage) and grains are called through it.
    /// </summary>
    public static IHostApplicationBuilder AddQwenApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.Configure<ApiLimits>(configuration.GetSection(ApiLimits.Section));
        var cluster = configuration.GetSection(ClusterClientOptions.Section).Get<ClusterClientOptions>() ?? new ClusterClientOptions();
        services.AddApiObservability(cluster.IsClustered);
        builder.AddApiKeys(cluster.IsClustered);
        if (cluster.IsClustered)
        {
            // User text is personal data: a cluster's request log lines give its length unless Api:LogText says otherwise.
            // First source, so any configured value wins.
            if (configuration[$"{ApiLimits.Section}:{nameof(ApiLimits.LogText)}"] is null)
                builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
                {
                    InitialData = [new($"{ApiLimits.Section}:{nameof(ApiLimits.LogText)}", "false")],
                });
            builder.UseOrleansClient(client =>
            {
                client.UseRedisClustering(cluster.Redis!);
                client.UseClusterTls(configuration.GetSection(ClusterTlsOptions.Section).Get<ClusterTlsOptions>() ?? new ClusterTlsOptions());
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = cluster.ClusterId;
                    o.ServiceId = cluster.ServiceId;
                });
                client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = cluster.CallTimeout);
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = cluster.GatewayListRefreshPeriod);
                client.AddDashboard();
            });
            // The HTTP server comes up while the client still waits for a gateway: with no silo yet the Api must answer
            // /healthz and /v1/cluster/scale, since the autoscaler starts the first silo from them.
            services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
            services.Configure<AutoscaleOptions>(configuration.GetSection(AutoscaleOptions.Section));
            services.TryAddSingleton(TimeProvider.System);
            services.AddSingleton<RequestLatencyWindow>();
            services.AddSingleton<ClusterScaleMonitor>();
            services.AddHostedService(sp => sp.GetRequiredService<ClusterScaleMonitor>());
        }
        else
        {
            EmbeddedSilo.AddTo(builder);
        }
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<SiloDirectory>();
        services.AddHostedService(sp => sp.GetRequiredService<SiloDirectory>());
        services.AddSingleton<InferenceRouter>();
        services.AddSingleton<IReadiness, ClusterReadiness>();
        return builder;
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
