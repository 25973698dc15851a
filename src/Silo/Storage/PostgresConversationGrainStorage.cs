using System.Globalization;
using Orleans.Storage;
using Qwen.Grains.Persistence;

namespace Qwen.Silo.Storage;

/// <summary>
/// Orleans grain storage for conversation grains over the PostgreSQL table of turns
/// (<see cref="PostgresConversationStore"/>): the ETag is the conversation's version, and a write
/// appends the state's newest turn if the stored version is still the ETag. The conversation grain
/// writes once per completed turn, so the newest turn is the only one not stored yet.
/// </summary>
public sealed class PostgresConversationGrainStorage(IConversationStore store) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var state = await store.ReadAsync(UserId(grainId), CancellationToken.None);
        Typed(grainState).State = new ConversationGrainState { Turns = [.. state.Turns] };
        grainState.ETag = Etag(state.Version);
        grainState.RecordExists = state.Version > 0;
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var turns = Typed(grainState).State?.Turns ?? [];
        if (turns.Count == 0) throw new InvalidOperationException("a conversation write must carry the turn to append");
        long expected = Version(grainState.ETag);
        AppendResult saved;
        try
        {
            saved = await store.AppendTurnAsync(UserId(grainId), turns[^1], expected, CancellationToken.None);
        }
        catch (ConcurrencyConflictException e)
        {
            throw new InconsistentStateException(e.Message, grainState.ETag ?? "", "0", e);
        }
        // Stored before (a retry that raced its first attempt): the copy that tried to write it is stale.
        if (saved.AlreadyStored) throw new InconsistentStateException($"turn '{saved.Turn.TurnId}' is already stored", Etag(saved.Version), grainState.ETag ?? "");
        grainState.ETag = Etag(saved.Version);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        long version = await store.ResetAsync(UserId(grainId), CancellationToken.None);
        grainState.ETag = Etag(version);
        grainState.RecordExists = false;
    }

    private static IGrainState<ConversationGrainState> Typed<T>(IGrainState<T> grainState) =>
        grainState as IGrainState<ConversationGrainState>
        ?? throw new NotSupportedException($"this storage holds conversation state only, not {typeof(T).Name}");

    private static string UserId(GrainId grainId) => grainId.Key.ToString()!;

    private static string Etag(long version) => version.ToString(CultureInfo.InvariantCulture);

    private static long Version(string? etag) => etag is null ? 0 : long.Parse(etag, CultureInfo.InvariantCulture);
}
