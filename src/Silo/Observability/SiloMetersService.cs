using Qwen.Grains;

namespace Qwen.Silo.Observability;

/// <summary>
/// Creates the silo's meters at start, and the inference worker's once the model is loaded (the
/// worker needs it; a cold silo loads it only when warmed up), so they are there for the next scrape.
/// </summary>
internal sealed class SiloMetersService(IServiceProvider services, Hosting.ModelHost model) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<SiloMetrics>();
        _ = model.WhenLoaded.ContinueWith(_ => services.GetRequiredService<InferenceMetrics>(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
