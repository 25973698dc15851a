using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Storage;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.Silo.Storage.Postgres;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage;

/// <summary>
/// The conversation grain's storage provider over the PostgreSQL table of turns: the ETag is the
/// conversation's version, a write appends the newest turn only if the ETag is still current, and
/// a turn id is stored once.
/// </summary>
[Collection(PostgresServerFixture.CollectionName)]
public sealed class PostgresConversationGrainStorageTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private const string StateName = "conversation";
    private static readonly DateTimeOffset Noon = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private NpgsqlDataSource _dataSource = null!;
    private PostgresConversationStore _store = null!;
    private PostgresConversationGrainStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _dataSource = NpgsqlDataSource.Create(await postgres.DatabaseForAsync(GetType()));
        await new PostgresSchemaMigrator(_dataSource, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
        _store = new PostgresConversationStore(_dataSource, NullLogger<PostgresConversationStore>.Instance);
        _storage = new PostgresConversationGrainStorage(_store);
    }

    public async Task DisposeAsync() => await _dataSource.DisposeAsync();

    [Fact]
    public async Task An_unknown_conversation_reads_as_empty_at_etag_0()
    {
        var state = await ReadAsync(NewUser());

        state.State!.Turns.Should().BeEmpty();
        state.ETag.Should().Be("0");
        state.RecordExists.Should().BeFalse();
    }

    [Fact]
    public async Task Writes_append_the_newest_turn_and_advance_the_etag_and_reads_return_every_turn_in_order()
    {
        string user = NewUser();
        var state = await ReadAsync(user);

        state.State!.Turns.Add(Turn("t1"));
        await _storage.WriteStateAsync(StateName, Grain(user), state);
        state.ETag.Should().Be("1");
        state.RecordExists.Should().BeTrue();
        state.State!.Turns.Add(Turn("t2"));
        await _storage.WriteStateAsync(StateName, Grain(user), state);
        state.ETag.Should().Be("2");

        var read = await ReadAsync(user);
        read.State!.Turns.Should().Equal(Turn("t1"), Turn("t2"));
        read.ETag.Should().Be("2");
        read.RecordExists.Should().BeTrue();
        (await _store.ReadAsync(user, CancellationToken.None)).Version.Should().Be(2);
    }

    [Fact]
    public async Task A_write_from_a_stale_copy_is_an_inconsistent_state_and_writes_nothing()
    {
        string user = NewUser();
        var stale = await ReadAsync(user);
        var current = await ReadAsync(user);
        current.State!.Turns.Add(Turn("winner"));
        await _storage.WriteStateAsync(StateName, Grain(user), current);

        stale.State!.Turns.Add(Turn("loser"));
        var write = () => _storage.WriteStateAsync(StateName, Grain(user), stale);

        var conflict = (await write.Should().ThrowAsync<InconsistentStateException>()).Which;
        conflict.CurrentEtag.Should().Be("0", "the ETag the stale copy wrote with");
        conflict.Message.Should().Contain("version 1, not 0");
        stale.ETag.Should().Be("0");
        (await ReadAsync(user)).State!.Turns.Select(t => t.TurnId).Should().Equal("winner");
    }

    [Fact]
    public async Task A_turn_id_already_stored_is_an_inconsistent_state_and_is_not_written_twice()
    {
        string user = NewUser();
        var first = await ReadAsync(user);
        var second = await ReadAsync(user);
        first.State!.Turns.Add(Turn("same"));
        await _storage.WriteStateAsync(StateName, Grain(user), first);

        // The same turn retried on another activation that read before the first write.
        second.State!.Turns.Add(Turn("same") with { AssistantReply = "a second reply" });
        var retry = () => _storage.WriteStateAsync(StateName, Grain(user), second);
        (await retry.Should().ThrowAsync<InconsistentStateException>()).Which.Message.Should().Be("turn 'same' is already stored");

        // Also with the current ETag: a turn id is stored once whatever the version.
        var current = await ReadAsync(user);
        current.State!.Turns.Add(Turn("same"));
        await current.Invoking(c => _storage.WriteStateAsync(StateName, Grain(user), c)).Should().ThrowAsync<InconsistentStateException>();

        var read = await ReadAsync(user);
        read.State!.Turns.Should().Equal(Turn("same"));
        read.ETag.Should().Be("1");
    }

    [Fact]
    public async Task Clearing_empties_the_conversation_and_moves_the_etag_on_so_older_copies_cannot_write()
    {
        string user = NewUser();
        var state = await ReadAsync(user);
        state.State!.Turns.Add(Turn("t1"));
        await _storage.WriteStateAsync(StateName, Grain(user), state);
        var beforeClear = await ReadAsync(user);

        await _storage.ClearStateAsync(StateName, Grain(user), state);

        state.ETag.Should().Be("2");
        state.RecordExists.Should().BeFalse();
        var cleared = await ReadAsync(user);
        cleared.State!.Turns.Should().BeEmpty();
        cleared.ETag.Should().Be("2");
        beforeClear.State!.Turns.Add(Turn("t2"));
        await beforeClear.Invoking(s => _storage.WriteStateAsync(StateName, Grain(user), s)).Should().ThrowAsync<InconsistentStateException>();
        cleared.State!.Turns.Add(Turn("t3"));
        await _storage.WriteStateAsync(StateName, Grain(user), cleared);
        (await ReadAsync(user)).State!.Turns.Select(t => t.TurnId).Should().Equal("t3");
    }

    [Fact]
    public async Task A_write_without_a_turn_or_of_another_state_type_is_refused()
    {
        string user = NewUser();
        var empty = await ReadAsync(user);
        await empty.Invoking(s => _storage.WriteStateAsync(StateName, Grain(user), s)).Should().ThrowAsync<InvalidOperationException>()
            .WithMessage("a conversation write must carry the turn to append");

        var other = new GrainState<string>("not a conversation");
        await other.Invoking(s => _storage.ReadStateAsync(StateName, Grain(user), s)).Should().ThrowAsync<NotSupportedException>()
            .WithMessage("*conversation state only, not String");
    }

    private async Task<GrainState<ConversationGrainState>> ReadAsync(string user)
    {
        var state = new GrainState<ConversationGrainState>(new ConversationGrainState());
        await _storage.ReadStateAsync(StateName, Grain(user), state);
        return state;
    }

    private static GrainId Grain(string user) => GrainId.Create("conversation", user);

    private static StoredTurn Turn(string id) => new(id, $"question {id}", $"answer {id}", Noon);

    private static string NewUser() => $"user-{Guid.NewGuid():N}";
}
