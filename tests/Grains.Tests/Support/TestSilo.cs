using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Inference.Prompts;
using Qwen.Silo.Runtime;

namespace Qwen.Grains.Tests.Support;

/// <summary>
/// One silo's grain runtime assembled as the host wires it: the real inference worker on the
/// shared tiny model (observed), conversation grains, the activation table and the factory.
/// Short replies and a small window keep the suite fast.
/// </summary>
internal sealed class TestSilo : IAsyncDisposable
{
    public TestSilo(TinyModelFixture fixture, IConversationStore? store = null, InferenceWorkerOptions? inference = null,
        ConversationOptions? conversations = null, GrainRuntimeOptions? runtime = null, IGrainPlacement? placement = null, string siloId = "silo-test")
    {
        Store = store ?? new InMemoryTestConversationStore();
        Silo = new SiloIdentity(siloId);
        Inference = new InferenceWorker(fixture.Model,
            Options.Create(inference ?? new InferenceWorkerOptions { DefaultMaxNewTokens = 6, MaxNewTokensLimit = 64, ContextWindow = 1024 }),
            Options.Create(new SentimentPromptOptions()), Options.Create(new ChatPromptOptions()), Silo, NullLogger<InferenceWorker>.Instance);
        Worker = new ObservedInferenceWorker(Inference);
        var conversationOptions = Options.Create(conversations ?? new ConversationOptions { MaxNewTokens = 6 });
        var runtimeOptions = Options.Create(runtime ?? new GrainRuntimeOptions());
        Admission = new CallAdmission();
        Table = new GrainActivationTable(
            new ConversationGrainActivator(Store, Worker, conversationOptions, Silo, NullLogger<ConversationGrain>.Instance),
            placement ?? new LocalOwnerPlacement(), Admission, conversationOptions, runtimeOptions, TimeProvider.System,
            NullLogger<GrainActivationTable>.Instance);
        Factory = new LocalGrainFactory(Table, Inference, Admission);
        Sweeper = new IdleActivationSweeper(Table, runtimeOptions, TimeProvider.System, NullLogger<IdleActivationSweeper>.Instance);
    }

    public IConversationStore Store { get; }
    public InMemoryTestConversationStore TestStore => (InMemoryTestConversationStore)Store;
    public SiloIdentity Silo { get; }
    public InferenceWorker Inference { get; }
    public ObservedInferenceWorker Worker { get; }
    public CallAdmission Admission { get; }
    public GrainActivationTable Table { get; }
    public LocalGrainFactory Factory { get; }
    public IdleActivationSweeper Sweeper { get; }

    public IConversationGrain Conversation(string userId) => Factory.GetConversation(userId);

    public async ValueTask DisposeAsync()
    {
        Worker.Release();
        await Sweeper.StopAsync(CancellationToken.None);
        Sweeper.Dispose();
        Inference.Dispose();
    }
}
