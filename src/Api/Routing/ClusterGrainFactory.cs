using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;

namespace Qwen.Api.Routing;

/// <summary>
/// Grain references for a clustered deployment: conversations go to the silo that owns the
/// user (rendezvous hashing over active silos), sentiment to a lightly loaded silo, both
/// retried on the next silo when one cannot serve.
/// </summary>
public sealed class ClusterGrainFactory(SiloDirectory directory, SiloClients clients, IOptions<RoutingOptions> options,
    ILoggerFactory loggers) : IGrainFactory
{
    public IConversationGrain GetConversation(string userId) =>
        new RoutedConversationGrain(userId, directory, clients, options.Value, loggers.CreateLogger<RoutedConversationGrain>());

    public IInferenceWorker GetInferenceWorker() =>
        new RoutedInferenceWorker(directory, clients, options.Value, loggers.CreateLogger<RoutedInferenceWorker>());
}
