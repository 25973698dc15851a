using Qwen.Grains;
using Qwen.Observability.Metrics;
using Qwen.Observability.Prometheus;

namespace Qwen.Silo.Observability;

internal sealed class SiloTelemetry(MeterCollector collector) : ISiloTelemetry
{
    public string PrometheusText() => Qwen.Observability.Prometheus.PrometheusText.Write(collector.Collect());
}
