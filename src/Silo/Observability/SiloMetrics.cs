using System.Diagnostics.Metrics;
using Qwen.Grains;
using Qwen.Silo.Runtime;

namespace Qwen.Silo.Observability;

/// <summary>
/// Meter "Qwen.Silo", tagged with the silo id: conversation activations and their turn queues,
/// (the grain calls it serves are counted by <see cref="SiloCallMetrics"/>).
/// </summary>
public sealed class SiloMetrics : IDisposable
{
    public const string MeterName = "Qwen.Silo";

    private readonly Meter _meter;

    public SiloMetrics(IMeterFactory meters, GrainActivationTable activations, SiloIdentity silo)
    {
        _meter = meters.Create(new MeterOptions(MeterName) { Tags = [new("silo", silo.Id)] });
        _meter.CreateObservableGauge("qwen.silo.active_conversations", () => activations.ActiveConversations, "{conversation}",
            "Conversation grains active on this silo");
        _meter.CreateObservableGauge("qwen.silo.queued_turns", () => activations.QueuedTurns, "{turn}", "Calls waiting behind a running turn");
        _meter.CreateObservableGauge("qwen.silo.running_turns", () => activations.RunningTurns, "{turn}", "Conversation turns running now");
    }

    public void Dispose() => _meter.Dispose();
}
