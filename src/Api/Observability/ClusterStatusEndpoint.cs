
namespace Qwen.Api.Observability;

/// <summary>
/// GET /v1/cluster/status: the cluster at a glance, as the dashboard shows it: every silo with
/// its status and load figures, cluster totals, the public requests of the last seconds (rate,
/// errors, latency percentiles, per task) and the recent errors.
/// </summary>
public static class ClusterStatusEndpoint
{
    public const string Path = "/v1/cluster/status";

    /// <summary>The window over which request rates and latency percentiles are computed.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapClusterStatus(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, async (ISiloMetricsSource silos, RequestWindow requests, RecentErrors errors, TimeProvider time, CancellationToken ct) =>
        {
            var snapshots = await silos.ReadAsync(ct);
            var siloViews = snapshots.Select(SiloView).ToArray();
            var live = siloViews.Where(s => s.status == "active").ToArray();
            return Results.Json(new
            {
                time = time.GetUtcNow(),
                mode = silos.IsEmbedded ? "embedded" : "cluster",
                silos = siloViews,
                cluster = new
                {
                    silos_active = live.Length,
                    silos_total = siloViews.Length,
                    queue = live.Sum(s => s.queue),
                    running = live.Sum(s => s.running),
                    tokens_per_second = live.Sum(s => s.tokens_per_second),
                    active_conversations = live.Sum(s => s.active_conversations),
                    generated_tokens = live.Sum(s => s.generated_tokens),
                    rss_bytes = live.Sum(s => s.rss_bytes),
                },
                requests = RequestsView(requests.Recent(Window)),
                recent_errors = errors.Snapshot().Select(e => new
                {
                    time = e.At,
                    method = e.Method,
                    path = e.Path,
                    task = e.Task,
                    status = e.Status,
                    detail = e.Detail,
                    request_id = e.RequestId,
                }),
            });
        }).WithSummary("The cluster at a glance: silos with status and load, totals, recent request rates and latencies, recent errors");
        return app;
    }

    private static SiloStatusView SiloView(SiloMetricsSnapshot s)
    {
        double Read(string family) => s.Value(family) ?? 0;
        var silo = s.Silo;
        return new SiloStatusView(
            id: silo.SiloId,
            endpoint: silo.Address,
            status: silo.Status,
            reachable: s.Error is null && silo.Error is null,
            error: s.Error ?? silo.Error,
            started_at: silo.StartedAt,
            last_heartbeat: silo.LastSeen,
            model_loaded: silo.Load is not null,
            queue: (int)Read("qwen_inference_queue_depth"),
            queued_turns: (int)Read("qwen_silo_queued_turns"),
            running: (int)Read("qwen_inference_running"),
            // Live figures when the silo answered; otherwise what its last report said (as routing uses it).
            load: s.Error is null
                ? (int)(Read("qwen_inference_queue_depth") + Read("qwen_silo_queued_turns") + Read("qwen_inference_running"))
                : silo.Backlog,
            batch_size: (int)Read("qwen_inference_batch_size"),
            tokens_per_second: silo.TokensPerSecond,
            generated_tokens: (long)Read("qwen_inference_generated_tokens_total"),
            active_conversations: (int)Read("qwen_silo_active_conversations"),
            kv_in_use: (int)Read("qwen_inference_kv_in_use"),
            kv_reserved: (int)Read("qwen_inference_kv_reserved"),
            kv_budget: (int)Read("qwen_inference_kv_budget"),
            rss_bytes: (long)Read("process_resident_memory_bytes"));
    }

    private static object RequestsView(IReadOnlyList<RequestWindow.Entry> recent)
    {
        double seconds = Window.TotalSeconds;
        return new
        {
            window_seconds = seconds,
            count = recent.Count,
            per_second = Math.Round(recent.Count / seconds, 3),
            errors_per_second = Math.Round(recent.Count(e => e.IsError) / seconds, 3),
            latency_ms = Percentiles(recent),
            by_task = recent.GroupBy(e => e.Task).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => new
            {
                count = g.Count(),
                per_second = Math.Round(g.Count() / seconds, 3),
                errors = g.Count(e => e.IsError),
                latency_ms = Percentiles(g.ToArray()),
            }),
        };
    }

    // Latency of answered requests only: refusals are fast and would hide slow service.
    private static object Percentiles(IReadOnlyList<RequestWindow.Entry> entries)
    {
        var sorted = entries.Where(e => !e.IsError).Select(e => e.LatencyMs).Order().ToArray();
        return new
        {
            p50 = Math.Round(RequestWindow.Percentile(sorted, 50), 1),
            p90 = Math.Round(RequestWindow.Percentile(sorted, 90), 1),
            p99 = Math.Round(RequestWindow.Percentile(sorted, 99), 1),
        };
    }

    // Property names are the JSON names the dashboard reads.
#pragma warning disable IDE1006
    private sealed record SiloStatusView(string id, string endpoint, string status, bool reachable, string? error, DateTimeOffset started_at,
        DateTimeOffset last_heartbeat, bool model_loaded, int queue, int queued_turns, int running, int load, int batch_size, double tokens_per_second,
        long generated_tokens, int active_conversations, int kv_in_use, int kv_reserved, int kv_budget, long rss_bytes);
#pragma warning restore IDE1006
}
