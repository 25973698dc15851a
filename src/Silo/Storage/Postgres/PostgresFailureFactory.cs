using Npgsql;

namespace Qwen.Silo.Storage.Postgres;

/// <summary>Builds the exception a component's callers see when PostgreSQL fails.</summary>
/// <param name="message">Says what failed and names the server.</param>
/// <param name="server">Host, port and database.</param>
/// <param name="error">What Npgsql reported.</param>
public delegate Exception PostgresFailureFactory(string message, string server, NpgsqlException error);
