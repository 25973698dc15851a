using Qwen.Grains.Interfaces;

namespace Qwen.Grains;

/// <summary>
/// The silo's model and its inference worker as the grains see them: a cold silo has neither until
/// it is warmed up. The host implements it (loading, warm-up, shutdown).
/// </summary>
public interface ISiloModel
{
    /// <summary>One of the <see cref="SiloStatusReport"/> states.</summary>
    string State { get; }

    /// <summary>The worker, once the model is loaded.</summary>
    /// <exception cref="GrainCallException"><see cref="GrainErrorKind.Unavailable"/> while cold, warming or stopping.</exception>
    InferenceWorker Worker { get; }

    /// <summary>
    /// The next reply of user <paramref name="userId"/>'s conversation, generated on this silo's worker in-process.
    /// A conversation grain calls its own silo's worker this way rather than through the stateless worker grain:
    /// a streamed grain call sends each MoveNext as its own message, and on a silo that had just joined those
    /// were placed on other silos' workers, which had no record of the enumerator.
    /// </summary>
    IAsyncEnumerable<GenerationEvent> GenerateConversationReplyAsync(string userId, ChatGenerationRequest request, CancellationToken cancellationToken);

    /// <summary>Loads the model (once; later calls share the first) and completes when the silo serves.</summary>
    Task WarmUpAsync(CancellationToken cancellationToken);
}
