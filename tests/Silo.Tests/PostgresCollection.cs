using Qwen.TestSupport;
using Xunit;

namespace Qwen.Silo.Tests;

/// <summary>One PostgreSQL server for every test class in this collection; each class gets its own database.</summary>
[CollectionDefinition(PostgresServerFixture.CollectionName)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
}
