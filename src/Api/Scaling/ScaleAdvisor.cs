namespace Qwen.Api.Scaling;

/// <summary>What the advisor looks at: the warm silos and the load they report, and recent latency.</summary>
public sealed record ScaleInputs(int ActiveSilos, int JoiningSilos, int ColdSilos, int QueuedAndRunning, double P90Ms, int LatencySamples);

/// <summary>One evaluation: the silo count recommended now, why, and what it was computed from.</summary>
public sealed record ScaleRecommendation(int Current, int Recommended, int Desired, string Reason, ScaleInputs Inputs, DateTimeOffset At);

/// <summary>
/// Recommends a silo count from queue depth and latency against the SLO, with hysteresis: a
/// higher count is recommended at once, a lower one only after the load has stayed low for
/// <see cref="AutoscaleOptions.ScaleInAfter"/>, one silo per quiet period.
/// </summary>
public sealed class ScaleAdvisor(AutoscaleOptions options)
{
    private readonly AutoscaleOptions _o = options.Validate();
    private int? _recommended;
    private DateTimeOffset? _quietSince;

    /// <summary>The count the load alone asks for now, before hysteresis, and the reason.</summary>
    public (int Desired, string Why) Desired(ScaleInputs inputs)
    {
        int current = inputs.ActiveSilos;
        int byQueue = (int)Math.Ceiling(inputs.QueuedAndRunning / _o.QueuePerSilo);
        bool measured = inputs.LatencySamples >= _o.MinLatencySamples;
        int byLatency;
        string latency;
        if (measured && inputs.P90Ms > _o.TargetP90Ms)
        {
            // One more than what is warm or warming: the last step has to take effect before the next.
            byLatency = current + inputs.JoiningSilos + (inputs.JoiningSilos > 0 ? 0 : 1);
            latency = $"p90 {inputs.P90Ms:F0} ms > target {_o.TargetP90Ms:0.###} ms";
        }
        else if (measured && inputs.P90Ms > _o.TargetP90Ms * _o.ScaleInLatencyRatio)
        {
            byLatency = current;
            latency = $"p90 {inputs.P90Ms:F0} ms within target {_o.TargetP90Ms:0.###} ms";
        }
        else
        {
            byLatency = 0;
            latency = measured ? $"p90 {inputs.P90Ms:F0} ms well under target {_o.TargetP90Ms:0.###} ms" : "too few recent requests to judge latency";
        }
        int desired = Math.Clamp(Math.Max(Math.Max(byQueue, byLatency), _o.MinSilos), _o.MinSilos, _o.MaxSilos);
        string queue = $"{inputs.QueuedAndRunning} requests queued or running (target {_o.QueuePerSilo:0.##} per silo)";
        return (desired, $"{latency}; {queue}");
    }

    public ScaleRecommendation Evaluate(ScaleInputs inputs, DateTimeOffset now)
    {
        var (desired, why) = Desired(inputs);
        int recommended = _recommended ?? Math.Clamp(Math.Max(desired, inputs.ActiveSilos), _o.MinSilos, _o.MaxSilos);
        string reason;
        if (desired > recommended)
        {
            recommended = desired;
            _quietSince = null;
            reason = $"scale out: {why}";
        }
        else if (desired < recommended)
        {
            _quietSince ??= now;
            var quiet = now - _quietSince.Value;
            if (quiet >= _o.ScaleInAfter)
            {
                recommended--;
                _quietSince = now;
                reason = $"scale in: low load for {quiet.TotalSeconds:F0} s; {why}";
            }
            else
            {
                reason = $"holding {recommended} until the load has stayed low for {_o.ScaleInAfter.TotalSeconds:F0} s " +
                         $"({quiet.TotalSeconds:F0} s so far); {why}";
            }
        }
        else
        {
            _quietSince = null;
            reason = $"steady: {why}";
        }
        _recommended = recommended;
        return new ScaleRecommendation(inputs.ActiveSilos, recommended, desired, reason, inputs, now);
    }
}
