namespace Qwen.Silo.Observability;

/// <summary>
/// Creates the silo's meters once the silo has started (the inference worker needs the loaded
/// model), so their instruments are there for the first scrape.
/// </summary>
internal sealed class SiloMetersService(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<SiloMetrics>();
        services.GetRequiredService<InferenceMetrics>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
