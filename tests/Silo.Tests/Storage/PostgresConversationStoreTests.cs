using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Silo.Storage.Postgres;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage;

[Collection(PostgresServerFixture.CollectionName)]
public sealed class PostgresConversationStoreTests(PostgresServerFixture postgres) : ConversationStoreContract
{
    private NpgsqlDataSource? dataSource;

    public override async Task DisposeAsync()
    {
        if (dataSource is not null)
        {
            await dataSource.DisposeAsync();
        }
    }

    [Fact]
    public async Task Turns_are_numbered_from_1_without_gaps_after_conflicts_and_resets()
    {
        string user = NewUser();
        await Store.AppendTurnAsync(user, Turn("t1"), 0, CancellationToken.None);
        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("lost"), 0, CancellationToken.None)).Should().ThrowAsync<ConcurrencyConflictException>();
        await Store.AppendTurnAsync(user, Turn("t2"), 1, CancellationToken.None);
        (await TurnNumbersAsync(user)).Should().Equal(1, 2);

        long version = await Store.ResetAsync(user, CancellationToken.None);
        await Store.AppendTurnAsync(user, Turn("t3"), version, CancellationToken.None);

        (await TurnNumbersAsync(user)).Should().Equal(1);
    }

    [Fact]
    public async Task Two_tenants_users_of_the_same_id_are_two_conversations_and_a_bare_id_is_the_default_tenants()
    {
        string user = NewUser();
        await Store.AppendTurnAsync($"acme/{user}", Turn("a1"), 0, CancellationToken.None);
        await Store.AppendTurnAsync($"globex/{user}", Turn("g1"), 0, CancellationToken.None);
        await Store.AppendTurnAsync($"globex/{user}", Turn("g2"), 1, CancellationToken.None);

        (await Store.ReadAsync($"acme/{user}", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("a1");
        (await Store.ReadAsync($"globex/{user}", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("g1", "g2");
        (await Store.ReadAsync(user, CancellationToken.None)).Version.Should().Be(0, "the default tenant has no such conversation");

        await Store.ResetAsync($"acme/{user}", CancellationToken.None);
        (await Store.ReadAsync($"globex/{user}", CancellationToken.None)).Turns.Should().HaveCount(2, "a reset reaches its own tenant only");

        await Store.AppendTurnAsync(user, Turn("d1"), 0, CancellationToken.None);
        (await Store.ReadAsync($"default/{user}", CancellationToken.None)).Turns.Select(t => t.TurnId).Should().Equal("d1");
    }

    [Fact]
    public async Task Histories_stored_before_tenants_are_the_default_tenants_after_the_migration()
    {
        await using var source = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("before_tenants", CancellationToken.None));
        var v1 = new SchemaModule(ConversationSchema.Module.Name, [ConversationSchema.Module.Migrations[0]]);
        await new PostgresSchemaMigrator(source, [v1], NullLogger<PostgresSchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        await using (var insert = source.CreateCommand(
            """
            INSERT INTO conversations (user_id, version) VALUES ('old-user', 2);
            INSERT INTO turns (user_id, turn_number, turn_id, user_message, assistant_reply, completed_at)
            VALUES ('old-user', 1, 't1', 'hello', 'hi', now()), ('old-user', 2, 't2', 'again', 'yes', now());
            """))
        {
            await insert.ExecuteNonQueryAsync();
        }

        var applied = await new PostgresSchemaMigrator(source, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);

        applied.Select(m => $"{m.Module} v{m.Version}").Should().Equal("conversations v2", "conversations v3");
        var store = new PostgresConversationStore(source, NullLogger<PostgresConversationStore>.Instance);
        var migrated = await store.ReadAsync("default/old-user", CancellationToken.None);
        migrated.Version.Should().Be(2);
        migrated.Turns.Select(t => t.UserMessage).Should().Equal("hello", "again");
        (await store.ReadAsync("acme/old-user", CancellationToken.None)).Turns.Should().BeEmpty();
        (await store.AppendTurnAsync("default/old-user", Turn("t3"), 2, CancellationToken.None)).Version.Should().Be(3);
    }

    [Fact]
    public async Task Turns_stored_before_the_sentiment_columns_existed_read_back_without_a_sentiment()
    {
        await using NpgsqlDataSource old = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("before_sentiment", CancellationToken.None));
        var firstVersionOnly = ConversationSchema.Module with { Migrations = [ConversationSchema.Module.Migrations[0]] };
        await new PostgresSchemaMigrator(old, [firstVersionOnly], NullLogger<PostgresSchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
        await using (NpgsqlCommand insert = old.CreateCommand(
            """
            INSERT INTO conversations (user_id, version) VALUES ('early', 1);
            INSERT INTO turns (user_id, turn_number, turn_id, user_message, assistant_reply, completed_at)
            VALUES ('early', 1, 't1', 'hello', 'hi', now());
            """))
        {
            await insert.ExecuteNonQueryAsync();
        }

        var applied = await new PostgresSchemaMigrator(old, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
        applied.Select(m => m.Version).Should().Equal(2, 3);
        var store = new PostgresConversationStore(old, NullLogger<PostgresConversationStore>.Instance);

        var turn = (await store.ReadAsync("early", CancellationToken.None)).Turns.Should().ContainSingle().Subject;
        turn.UserMessage.Should().Be("hello");
        turn.Sentiment.Should().BeNull();
        var judged = Turn("t2") with { Sentiment = new Qwen.Grains.Interfaces.MessageSentiment("positive", 0.75) };
        await store.AppendTurnAsync("early", judged, 1, CancellationToken.None);
        (await store.ReadAsync("early", CancellationToken.None)).Turns[1].Should().Be(judged);
    }

    protected override async Task<IConversationStore> CreateStoreAsync()
    {
        dataSource = NpgsqlDataSource.Create(await postgres.DatabaseForAsync(GetType()));
        await new PostgresSchemaMigrator(dataSource, [ConversationSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
        return new PostgresConversationStore(dataSource, NullLogger<PostgresConversationStore>.Instance);
    }

    private async Task<List<int>> TurnNumbersAsync(string user)
    {
        await using NpgsqlCommand command = dataSource!.CreateCommand("SELECT turn_number FROM turns WHERE user_id = $1 ORDER BY turn_number");
        command.Parameters.AddWithValue(user);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        var numbers = new List<int>();
        while (await reader.ReadAsync())
        {
            numbers.Add(reader.GetInt32(0));
        }

        return numbers;
    }
}
