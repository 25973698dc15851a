using System.CommandLine;
using Npgsql;
using Qwen.Silo.Storage.Postgres;

namespace Qwen.Cli.Commands;

/// <summary>
/// How the database commands (<c>qwen db</c>, <c>qwen keys</c>) are told the cluster database: <c>--connection</c> or the
/// <c>Postgres__ConnectionString</c> variable the silos read, so the password can stay in an environment file.
/// </summary>
internal static class ClusterDatabase
{
    /// <summary>Exit code when PostgreSQL cannot be reached or refuses the operation.</summary>
    public const int Unavailable = 1;

    private const string ConnectionVariable = "Postgres__ConnectionString";

    public static Option<string?> ConnectionOption() => new("--connection")
    {
        Description = $"Npgsql connection string of the cluster database (default: ${ConnectionVariable})",
    };

    /// <summary>Opens the database given on the command line or in the environment.</summary>
    /// <exception cref="ArgumentException">No database was given, or its connection string is invalid.</exception>
    public static NpgsqlDataSource Open(string? connection)
    {
        string? connectionString = connection ?? Environment.GetEnvironmentVariable(ConnectionVariable);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException($"give the database with --connection \"Host=...;Database=...;Username=...\" or {ConnectionVariable}");
        }
        try
        {
            return PostgresDataSourceFactory.Create(new PostgresOptions { ConnectionString = connectionString });
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException(e.Message, e);
        }
    }
}
