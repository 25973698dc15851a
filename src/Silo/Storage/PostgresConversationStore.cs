using Qwen.Silo.Storage.Postgres;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;

namespace Qwen.Silo.Storage;

/// <summary>
/// Conversations in PostgreSQL (tables conversations and turns, see <see cref="ConversationSchema"/>).
/// Each append is one transaction that claims the next version with a conditional write on the
/// conversation row, so of two writers holding the same version exactly one commits.
/// </summary>
/// <remarks>
/// A connection lost while COMMIT is in flight leaves the outcome unknown to this process; the
/// caller sees <see cref="StorageUnavailableException"/>, and retrying with the same turn id is
/// safe: the turn is either stored once or reported as already stored.
/// </remarks>
public sealed class PostgresConversationStore : IConversationStore
{
    private readonly PostgresExecutor _executor;
    private readonly ILogger<PostgresConversationStore> _logger;

    public PostgresConversationStore(NpgsqlDataSource dataSource, ILogger<PostgresConversationStore> logger)
    {
        _executor = new PostgresExecutor(dataSource, (message, _, e) => new StorageUnavailableException(message, e));
        _logger = logger;
    }

    public Task<ConversationState> ReadAsync(string userId, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        var (tenant, user) = ConversationKey.Parse(userId);
        return _executor.RunAsync(
            async (connection, ct) =>
            {
                // One statement, so the version and the turns come from one snapshot.
                await using var command = new NpgsqlCommand(
                    """
                    SELECT c.version, t.turn_id, t.user_message, t.assistant_reply, t.completed_at, t.sentiment_label, t.sentiment_score
                    FROM conversations c LEFT JOIN turns t ON t.tenant = c.tenant AND t.user_id = c.user_id
                    WHERE c.tenant = @tenant AND c.user_id = @user_id
                    ORDER BY t.turn_number
                    """,
                    connection);
                Key(command, tenant, user);
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(ct);
                long version = 0;
                var turns = new List<StoredTurn>();
                while (await reader.ReadAsync(ct))
                {
                    version = reader.GetInt64(0);
                    if (!reader.IsDBNull(1))
                    {
                        turns.Add(ReadTurn(reader, 1));
                    }
                }

                return new ConversationState(userId, turns, version);
            },
            cancellationToken);
    }

    public Task<AppendResult> AppendTurnAsync(string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        StorableText.ValidateTurn(turn);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        StoredTurn stored = turn with { CompletedAt = PostgresTimestamps.Normalize(turn.CompletedAt) };
        return _executor.RunAsync((connection, ct) => AppendAsync(connection, userId, stored, expectedVersion, ct), cancellationToken);
    }

    public Task<long> ResetAsync(string userId, CancellationToken cancellationToken)
    {
        StorableText.ValidateUserId(userId);
        var (tenant, user) = ConversationKey.Parse(userId);
        return _executor.RunAsync(
            async (connection, ct) =>
            {
                await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(ct);

                // Bump (and lock) the conversation row first: an append holding the row finishes before
                // the delete, whose fresh snapshot then sees that append's turn too.
                await using var bump = new NpgsqlCommand(
                    """
                    INSERT INTO conversations (tenant, user_id, version, updated_at) VALUES (@tenant, @user_id, 1, now())
                    ON CONFLICT (tenant, user_id) DO UPDATE SET version = conversations.version + 1, updated_at = now()
                    RETURNING version
                    """,
                    connection);
                Key(bump, tenant, user);
                long version = (long)(await bump.ExecuteScalarAsync(ct))!;

                await using var delete = new NpgsqlCommand("DELETE FROM turns WHERE tenant = @tenant AND user_id = @user_id", connection);
                Key(delete, tenant, user);
                await delete.ExecuteNonQueryAsync(ct);
                await transaction.CommitAsync(ct);
                return version;
            },
            cancellationToken);
    }

    private async Task<AppendResult> AppendAsync(
        NpgsqlConnection connection, string userId, StoredTurn turn, long expectedVersion, CancellationToken cancellationToken)
    {
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await FindTurnAsync(connection, userId, turn.TurnId, cancellationToken) is { } existing)
        {
            return existing;
        }

