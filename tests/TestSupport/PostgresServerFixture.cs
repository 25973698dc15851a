using System.Collections.Concurrent;
using System.Text;
using Xunit;

namespace Qwen.TestSupport;

/// <summary>
/// One PostgreSQL server for a test collection (declare it in each test assembly with
/// <c>[CollectionDefinition(PostgresServerFixture.CollectionName)]</c> and
/// <c>ICollectionFixture&lt;PostgresServerFixture&gt;</c>); each test class asks for its own database.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string CollectionName = "PostgreSQL server";

    private readonly ConcurrentDictionary<Type, Lazy<Task<string>>> databasesByClass = new();
    private PostgresServer? server;
    private int databaseCount;

    public PostgresServer Server => server ?? throw new InvalidOperationException("the server has not started yet");

    public async Task InitializeAsync() => server = await PostgresServer.StartNewAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>The test class's own database (created on the first call), as a connection string.</summary>
    public Task<string> DatabaseForAsync(Type testClass) =>
        databasesByClass.GetOrAdd(testClass, type => new Lazy<Task<string>>(() => CreateDatabaseAsync(type.Name, CancellationToken.None))).Value;

    /// <summary>A new empty database, as a connection string.</summary>
    public Task<string> CreateDatabaseAsync(string hint, CancellationToken cancellationToken)
    {
        int number = Interlocked.Increment(ref databaseCount);
        var name = new StringBuilder($"t{number}_");
        foreach (char c in hint.ToLowerInvariant())
        {
            if (name.Length >= 60)
            {
                break;
            }

            name.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }

        return Server.CreateDatabaseAsync(name.ToString(), cancellationToken);
    }
}
