using Microsoft.Extensions.Options;

namespace Qwen.Api.Security;

public static partial class AuthHostingExtensions
{
    /// <summary>Whether requests are let in without keys: Auth:Disabled, or the embedded default with no key configured.</summary>
    internal sealed record AuthMode(bool Keyless, bool Clustered, int ConfiguredKeys);

    /// <summary>
    /// API keys: the configured ones (checked here, so a malformed key stops the start with one message) and, clustered,
    /// the cluster's key table through the silos.
    /// </summary>
    public static IHostApplicationBuilder AddApiKeys(this IHostApplicationBuilder builder, bool clustered)
    {
        var section = builder.Configuration.GetSection(AuthOptions.Section);
        builder.Services.Configure<AuthOptions>(section);
        var options = section.Get<AuthOptions>() ?? new AuthOptions();
        var configured = ConfiguredApiKeys.Load(options);
        builder.Services.AddSingleton(configured);
        builder.Services.AddSingleton(new MetricsScrapers(options.MetricsAddresses));
        // A clustered Api always checks keys (the key table exists even while it is empty); only Auth:Disabled opens it.
        bool keyless = options.Disabled || (!clustered && configured.Count == 0);
        builder.Services.AddSingleton(new AuthMode(keyless, clustered, configured.Count));
        if (!keyless) builder.Services.Configure<Microsoft.AspNetCore.OpenApi.OpenApiOptions>("v1", OpenApiKeySchemes.Describe);
        builder.Services.AddSingleton(sp => new ApiKeyResolver(configured, clustered ? sp.GetRequiredService<IGrainFactory>() : null,
            sp.GetRequiredService<IOptions<AuthOptions>>()));
        return builder;
    }

    /// <summary>Checks keys on every request from here on; without keys, says loudly that everything is open.</summary>
    public static WebApplication UseApiKeys(this WebApplication app)
    {
        var mode = app.Services.GetRequiredService<AuthMode>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Qwen.Api.Auth");
        if (mode.Keyless)
        {
            LogKeyless(logger, mode.Clustered ? "Auth:Disabled=true" : "no key is configured (Auth:Keys, Auth:KeysFile)");
            return app;
        }
        LogKeys(logger, mode.ConfiguredKeys, mode.Clustered ? "and the cluster's key table (qwen keys)" : "only");
        app.UseMiddleware<ApiKeyAuthenticationMiddleware>();
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message =
        "API KEYS ARE OFF ({Why}): anyone who can reach this port can read, write and delete every conversation and use every "
        + "operations endpoint. Fine on your own machine; configure keys before others can reach it (docs/operations.md)")]
    private static partial void LogKeyless(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys are required: {ConfiguredKeys} configured key(s) {Source}")]
    private static partial void LogKeys(ILogger logger, int configuredKeys, string source);
}
