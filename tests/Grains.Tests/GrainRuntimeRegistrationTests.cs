using Xunit;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Grains.Tests.Support;
using Qwen.Silo.Runtime;

namespace Qwen.Grains.Tests;

/// <summary>The runtime as a host registers it: services resolve, sections bind, a turn runs, the drain completes.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class GrainRuntimeRegistrationTests(TinyModelFixture model)
{
    [Fact]
    public async Task The_registered_runtime_binds_its_sections_and_serves_a_turn()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Inference:DefaultMaxNewTokens"] = "5",
            ["Inference:MaxQueueLength"] = "8",
            ["Conversations:MaxMessageChars"] = "20",
            ["Conversations:MaxNewTokens"] = "5",
            ["Conversations:IdleTimeout"] = "00:00:30",
            ["GrainRuntime:IdleSweepInterval"] = "00:00:01",
            ["Prompts:Chat:SystemMessage"] = "Be brief.",
        }).Build();
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(model.Model)
            .AddSingleton(new SiloIdentity("silo-di"))
            .AddSingleton<IConversationStore, InMemoryTestConversationStore>()
            .AddGrainRuntime(configuration);
        await using var provider = services.BuildServiceProvider();
        foreach (var hosted in provider.GetServices<IHostedService>()) await hosted.StartAsync(CancellationToken.None);

        var factory = provider.GetRequiredService<IGrainFactory>();
        var turn = await factory.GetConversation("wendy").SendMessageAsync(new ChatTurnRequest("1", "hello"), TestTimeout.Token);
        turn.CompletionTokens.Should().BeInRange(1, 5);
        turn.SiloId.Should().Be("silo-di");
        var tooLong = () => factory.GetConversation("wendy").SendMessageAsync(new ChatTurnRequest("2", new string('x', 21)), TestTimeout.Token);
        (await tooLong.Should().ThrowAsync<GrainCallException>()).Which.Message.Should().Be("the message has 21 characters; at most 20 are allowed");
        (await factory.GetInferenceWorker().AnalyzeSentimentAsync(new SentimentRequest("不错"), TestTimeout.Token)).SiloId.Should().Be("silo-di");

        var table = provider.GetRequiredService<GrainActivationTable>();
        table.ActiveConversations.Should().Be(1);
        await table.StopAcceptingAsync(TestTimeout.Token);
        table.IsAccepting.Should().BeFalse();
        foreach (var hosted in provider.GetServices<IHostedService>()) await hosted.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task An_idle_activation_whose_user_moved_to_another_silo_is_deactivated_without_waiting_for_the_idle_timeout()
    {
        bool owned = true;
        await using var silo = new TestSilo(model, placement: new DelegatePlacement(_ => owned));
        await silo.Conversation("xena").SendMessageAsync(new ChatTurnRequest("1", "hi"), TestTimeout.Token);

        (await silo.Table.DeactivateIdleAsync(TestTimeout.Token)).Should().Be(0, "the idle timeout has not passed");
        owned = false;
        (await silo.Table.DeactivateIdleAsync(TestTimeout.Token)).Should().Be(1);
        silo.Table.ActiveConversations.Should().Be(0);
    }
}
