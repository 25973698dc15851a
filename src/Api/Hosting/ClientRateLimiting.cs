using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Qwen.Api.Endpoints;

namespace Qwen.Api.Hosting;

/// <summary>Token buckets per client over /v1/; a refused request gets 429 with Retry-After in its endpoint's error style.</summary>
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
                !options.Enabled || !context.Request.Path.StartsWithSegments("/v1")
                    ? RateLimitPartition.GetNoLimiter("unlimited")
                    : RateLimitPartition.GetTokenBucketLimiter(ClientKey(context, options), _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.TokenLimit,
                        TokensPerPeriod = options.TokensPerPeriod,
                        ReplenishmentPeriod = options.ReplenishmentPeriod,
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
            limiter.OnRejected = (rejected, _) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan after) ? after : options.ReplenishmentPeriod;
                var result = ApiErrors.For(rejected.HttpContext, StatusCodes.Status429TooManyRequests,
                    $"too many requests from this client; at most {options.TokenLimit} at once and {options.TokensPerPeriod} more every {options.ReplenishmentPeriod.TotalSeconds:0.###} s",
                    retryAfter: retryAfter);
                return new ValueTask(result.ExecuteAsync(rejected.HttpContext));
            };
        });
        return services;
    }

    /// <summary>The API key when there is one (hashed, so keys are not kept), else the client's address.</summary>
    private static string ClientKey(HttpContext context, RateLimitOptions options)
    {
        string? key = context.Request.Headers[options.ClientKeyHeader].FirstOrDefault();
        if (string.IsNullOrEmpty(key) && context.Request.Headers.Authorization.FirstOrDefault() is { } auth
            && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            key = auth[7..].Trim();
        }
        if (!string.IsNullOrEmpty(key)) return "key:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0, 12);
        return "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
    }
}
