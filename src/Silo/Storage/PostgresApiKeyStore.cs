using System.Security.Cryptography;
using Npgsql;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Grains.Security;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Silo.Storage;

/// <summary>
/// The cluster's API keys in PostgreSQL (<see cref="ApiKeySchema"/>): silos look keys up by hash;
/// <c>qwen keys</c> creates, lists and revokes them.
/// </summary>
public sealed class PostgresApiKeyStore : IApiKeyStore
{
    private readonly PostgresExecutor _executor;

    public PostgresApiKeyStore(NpgsqlDataSource dataSource)
    {
        _executor = new PostgresExecutor(dataSource, (message, _, e) => new StorageUnavailableException(message, e));
    }

    public Task<ApiKeyRecord?> FindAsync(string keyHash, CancellationToken cancellationToken) =>
        _executor.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    "SELECT key_id, tenant, admin FROM api_keys WHERE key_hash = @hash AND revoked_at IS NULL", connection);
                command.Parameters.AddWithValue("hash", keyHash);
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(ct);
                return await reader.ReadAsync(ct) ? new ApiKeyRecord(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)) : null;
            },
            cancellationToken);

    /// <summary>Makes a new key for the tenant and stores its id and hash; the key itself is returned once and kept nowhere.</summary>
    /// <exception cref="ArgumentException">The tenant id is not valid.</exception>
    public async Task<CreatedApiKey> CreateAsync(string tenant, bool admin, string name, CancellationToken cancellationToken)
    {
        if (TenantIdFormat.Problem(tenant) is { } problem) throw new ArgumentException(problem, nameof(tenant));
        string keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        // The id inside the key lets an operator tell which key a client holds; the 256 random bits are the secret.
        string key = $"qwen-{keyId}-{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        var created = await _executor.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    """
                    INSERT INTO api_keys (key_id, key_hash, tenant, admin, name) VALUES (@id, @hash, @tenant, @admin, @name)
                    RETURNING created_at
                    """,
                    connection);
                command.Parameters.AddWithValue("id", keyId);
                command.Parameters.AddWithValue("hash", ApiKeyHash.Of(key));
                command.Parameters.AddWithValue("tenant", tenant);
                command.Parameters.AddWithValue("admin", admin);
                command.Parameters.AddWithValue("name", name);
                // timestamptz comes back as a UTC DateTime.
                return new DateTimeOffset((DateTime)(await command.ExecuteScalarAsync(ct))!);
            },
            cancellationToken);
        return new CreatedApiKey(new StoredApiKey(keyId, tenant, admin, name, created, null), key);
    }

    /// <summary>Every key, oldest first (revoked ones too, with when).</summary>
    public Task<IReadOnlyList<StoredApiKey>> ListAsync(CancellationToken cancellationToken) =>
        _executor.RunAsync<IReadOnlyList<StoredApiKey>>(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    "SELECT key_id, tenant, admin, name, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id", connection);
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(ct);
                var keys = new List<StoredApiKey>();
                while (await reader.ReadAsync(ct))
                {
                    keys.Add(new StoredApiKey(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetString(3),
                        reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
                }
                return keys;
            },
            cancellationToken);

    /// <summary>Revokes the key; false when there is no such key. Revoking twice keeps the first time.</summary>
    public Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken) =>
        _executor.RunAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = @id", connection);
                command.Parameters.AddWithValue("id", keyId);
                return await command.ExecuteNonQueryAsync(ct) == 1;
            },
            cancellationToken);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>A key as the table keeps it: no key, no hash.</summary>
public sealed record StoredApiKey(string KeyId, string Tenant, bool Admin, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <param name="Key">The key itself: shown once, stored nowhere.</param>
public sealed record CreatedApiKey(StoredApiKey Stored, string Key);
