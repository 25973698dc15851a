namespace Qwen.Silo.Storage.Postgres;

/// <summary>The cluster's PostgreSQL database (configuration section "Postgres").</summary>
public sealed record PostgresOptions
{
    public const string SectionName = "Postgres";

    /// <summary>Npgsql connection string, e.g. <c>Host=db;Port=5432;Database=qwen;Username=qwen;Password=...</c>.</summary>
    public string ConnectionString { get; init; } = "";

    /// <summary>How long one SQL command may run before it fails (PostgreSQL counts whole seconds).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The server ends a session of ours that sits idle inside a transaction longer than this
    /// (idle_in_transaction_session_timeout), releasing its row locks: a process whose network
    /// vanished mid-transaction must not block the rows of a silo or a conversation for long.
    /// Zero leaves the server's setting.
    /// </summary>
    public TimeSpan IdleInTransactionTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
