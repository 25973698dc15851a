using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;
using Qwen.Api.Hosting;

namespace Qwen.Api.Security;

/// <summary>
/// Checks every request's API key, before anything answers it: no key or a wrong one gets 401, a
/// non-admin key on an operations path 403, in the error style of the path. The caller (key id,
/// tenant, admin) is set for the endpoints and the rate limiter. Health and readiness stay open, and
/// /metrics is open to the configured scrapers. Wrong keys are limited per client address (429).
/// </summary>
internal sealed partial class ApiKeyAuthenticationMiddleware : IDisposable
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(10);

    private readonly RequestDelegate _next;
    private readonly ApiKeyResolver _resolver;
    private readonly MetricsScrapers _scrapers;
    private readonly PartitionedRateLimiter<string> _failures;
    private readonly ILogger _logger;

    public ApiKeyAuthenticationMiddleware(RequestDelegate next, ApiKeyResolver resolver, MetricsScrapers scrapers, IOptions<AuthOptions> options,
        ILogger<ApiKeyAuthenticationMiddleware> logger)
    {
        _next = next;
        _resolver = resolver;
        _scrapers = scrapers;
        _logger = logger;
        var auth = options.Value;
        // A fixed window, not a token bucket: its whole permits let a zero-permit request ask "any left?" exactly.
        _failures = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetFixedWindowLimiter(address,
            _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = Math.Max(1, auth.FailedKeyLimit),
                Window = auth.FailedKeyWindow > TimeSpan.Zero ? auth.FailedKeyWindow : TimeSpan.FromMinutes(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (ProtectedPaths.IsOpen(path)
            || (ProtectedPaths.IsMetrics(path) && _scrapers.Allows(context.Connection.RemoteIpAddress)))
        {
            await _next(context);
            return;
        }

        string? key = PresentedKey.Of(context.Request);
        if (key is null)
        {
            await Challenge(context, "an API key is required: send it as 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'").ExecuteAsync(context);
            return;
        }
        string address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        using (var left = _failures.AttemptAcquire(address, 0))
        {
            if (!left.IsAcquired)
            {
                var retryAfter = left.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : TimeSpan.FromMinutes(1);
                await ApiErrors.For(context, StatusCodes.Status429TooManyRequests,
                    "too many wrong API keys from this address; wait before trying again", retryAfter: retryAfter).ExecuteAsync(context);
                return;
            }
        }

        Grains.Interfaces.ApiKeyRecord? record;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(CheckTimeout);
            record = await _resolver.FindAsync(key, timeout.Token);
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The key table is asked through the silos: without one that answers, no key can be checked (configured ones still can).
            LogCheckFailed(_logger, e.Message);
            await ApiErrors.For(context, StatusCodes.Status503ServiceUnavailable,
                "the API key cannot be checked now (no silo answered); retry shortly", retryAfter: TimeSpan.FromSeconds(2)).ExecuteAsync(context);
            return;
        }
        if (record is null)
        {
            _failures.AttemptAcquire(address).Dispose();
            await Challenge(context, "the API key is not valid: it is unknown or was revoked").ExecuteAsync(context);
            return;
        }

        var caller = new ApiCaller(record.KeyId, record.Tenant, record.Admin);
        context.Features.Set(caller);
        if (context.Features.Get<RequestFingerprint>() is { } fingerprint) fingerprint.KeyId = caller.KeyId;
        if (ProtectedPaths.NeedsAdmin(path) && !caller.Admin)
        {
            await ApiErrors.For(context, StatusCodes.Status403Forbidden, $"this endpoint needs an admin key; key {caller.KeyId} is not one")
                .ExecuteAsync(context);
            return;
        }
        await _next(context);
    }

    /// <summary>
    /// A 401 that tells the client how to authenticate. On the operations paths it is Basic: a browser on a dashboard asks
    /// its user for the key, and answers the same challenge of the page's own calls (/v1/cluster/status) from its cache.
    /// </summary>
    private static IResult Challenge(HttpContext context, string message)
    {
        context.Response.Headers.WWWAuthenticate = ProtectedPaths.NeedsAdmin(context.Request.Path)
            ? "Basic realm=\"qwen-aio\", charset=\"UTF-8\""
            : "Bearer realm=\"qwen-aio\"";
        return ApiErrors.For(context, StatusCodes.Status401Unauthorized, message);
    }

    public void Dispose() => _failures.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "An API key could not be checked against the cluster's key table: {Reason}")]
    private static partial void LogCheckFailed(ILogger logger, string reason);
}
