using System.Diagnostics;
using Microsoft.Extensions.Options;
using Qwen.Grains;

namespace Qwen.Silo.Hosting;

/// <summary>
/// A graceful stop finishes the turns running on this silo before Orleans deactivates its grains:
/// a streamed reply is a series of calls to the inference worker grain, and deactivating that grain
/// mid-reply drops the reply (EnumerationAbortedException). The first stage to stop waits for the
/// running turns, at most <see cref="SiloOptions.DrainTimeout"/>; meanwhile the stopping model refuses new work.
/// </summary>
internal sealed partial class TurnDrain(ConversationActivity turns, IOptions<SiloOptions> options, ILogger<TurnDrain> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TurnDrain), ServiceLifecycleStage.Active, _ => Task.CompletedTask, DrainAsync);

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        int atStart = turns.RunningTurns + turns.WaitingTurns;
        while (turns.RunningTurns + turns.WaitingTurns > 0 && waited.Elapsed < options.Value.DrainTimeout
               && !cancellationToken.IsCancellationRequested)
            await Task.Delay(Poll, CancellationToken.None);
        LogDrained(logger, atStart, waited.Elapsed.TotalSeconds, turns.RunningTurns + turns.WaitingTurns);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: waited {Seconds:F1} s for {Turns} turns in flight; {Left} left")]
    private static partial void LogDrained(ILogger logger, int turns, double seconds, int left);
}
