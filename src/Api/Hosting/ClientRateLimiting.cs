using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;
using Qwen.Api.Security;

namespace Qwen.Api.Hosting;

/// <summary>
/// Token buckets per API key (or client address without keys) over /v1/; a refused request gets 429 with Retry-After in
/// its endpoint's error style.
/// </summary>
internal static class ClientRateLimiting
{
    public static IServiceCollection AddClientRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RateLimitOptions>(configuration.GetSection(RateLimitOptions.Section));
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, configured) =>
        {
            var options = configured.Value;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (!options.Enabled || !context.Request.Path.StartsWithSegments("/v1")) return RateLimitPartition.GetNoLimiter("unlimited");
                var (client, limits) = ClientOf(context, options);
                return RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = limits.TokenLimit,
                    TokensPerPeriod = limits.TokensPerPeriod,
                    ReplenishmentPeriod = limits.ReplenishmentPeriod,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = (rejected, _) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : options.ReplenishmentPeriod;
                var limits = ClientOf(rejected.HttpContext, options).Limits;
                var result = ApiErrors.For(rejected.HttpContext, StatusCodes.Status429TooManyRequests,
                    $"too many requests from this client; at most {limits.TokenLimit} at once and {limits.TokensPerPeriod} more every "
                    + $"{limits.ReplenishmentPeriod.TotalSeconds:0.###} s",
                    retryAfter: retryAfter);
                return new ValueTask(result.ExecuteAsync(rejected.HttpContext));
            };
        });
        return services;
    }

    /// <summary>
    /// The authenticated key (with its tenant's limits) when keys are checked; otherwise the client's address. A key
    /// the Api did not check never names a bucket: inventing a new one per request would buy a new bucket each time.
    /// </summary>
    private static (string Client, TenantRateLimit Limits) ClientOf(HttpContext context, RateLimitOptions options)
    {
        var caller = ApiCaller.Of(context);
        if (caller.HasKey) return ($"key:{caller.Tenant}/{caller.KeyId}", options.For(caller.Tenant));
        return ("ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown"), options.For(null));
    }
}
