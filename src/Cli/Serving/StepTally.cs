using Qwen.Inference.Batching;

namespace Qwen.Cli.Serving;

/// <summary>
/// Sums the engine's step reports during a phase: where the engine's time went (prefill or decode)
/// and how many rows a decode step carried, which explain a phase's efficiency.
/// </summary>
internal sealed class StepTally
{
    private long _prefillTokens, _laneTokens, _prefillTicks, _stepTicks, _decodeRows, _decodeSteps, _decodeTicks, _decodeContext;

    public long PrefillTokens => Interlocked.Read(ref _prefillTokens);

    public TimeSpan PrefillTime => TimeSpan.FromTicks(Interlocked.Read(ref _prefillTicks));

    /// <summary>
    /// The share of prompt positions computed in the lanes of decode calls (models with prompt
    /// lanes; null before any prompt): their time counts as decode time.
    /// </summary>
    public double? PrefillInDecodeCalls => PrefillTokens is > 0 and var tokens ? Interlocked.Read(ref _laneTokens) / (double)tokens : null;

    /// <summary>The share of the engine's step time spent in prefill calls of their own (null before any step).</summary>
    public double? PrefillShare => Interlocked.Read(ref _stepTicks) is > 0 and var total ? Interlocked.Read(ref _prefillTicks) / (double)total : null;

    /// <summary>Mean rows of the steps that decoded (null when none did).</summary>
    public double? MeanDecodeRows => Interlocked.Read(ref _decodeSteps) is > 0 and var steps ? Interlocked.Read(ref _decodeRows) / (double)steps : null;

    /// <summary>Mean positions a decode row attended over (null when no step decoded or the engine does not report it).</summary>
    public double? MeanDecodeContext =>
        Interlocked.Read(ref _decodeContext) is > 0 and var context && Interlocked.Read(ref _decodeRows) is > 0 and var rows ? context / (double)rows : null;

    /// <summary>Mean time of a step's decode part (re-layout and the decode call; null when no step decoded).</summary>
    public TimeSpan? MeanDecodeTime =>
        Interlocked.Read(ref _decodeSteps) is > 0 and var steps ? TimeSpan.FromTicks(Interlocked.Read(ref _decodeTicks) / steps) : null;

    public void Record(EngineStepReport step)
    {
        Interlocked.Add(ref _prefillTokens, step.PrefillTokens);
        Interlocked.Add(ref _laneTokens, step.LaneTokens);
        Interlocked.Add(ref _prefillTicks, step.PrefillElapsed.Ticks);
        Interlocked.Add(ref _stepTicks, step.Elapsed.Ticks);
        if (step.DecodeRows == 0) return;
        Interlocked.Add(ref _decodeRows, step.DecodeRows);
        Interlocked.Add(ref _decodeContext, step.DecodeContextTokens);
        Interlocked.Add(ref _decodeTicks, (step.Elapsed - step.PrefillElapsed).Ticks);
        Interlocked.Increment(ref _decodeSteps);
    }
}
