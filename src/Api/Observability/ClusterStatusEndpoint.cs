using Qwen.Api.Cluster;
using Qwen.Grains.Interfaces;

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

    public static IEndpointRouteBuilder MapClusterStatus(this IEndpointRouteBuilder app, bool clustered)
    {
        app.MapGet(Path, (SiloDirectory directory, RequestWindow requests, RecentErrors errors, TimeProvider time) =>
        {
            var siloViews = directory.All.Select(SiloView).ToArray();
            var live = siloViews.Where(s => s.status == SiloStatusReport.Active).ToArray();
            return Results.Json(new
            {
                time = time.GetUtcNow(),
                mode = clustered ? "cluster" : "embedded",
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

    // Figures from the silo's last status report (polled every second); zeros for a silo that did not answer.
    private static SiloStatusView SiloView(SiloView silo)
    {
        var load = silo.Load;
        var activity = silo.Activity;
        return new SiloStatusView(
            id: silo.SiloId,
            endpoint: silo.Address,
            status: silo.Status,
            reachable: silo.Error is null && activity is not null,
            error: silo.Error,
            started_at: silo.StartedAt,
            last_heartbeat: silo.LastSeen,
            model_loaded: load is not null,
            queue: load?.Queued ?? 0,
            queued_turns: activity?.QueuedTurns ?? 0,
            running: load?.Running ?? 0,
            load: silo.Backlog + (activity?.QueuedTurns ?? 0),
            batch_size: load?.BatchSize ?? 0,
            tokens_per_second: silo.TokensPerSecond,
            generated_tokens: load?.GeneratedTokens ?? 0,
            active_conversations: activity?.ActiveConversations ?? 0,
            kv_in_use: load?.KvInUse ?? 0,
            kv_reserved: load?.KvReserved ?? 0,
            kv_budget: load?.KvBudget ?? 0,
            rss_bytes: activity?.ResidentBytes ?? 0);
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
            // Clients that hung up (499) are neither errors nor answered; shown apart so they are not lost.
            client_closed_per_second = Math.Round(recent.Count(e => e.ClientClosed) / seconds, 3),
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

    // Latency of answered requests only: refusals are fast and would hide slow service; a hang-up has no answer to time.
    private static object Percentiles(IReadOnlyList<RequestWindow.Entry> entries)
    {
        var sorted = entries.Where(e => e.IsAnswered).Select(e => e.LatencyMs).Order().ToArray();
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
        DateTimeOffset last_heartbeat, bool model_loaded, int queue, int queued_turns, int running, int load, int batch_size,
        double tokens_per_second,
        long generated_tokens, int active_conversations, int kv_in_use, int kv_reserved, int kv_budget, long rss_bytes);
#pragma warning restore IDE1006
}
