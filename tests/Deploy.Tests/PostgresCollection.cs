using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>One PostgreSQL server for every test class in this collection.</summary>
[CollectionDefinition(PostgresServerFixture.CollectionName)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServerFixture>
{
}
