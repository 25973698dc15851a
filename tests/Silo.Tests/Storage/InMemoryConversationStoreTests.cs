using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Xunit;

namespace Qwen.Silo.Tests.Storage;

public sealed class InMemoryConversationStoreTests : ConversationStoreContract
{
    protected override Task<IConversationStore> CreateStoreAsync() => Task.FromResult<IConversationStore>(new InMemoryConversationStore());
}
