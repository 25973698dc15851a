using Qwen.Cluster.Transport;

namespace Qwen.Silo.Hosting;

/// <summary>
/// The silos the caller of the current request could not reach (from the
/// <see cref="SiloHttpClient.UnreachableSilosHeader"/> header), visible to the placement check
/// of that request's grain call.
/// </summary>
public static class UnreachableSilos
{
    private static readonly AsyncLocal<IReadOnlyCollection<string>?> CurrentValue = new();

    public static IReadOnlyCollection<string> Current => CurrentValue.Value ?? [];

    public static IApplicationBuilder UseUnreachableSilosHeader(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        string? header = context.Request.Headers[SiloHttpClient.UnreachableSilosHeader];
        CurrentValue.Value = string.IsNullOrEmpty(header)
            ? null
            : header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        await next(context);
    });
}
