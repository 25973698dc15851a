using Qwen.Api.Scaling;

namespace Qwen.Api.Endpoints;

/// <summary>GET /v1/cluster/scale: the autoscaling signal (current and recommended silo counts, why, and the inputs).</summary>
public static class ClusterScaleEndpoints
{
    public static IEndpointRouteBuilder MapClusterScaleEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/cluster/scale", (IServiceProvider services) =>
        {
            var monitor = services.GetService<ClusterScaleMonitor>();
            if (monitor is null)
                return Results.Ok(new { current = 1, recommended = 1, desired = 1, reason = "embedded mode: one silo runs inside the Api", inputs = (object?)null });
            var r = monitor.Latest;
            var o = monitor.Options;
            return Results.Ok(new
            {
                current = r.Current,
                recommended = r.Recommended,
                desired = r.Desired,
                reason = r.Reason,
                inputs = new
                {
                    active_silos = r.Inputs.ActiveSilos,
                    joining_silos = r.Inputs.JoiningSilos,
                    cold_silos = r.Inputs.ColdSilos,
                    queued_and_running = r.Inputs.QueuedAndRunning,
                    p90_ms = Math.Round(r.Inputs.P90Ms, 1),
                    latency_samples = r.Inputs.LatencySamples,
                    target_p90_ms = o.TargetP90Ms,
                    queue_per_silo = o.QueuePerSilo,
                    min_silos = o.MinSilos,
                    max_silos = o.MaxSilos,
                    scale_in_after_s = o.ScaleInAfter.TotalSeconds,
                },
                evaluated_at = r.At,
            });
        });
        return app;
    }
}