        long? version = await ClaimNextVersionAsync(connection, userId, expectedVersion, cancellationToken);
        if (version is null)
        {
            // Read committed: this statement sees whatever the writer that beat us committed,
            // and if that writer stored this very turn, the append has succeeded after all.
            if (await FindTurnAsync(connection, userId, turn.TurnId, cancellationToken) is { } raced)
            {
                return raced;
            }

            long current = await CurrentVersionAsync(connection, userId, cancellationToken);
            _logger.LogDebug(
                "Conversation {UserId} is at version {CurrentVersion}, not {ExpectedVersion}: turn {TurnId} rejected",
                userId, current, expectedVersion, turn.TurnId);
            throw new ConcurrencyConflictException(
                $"conversation '{userId}' is at version {current}, not {expectedVersion}: another writer changed it");
        }

        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO turns (tenant, user_id, turn_number, turn_id, user_message, assistant_reply, completed_at, sentiment_label, sentiment_score)
            SELECT @tenant, @user_id, COALESCE(max(turn_number), 0) + 1, @turn_id, @user_message, @assistant_reply, @completed_at,
                   @sentiment_label, @sentiment_score
            FROM turns WHERE tenant = @tenant AND user_id = @user_id
            """,
            connection);
        Key(insert, userId);
        insert.Parameters.AddWithValue("turn_id", turn.TurnId);
        insert.Parameters.AddWithValue("user_message", turn.UserMessage);
        insert.Parameters.AddWithValue("assistant_reply", turn.AssistantReply);
        insert.Parameters.AddWithValue("completed_at", turn.CompletedAt);
        insert.Parameters.Add(new NpgsqlParameter<string?>("sentiment_label", NpgsqlDbType.Text) { TypedValue = turn.Sentiment?.Label });
        insert.Parameters.Add(new NpgsqlParameter<double?>("sentiment_score", NpgsqlDbType.Double) { TypedValue = turn.Sentiment?.Score });
        await insert.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new AppendResult(turn, version.Value, AlreadyStored: false);
    }

    /// <summary>Takes the conversation row (locking it) at the expected version; null when the version differs.</summary>
    private static async Task<long?> ClaimNextVersionAsync(
        NpgsqlConnection connection, string userId, long expectedVersion, CancellationToken cancellationToken)
    {
        string sql = expectedVersion == 0
            ? """
              INSERT INTO conversations (tenant, user_id, version, updated_at) VALUES (@tenant, @user_id, 1, now())
              ON CONFLICT (tenant, user_id) DO NOTHING
              RETURNING version
              """
            : """
              UPDATE conversations SET version = version + 1, updated_at = now()
              WHERE tenant = @tenant AND user_id = @user_id AND version = @expected_version
              RETURNING version
              """;
        await using var command = new NpgsqlCommand(sql, connection);
        Key(command, userId);
        if (expectedVersion != 0)
        {
            command.Parameters.AddWithValue("expected_version", expectedVersion);
        }

        return await command.ExecuteScalarAsync(cancellationToken) is long version ? version : null;
    }

    private static async Task<AppendResult?> FindTurnAsync(NpgsqlConnection connection, string userId, string turnId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT c.version, t.turn_id, t.user_message, t.assistant_reply, t.completed_at, t.sentiment_label, t.sentiment_score
            FROM turns t JOIN conversations c ON c.tenant = t.tenant AND c.user_id = t.user_id
            WHERE t.tenant = @tenant AND t.user_id = @user_id AND t.turn_id = @turn_id
            """,
            connection);
        Key(command, userId);
        command.Parameters.AddWithValue("turn_id", turnId);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new AppendResult(ReadTurn(reader, 1), reader.GetInt64(0), AlreadyStored: true)
            : null;
    }

    private static async Task<long> CurrentVersionAsync(NpgsqlConnection connection, string userId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT version FROM conversations WHERE tenant = @tenant AND user_id = @user_id", connection);
        Key(command, userId);
        return await command.ExecuteScalarAsync(cancellationToken) is long version ? version : 0;
    }

    /// <summary>The conversation's row key: its tenant and user id (see <see cref="ConversationKey"/>).</summary>
    private static void Key(NpgsqlCommand command, string key)
    {
        var (tenant, user) = ConversationKey.Parse(key);
        Key(command, tenant, user);
    }

    private static void Key(NpgsqlCommand command, string tenant, string user)
    {
        command.Parameters.AddWithValue("tenant", tenant);
        command.Parameters.AddWithValue("user_id", user);
    }

    private static StoredTurn ReadTurn(NpgsqlDataReader reader, int first) => new(
        reader.GetString(first),
        reader.GetString(first + 1),
        reader.GetString(first + 2),
        reader.GetFieldValue<DateTimeOffset>(first + 3))
    {
        Sentiment = reader.IsDBNull(first + 4) ? null : new MessageSentiment(reader.GetString(first + 4), reader.GetDouble(first + 5)),
    };
}
