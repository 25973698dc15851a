using System.Net.Sockets;
using Npgsql;

namespace Qwen.Silo.Storage.Postgres;

/// <summary>
/// Runs units of work on pooled connections and turns database failures into one exception
/// type the caller chooses, with a message naming the server. A pooled connection can die while
/// idle (the server restarted), so work that fails on a broken connection runs once more on a
/// fresh one; the work must therefore be safe to run twice.
/// </summary>
public sealed class PostgresExecutor
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresFailureFactory _failure;

    /// <param name="failure">Builds the exception callers see.</param>
    public PostgresExecutor(NpgsqlDataSource dataSource, PostgresFailureFactory failure)
    {
        _dataSource = dataSource;
        _failure = failure;
        Server = DescribeServer(_dataSource);
    }

    /// <summary>Which server this talks to, e.g. <c>127.0.0.1:5432, database 'qwen'</c> (no credentials).</summary>
    public string Server { get; }

    public static string DescribeServer(NpgsqlDataSource dataSource)
    {
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return $"{settings.Host}:{settings.Port}, database '{settings.Database ?? settings.Username}'";
    }

    public async Task<T> RunAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            bool opened = false;
            try
            {
                await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                opened = true;
                return await work(connection, cancellationToken);
            }
            catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
            {
                bool broken = IsBrokenConnection(e);
                if (broken)
                {
                    // The other idle connections went down with this one.
                    _dataSource.Clear();
                }

                if (broken && opened && attempt == 1)
                {
                    continue;
                }

                throw _failure(Describe(e), Server, e);
            }
        }
    }

    /// <summary>The connection itself failed (as opposed to the server rejecting a statement).</summary>
    public static bool IsBrokenConnection(NpgsqlException e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) // connection exception
            || p.SqlState.StartsWith("57P", StringComparison.Ordinal), // server shutting down or crashed
        _ => e.InnerException is not TimeoutException,
    };

    private string Describe(NpgsqlException e)
    {
        string what = e switch
        {
            { InnerException: TimeoutException } => "did not answer in time",
            PostgresException p when !IsBrokenConnection(p) => $"rejected the operation ({p.SqlState})",
            _ => "is unreachable",
        };
        string detail = e.Message;
        if (e.GetBaseException() is SocketException socket && !detail.Contains(socket.Message, StringComparison.Ordinal))
        {
            detail += $" ({socket.Message})";
        }

        return $"PostgreSQL at {Server} {what}: {detail}";
    }
}
