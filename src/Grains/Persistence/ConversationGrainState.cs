namespace Qwen.Grains.Persistence;

/// <summary>
/// A conversation grain's state: its completed turns, oldest first. Storage providers keep it with
/// an ETag (the version), so a write from a stale copy fails instead of overwriting.
/// </summary>
[GenerateSerializer, Alias("qwen.ConversationGrainState")]
public sealed class ConversationGrainState
{
    [Id(0)]
    public List<StoredTurn> Turns { get; set; } = [];
}
