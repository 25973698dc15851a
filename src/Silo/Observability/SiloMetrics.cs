using System.Diagnostics.Metrics;
using Qwen.Grains;

namespace Qwen.Silo.Observability;

/// <summary>Meter "Qwen.Silo", every series tagged with the silo id: this silo's conversation activations and their turns.</summary>
public sealed class SiloMetrics : IDisposable
{
    public const string MeterName = "Qwen.Silo";

    private readonly Meter _meter;

    public SiloMetrics(IMeterFactory meters, ConversationActivity conversations, SiloIdentity silo)
    {
        _meter = meters.Create(MeterName);
        // On each measurement rather than on the meter: exporters drop or rename meter-level tags.
        var tag = new KeyValuePair<string, object?>("silo", silo.Id);
        _meter.CreateObservableGauge("qwen.silo.active_conversations", () => new Measurement<int>(conversations.Active, tag), "{conversation}",
            "Conversation grains active on this silo");
        _meter.CreateObservableGauge("qwen.silo.queued_turns", () => new Measurement<int>(conversations.WaitingTurns, tag), "{turn}",
            "Turns waiting behind a running turn");
        _meter.CreateObservableGauge("qwen.silo.running_turns", () => new Measurement<int>(conversations.RunningTurns, tag), "{turn}",
            "Conversation turns running now");
    }

    public void Dispose() => _meter.Dispose();
}
