namespace Qwen.Silo.Storage.Postgres;

/// <summary>The PostgreSQL database cannot be reached or failed the operation.</summary>
public sealed class PostgresUnavailableException(string message, string server, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>Which server was asked, e.g. <c>db.internal:5432, database 'qwen'</c>.</summary>
    public string Server { get; } = server;
}
