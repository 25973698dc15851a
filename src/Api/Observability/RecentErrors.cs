namespace Qwen.Api.Observability;

/// <summary>The last failed public requests (4xx and 5xx, hang-ups excluded), newest first, for the dashboard.</summary>
public sealed class RecentErrors
{
    public const int Capacity = 50;

    private readonly Lock _lock = new();
    private readonly LinkedList<RequestError> _errors = new();

    public sealed record RequestError(DateTimeOffset At, string Method, string Path, string Task, int Status, string Detail, string? RequestId);

    public void Add(RequestError error)
    {
        lock (_lock)
        {
            _errors.AddFirst(error);
            if (_errors.Count > Capacity) _errors.RemoveLast();
        }
    }

    public IReadOnlyList<RequestError> Snapshot()
    {
        lock (_lock) return [.. _errors];
    }
}
