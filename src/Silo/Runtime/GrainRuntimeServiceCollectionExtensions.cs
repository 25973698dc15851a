using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Qwen.Grains;
using Qwen.Grains.Interfaces;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qwen.Grains.Persistence;
using Qwen.Inference.Prompts;

namespace Qwen.Silo.Runtime;

public static class GrainRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the inference worker, conversation grains and the grain runtime with their option
    /// sections (Inference, Prompts:Sentiment, Prompts:Chat, Conversations, GrainRuntime) and the
    /// idle sweep. The host also registers a <see cref="LoadedModel"/>, a <see cref="SiloIdentity"/>
    /// and an <see cref="Qwen.Grains.Persistence.IConversationStore"/>; an <see cref="IGrainPlacement"/>
    /// registered before this call replaces the lone-silo placement.
    /// </summary>
    public static IServiceCollection AddGrainRuntime(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<InferenceWorkerOptions>(configuration.GetSection(InferenceWorkerOptions.SectionName));
        services.Configure<SentimentPromptOptions>(configuration.GetSection(SentimentPromptOptions.SectionName));
        services.Configure<ChatPromptOptions>(configuration.GetSection(ChatPromptOptions.SectionName));
        services.Configure<ConversationOptions>(configuration.GetSection(ConversationOptions.SectionName));
        services.Configure<GrainRuntimeOptions>(configuration.GetSection(GrainRuntimeOptions.SectionName));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IGrainPlacement, LocalOwnerPlacement>();
        services.AddSingleton<InferenceWorker>();
        services.AddSingleton<IInferenceWorker>(sp => sp.GetRequiredService<InferenceWorker>());
        services.AddSingleton<CallAdmission>();
        services.AddSingleton(sp => new ConversationGrainActivator(sp.GetRequiredService<IConversationStore>(), new DeferredInferenceWorker(sp),
            sp.GetRequiredService<IOptions<ConversationOptions>>(), sp.GetRequiredService<SiloIdentity>(), sp.GetRequiredService<ILogger<ConversationGrain>>()));
        services.AddSingleton<GrainActivationTable>();
        services.AddSingleton<LocalGrainFactory>();
        services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<LocalGrainFactory>());
        services.AddHostedService<IdleActivationSweeper>();
        return services;
    }
}
