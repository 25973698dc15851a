namespace Qwen.Grains.Interfaces;

/// <summary>How callers reach grains, wherever they are placed (the Orleans IGrainFactory shape).</summary>
public interface IGrainFactory
{
    IConversationGrain GetConversation(string userId);

    IInferenceWorker GetInferenceWorker();
}
