using Xunit;

namespace Qwen.Api.Tests.PublicApi;

/// <summary>One embedded Api (rate limiting off) shared by the test classes of this collection.</summary>
[CollectionDefinition(Name)]
public sealed class EmbeddedApiCollection : ICollectionFixture<EmbeddedApiCollection.Fixture>
{
    public const string Name = "embedded api";

    public sealed class Fixture : IAsyncLifetime
    {
        public EmbeddedApi Api { get; private set; } = null!;

        public async Task InitializeAsync() => Api = await EmbeddedApi.StartAsync("--RateLimit:Enabled=false");

        public async Task DisposeAsync() => await Api.DisposeAsync();
    }
}
