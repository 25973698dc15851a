namespace Qwen.Api.Endpoints;

/// <summary>Input limits of the public API (section "Api").</summary>
public sealed record ApiLimits
{
    public const string Section = "Api";

    /// <summary>Largest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Longest sentiment text, in characters (longer texts are rejected; within it, token budgets truncate).</summary>
    public int MaxTextChars { get; init; } = 4000;

    /// <summary>Longest chat message, in characters.</summary>
    public int MaxMessageChars { get; init; } = 4000;

    /// <summary>
    /// How long a request may take end to end (queues and model included); also the longest a
    /// client may ask for with <see cref="RequestDeadline.Header"/>. Past it the request leaves the
    /// model batch and the client gets 504.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
