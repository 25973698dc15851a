namespace Qwen.Cli.Serving;

/// <summary>Running totals of a phase, read by the progress display while clients add to them.</summary>
internal sealed class LiveCounters
{
    private long _completed;
    private long _errors;
    private long _tokens;

    public long Completed => Interlocked.Read(ref _completed);
    public long Errors => Interlocked.Read(ref _errors);
    public long GeneratedTokens => Interlocked.Read(ref _tokens);

    public void Record(bool succeeded, int generatedTokens)
    {
        Interlocked.Increment(ref _completed);
        if (!succeeded) Interlocked.Increment(ref _errors);
        Interlocked.Add(ref _tokens, generatedTokens);
    }
}
