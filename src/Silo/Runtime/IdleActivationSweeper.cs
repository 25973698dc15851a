using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Qwen.Silo.Runtime;

/// <summary>Deactivates idle conversation activations every <see cref="GrainRuntimeOptions.IdleSweepInterval"/>.</summary>
public sealed partial class IdleActivationSweeper(GrainActivationTable table, IOptions<GrainRuntimeOptions> options, TimeProvider time,
    ILogger<IdleActivationSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Validate().IdleSweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                int deactivated = await table.DeactivateIdleAsync(stoppingToken).ConfigureAwait(false);
                if (deactivated > 0) LogSwept(logger, deactivated, table.ActiveConversations);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Deactivated {Deactivated} idle conversations; {ActiveConversations} remain")]
    private static partial void LogSwept(ILogger logger, int deactivated, int activeConversations);
}
