using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Cluster.Membership;
using Qwen.Cluster.Schema;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Cluster.Tests.Membership;

[Collection(PostgresServerFixture.CollectionName)]
public sealed class PostgresMembershipTableTests(PostgresServerFixture postgres) : MembershipTableContract
{
    private NpgsqlDataSource? dataSource;

    public override async Task DisposeAsync()
    {
        if (dataSource is not null)
        {
            await dataSource.DisposeAsync();
        }
    }

    protected override async Task<IMembershipTable> CreateEmptyTableAsync()
    {
        dataSource = NpgsqlDataSource.Create(await postgres.DatabaseForAsync(GetType()));
        await new PostgresSchemaMigrator(dataSource, [MembershipSchema.Module], NullLogger<PostgresSchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
        await using NpgsqlCommand truncate = dataSource.CreateCommand("TRUNCATE silos");
        await truncate.ExecuteNonQueryAsync();
        return new PostgresMembershipTable(dataSource, NullLogger<PostgresMembershipTable>.Instance);
    }
}
