using Qwen.Grains.Interfaces;

namespace Qwen.Silo.Runtime;

/// <summary>
/// Grains as this silo serves them: conversation references backed by the local activation
/// table, and this silo's inference worker. Handing out a reference activates nothing; the first call does.
/// </summary>
public sealed class LocalGrainFactory : IGrainFactory
{
    private readonly GrainActivationTable _table;
    private readonly IInferenceWorker _worker;

    public LocalGrainFactory(GrainActivationTable table, IInferenceWorker worker, CallAdmission admission)
    {
        _table = table;
        _worker = new AdmissionCheckedInferenceWorker(worker, admission);
    }

    public IConversationGrain GetConversation(string userId) => new ConversationGrainReference(userId, _table);

    public IInferenceWorker GetInferenceWorker() => _worker;
}
