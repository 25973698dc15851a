using Qwen.Grains.Interfaces;

namespace Qwen.Api.Cluster;

/// <summary>One silo as the Api last saw it: its Orleans membership entry and, when it answered, its own report.</summary>
/// <param name="SiloId">The silo's name (results and metrics carry it).</param>
/// <param name="Address">Orleans' silo address (the key of its <see cref="ISiloGrain"/>).</param>
/// <param name="Status">active, cold, warming, stopping (as the silo reports), joining, shutting_down or dead (as the membership says).</param>
/// <param name="Load">The worker's load, when the silo is active and answered.</param>
/// <param name="TokensPerSecond">Reply tokens per second over the last polling period.</param>
/// <param name="Error">Why the silo did not answer, or null.</param>
/// <param name="Activity">The silo's conversations and memory, when it answered the last poll.</param>
public sealed record SiloView(string SiloId, string Address, string Status, DateTimeOffset StartedAt, DateTimeOffset LastSeen, WorkerLoad? Load,
    double TokensPerSecond, string? Error, SiloActivity? Activity = null)
{
    public bool IsActive => Status == SiloStatusReport.Active && Error is null;

    /// <summary>Requests waiting or running on the silo's worker (what load-aware routing compares).</summary>
    public int Backlog => Load is { } load ? load.Queued + load.Running : 0;
}
