using Microsoft.Extensions.Logging;
using Npgsql;

namespace Qwen.Silo.Storage.Postgres;

/// <summary>Builds the one connection pool a process shares for membership, schema and storage.</summary>
public static class PostgresDataSourceFactory
{
    /// <exception cref="InvalidOperationException">The connection string is missing or malformed.</exception>
    public static NpgsqlDataSource Create(PostgresOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new InvalidOperationException($"{PostgresOptions.SectionName}:ConnectionString is not set");
        }

        NpgsqlConnectionStringBuilder connectionString;
        try
        {
            connectionString = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"{PostgresOptions.SectionName}:ConnectionString is malformed: {e.Message}", e);
        }

        if (options.CommandTimeout > TimeSpan.Zero)
        {
            connectionString.CommandTimeout = (int)Math.Ceiling(options.CommandTimeout.TotalSeconds);
        }

        if (options.IdleInTransactionTimeout > TimeSpan.Zero)
        {
            string setting = $"-c idle_in_transaction_session_timeout={(long)Math.Ceiling(options.IdleInTransactionTimeout.TotalMilliseconds)}";
            connectionString.Options = string.IsNullOrWhiteSpace(connectionString.Options) ? setting : $"{connectionString.Options} {setting}";
        }

        var builder = new NpgsqlDataSourceBuilder(connectionString.ConnectionString);
        if (loggerFactory is not null)
        {
            builder.UseLoggerFactory(loggerFactory);
        }

        return builder.Build();
    }
}
