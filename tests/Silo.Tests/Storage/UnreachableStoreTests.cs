using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests.Storage;

/// <summary>PostgreSQL unreachable from the start.</summary>
public sealed class UnreachableStoreTests
{
    [Fact]
    public async Task Every_call_fails_with_StorageUnavailableException_naming_the_server()
    {
        int port = FreePort.Next();
        await using NpgsqlDataSource dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Database=qwen;Username=qwen;Timeout=3");
        var store = new PostgresConversationStore(dataSource, NullLogger<PostgresConversationStore>.Instance);
        var turn = new StoredTurn("t1", "hello", "hi", DateTimeOffset.UtcNow);

        await store.Invoking(s => s.ReadAsync("alice", CancellationToken.None))
            .Should().ThrowAsync<StorageUnavailableException>().WithMessage($"PostgreSQL at 127.0.0.1:{port}, database 'qwen' is unreachable*");
        await store.Invoking(s => s.AppendTurnAsync("alice", turn, 0, CancellationToken.None)).Should().ThrowAsync<StorageUnavailableException>();
        await store.Invoking(s => s.ResetAsync("alice", CancellationToken.None)).Should().ThrowAsync<StorageUnavailableException>();
    }
}
