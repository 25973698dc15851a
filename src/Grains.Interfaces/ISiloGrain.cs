namespace Qwen.Grains.Interfaces;

/// <summary>
/// One silo, addressed from anywhere in the cluster: it lives on the silo its key names (see
/// <see cref="SiloGrainKey"/>) and answers with that silo's own inference worker. Callers use it to
/// choose a silo by load (sentiment goes to the least busy one) and to warm up a cold silo.
/// </summary>
[Alias("qwen.ISiloGrain")]
public interface ISiloGrain : IGrainWithStringKey
{
    /// <summary>The silo's state, its worker's load (no load while cold) and its conversations and memory (for the cluster view).</summary>
    [Alias("GetStatus")]
    Task<SiloStatusReport> GetStatusAsync(CancellationToken cancellationToken);

    /// <summary>Classifies on this silo's worker.</summary>
    [Alias("AnalyzeSentiment")]
    Task<SentimentResult> AnalyzeSentimentAsync(SentimentRequest request, CancellationToken cancellationToken);

    /// <summary>Generates a reply on this silo's worker (a conversation given whole, nothing stored).</summary>
    [Alias("GenerateReply")]
    IAsyncEnumerable<GenerationEvent> GenerateReplyAsync(ChatGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>Loads the model of a cold silo; returns once it serves (at once when it already does).</summary>
    [Alias("WarmUp")]
    Task WarmUpAsync(CancellationToken cancellationToken);
}

/// <summary>How a silo grain's key names its silo.</summary>
public static class SiloGrainKey
{
    /// <summary>The key of the grain on the silo with this address (Orleans' SiloAddress.ToParsableString()).</summary>
    public static string For(string siloAddress) => siloAddress;
}

/// <param name="SiloId">The silo's name in logs, metrics and replies.</param>
/// <param name="SiloAddress">Orleans' address of the silo (its grain key).</param>
/// <param name="State">"cold" (registered, model not loaded), "warming", "active" or "stopping".</param>
/// <param name="Load">The worker's load; null while the model is not loaded.</param>
/// <param name="Activity">The silo's conversation grains and memory; null from a silo of an earlier version.</param>
[GenerateSerializer, Immutable, Alias("qwen.SiloStatusReport")]
public sealed record SiloStatusReport(string SiloId, string SiloAddress, string State, WorkerLoad? Load, SiloActivity? Activity = null)
{
    public const string Cold = "cold";
    public const string Warming = "warming";
    public const string Active = "active";
    public const string Stopping = "stopping";

    public bool IsActive => State == Active;
}

/// <summary>What a silo hosts besides its worker, for the Api's cluster view (/metrics totals, /v1/cluster/status).</summary>
/// <param name="ActiveConversations">Conversation grains active on the silo.</param>
/// <param name="QueuedTurns">Turns waiting behind a running turn of their conversation.</param>
/// <param name="RunningTurns">Conversation turns running.</param>
/// <param name="ResidentBytes">The silo process's resident set size.</param>
[GenerateSerializer, Immutable, Alias("qwen.SiloActivity")]
public sealed record SiloActivity(int ActiveConversations, int QueuedTurns, int RunningTurns, long ResidentBytes);
