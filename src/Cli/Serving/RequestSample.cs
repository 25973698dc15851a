using Qwen.Cli.Workload;

namespace Qwen.Cli.Serving;

/// <summary>
/// One finished request as a client saw it. <paramref name="FirstTokenMs"/> is the time to the
/// first streamed piece of a chat reply (null for sentiment, which streams nothing).
/// </summary>
internal sealed record RequestSample(WorkloadTask Task, double LatencyMs, double? FirstTokenMs, int GeneratedTokens, string? Error)
{
    public bool Succeeded => Error is null;
}
