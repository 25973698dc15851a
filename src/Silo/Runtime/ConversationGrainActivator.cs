using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qwen.Grains;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;

namespace Qwen.Silo.Runtime;

/// <summary>Creates conversation grains with this silo's services: its store and its local inference worker.</summary>
public sealed class ConversationGrainActivator(IConversationStore store, IInferenceWorker worker, IOptions<ConversationOptions> options,
    SiloIdentity silo, ILogger<ConversationGrain> logger)
{
    public ConversationGrain Create(string userId) => new(userId, store, worker, options, silo, logger);
}
