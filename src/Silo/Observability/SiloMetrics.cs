using System.Diagnostics.Metrics;
using Qwen.Grains;

namespace Qwen.Silo.Observability;

/// <summary>Meter "Qwen.Silo", tagged with the silo id: this silo's conversation activations and their turns.</summary>
public sealed class SiloMetrics : IDisposable
{
    public const string MeterName = "Qwen.Silo";

    private readonly Meter _meter;

    public SiloMetrics(IMeterFactory meters, ConversationActivity conversations, SiloIdentity silo)
    {
        _meter = meters.Create(new MeterOptions(MeterName) { Tags = [new("silo", silo.Id)] });
        _meter.CreateObservableGauge("qwen.silo.active_conversations", () => conversations.Active, "{conversation}",
            "Conversation grains active on this silo");
        _meter.CreateObservableGauge("qwen.silo.queued_turns", () => conversations.WaitingTurns, "{turn}", "Turns waiting behind a running turn");
        _meter.CreateObservableGauge("qwen.silo.running_turns", () => conversations.RunningTurns, "{turn}", "Conversation turns running now");
    }

    public void Dispose() => _meter.Dispose();
}
