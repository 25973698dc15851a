namespace Qwen.Grains;

/// <summary>The silo's own metrics, rendered by the host (which owns the meter collector).</summary>
public interface ISiloTelemetry
{
    /// <summary>This process's metrics in the Prometheus text format.</summary>
    string PrometheusText();
}
