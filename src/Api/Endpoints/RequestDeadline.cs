using System.Globalization;

namespace Qwen.Api.Endpoints;

/// <summary>
/// The deadline of one public request: <see cref="ApiLimits.RequestTimeout"/> from its arrival,
/// or sooner when the client asks with <see cref="Header"/>. It travels with the call to the
/// silo and the model batch; the token here also fires a little after it, so the Api answers
/// 504 even if a silo never does.
/// </summary>
internal sealed class RequestDeadline : IDisposable
{
    /// <summary>Request header: the client's own timeout in milliseconds (1 to the configured RequestTimeout).</summary>
    public const string Header = "X-Request-Timeout-Ms";

    // The silo answers at the deadline itself; this margin covers the way back.
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _backstop;
    private readonly CancellationToken _aborted;

    private RequestDeadline(TimeSpan timeout, CancellationToken aborted)
    {
        Timeout = timeout;
        At = DateTimeOffset.UtcNow + timeout;
        _aborted = aborted;
        _backstop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _backstop.CancelAfter(timeout + Grace);
    }

    public TimeSpan Timeout { get; }

    /// <summary>When the request must be done.</summary>
    public DateTimeOffset At { get; }

    /// <summary>Cancelled when the client disconnects or the deadline (plus the margin) passes.</summary>
    public CancellationToken Token => _backstop.Token;

    /// <summary>The backstop fired (the client is still there).</summary>
    public bool HasExpired => _backstop.IsCancellationRequested && !_aborted.IsCancellationRequested;

    /// <summary>The request's deadline, or the 400 answer when the client's header is not a valid timeout.</summary>
    public static (RequestDeadline? Deadline, IResult? Error) Start(HttpRequest request, ApiLimits limits)
    {
        var timeout = limits.RequestTimeout;
        string? asked = request.Headers[Header];
        if (asked is not null)
        {
            long max = (long)limits.RequestTimeout.TotalMilliseconds;
            if (!long.TryParse(asked, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) || ms < 1 || ms > max)
                return (null, ApiProblem.BadRequest($"the header {Header} must be a whole number of milliseconds in [1, {max}] but was '{asked}'"));
            timeout = TimeSpan.FromMilliseconds(ms);
        }
        return (new RequestDeadline(timeout, request.HttpContext.RequestAborted), null);
    }

    public IResult Expired() => ApiProblem.Problem(StatusCodes.Status504GatewayTimeout, "Timed out",
        $"the request did not finish within its timeout of {Timeout.TotalMilliseconds:F0} ms");

    public void Dispose() => _backstop.Dispose();
}
