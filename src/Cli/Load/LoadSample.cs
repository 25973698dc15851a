using Qwen.Cli.Workload;

namespace Qwen.Cli.Load;

/// <summary>
/// One HTTP request as the load tester saw it. <paramref name="Status"/> is the HTTP status,
/// 0 when no response came; <paramref name="Error"/> names the failure ("429", "timeout", ...);
/// <paramref name="RetryAfter"/> is the server's Retry-After on a refusal, and
/// <paramref name="ErrorBody"/> the start of an error response's body (what the server said was wrong).
/// </summary>
internal sealed record LoadSample(WorkloadTask Task, double LatencyMs, int Status, string? Error, TimeSpan? RetryAfter = null, string? ErrorBody = null)
{
    public bool Succeeded => Error is null;
}
