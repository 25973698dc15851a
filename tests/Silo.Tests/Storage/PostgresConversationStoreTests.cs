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
