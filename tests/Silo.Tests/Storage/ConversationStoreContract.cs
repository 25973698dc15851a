using FluentAssertions;
using Qwen.Grains.Interfaces;
using Qwen.Grains.Persistence;
using Qwen.Silo.Storage;
using Xunit;

namespace Qwen.Silo.Tests.Storage;

/// <summary>The behaviour every <see cref="IConversationStore"/> must have; run against each implementation.</summary>
public abstract class ConversationStoreContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Noon = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    protected IConversationStore Store { get; private set; } = null!;

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected abstract Task<IConversationStore> CreateStoreAsync();

    [Fact]
    public async Task An_unknown_user_has_an_empty_conversation_at_version_0()
    {
        string user = NewUser();

        ConversationState state = await Store.ReadAsync(user, None);

        state.Should().BeEquivalentTo(new { UserId = user, Turns = Array.Empty<StoredTurn>(), Version = 0L });
    }

    [Fact]
    public async Task Appended_turns_read_back_in_order_and_each_append_bumps_the_version()
    {
        string user = NewUser();
        StoredTurn[] turns = [.. Enumerable.Range(1, 5).Select(i => Turn($"t{i}", $"question {i}", $"answer {i}"))];

        for (int i = 0; i < turns.Length; i++)
        {
            AppendResult result = await Store.AppendTurnAsync(user, turns[i], expectedVersion: i, None);
            result.Should().Be(new AppendResult(turns[i], i + 1, AlreadyStored: false));
        }

        ConversationState state = await Store.ReadAsync(user, None);
        state.Version.Should().Be(5);
        state.Turns.Should().Equal(turns);
    }

    [Fact]
    public async Task Completion_times_are_kept_in_utc_to_the_microsecond()
    {
        string user = NewUser();
        var completedAt = new DateTimeOffset(2026, 11, 21, 14, 3, 7, TimeSpan.FromHours(2)).AddTicks(9_876_543);

        AppendResult result = await Store.AppendTurnAsync(user, Turn("t1") with { CompletedAt = completedAt }, 0, None);

        DateTimeOffset expected = completedAt.AddTicks(-3).ToUniversalTime();
        result.Turn.CompletedAt.Should().Be(expected);
        StoredTurn read = (await Store.ReadAsync(user, None)).Turns.Single();
        read.CompletedAt.Should().Be(expected);
        read.CompletedAt.Offset.Should().Be(TimeSpan.Zero);
        read.CompletedAt.Ticks.Should().Be(expected.Ticks);
    }

    [Fact]
    public async Task A_stale_or_future_version_is_a_conflict_and_writes_nothing()
    {
        string user = NewUser();
        await Store.AppendTurnAsync(user, Turn("t1"), 0, None);

        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t2"), 0, None))
            .Should().ThrowAsync<ConcurrencyConflictException>().WithMessage("*version 1, not 0*");
        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t2"), 2, None))
            .Should().ThrowAsync<ConcurrencyConflictException>().WithMessage("*version 1, not 2*");

        ConversationState state = await Store.ReadAsync(user, None);
        state.Version.Should().Be(1);
        state.Turns.Select(t => t.TurnId).Should().Equal("t1");
    }

    [Fact]
    public async Task A_new_conversation_only_accepts_version_0()
    {
        string user = NewUser();

        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t1"), 3, None))
            .Should().ThrowAsync<ConcurrencyConflictException>().WithMessage("*version 0, not 3*");

        (await Store.ReadAsync(user, None)).Version.Should().Be(0);
    }

    [Fact]
    public async Task A_turn_id_already_stored_is_returned_not_written_again_even_with_a_stale_version()
    {
        string user = NewUser();
        StoredTurn first = Turn("t1", "hello", "hi there");
        await Store.AppendTurnAsync(user, first, 0, None);
        await Store.AppendTurnAsync(user, Turn("t2"), 1, None);

        AppendResult retried = await Store.AppendTurnAsync(user, Turn("t1", "hello (retried)", "a different reply"), 0, None);
        AppendResult retriedCurrent = await Store.AppendTurnAsync(user, Turn("t1", "hello", "hi there"), 2, None);

        retried.Should().Be(new AppendResult(first, 2, AlreadyStored: true));
        retriedCurrent.Should().Be(new AppendResult(first, 2, AlreadyStored: true));
        ConversationState state = await Store.ReadAsync(user, None);
        state.Version.Should().Be(2);
        state.Turns.Select(t => t.TurnId).Should().Equal("t1", "t2");
    }

    [Fact]
    public async Task Of_concurrent_writers_with_the_same_version_exactly_one_wins()
    {
        const int Rounds = 10;
        const int Writers = 4;
        string user = NewUser();

        for (int round = 0; round < Rounds; round++)
        {
            int r = round;
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<object>[] writers = [.. Enumerable.Range(0, Writers).Select(w => Task.Run<object>(async () =>
            {
                await start.Task;
                try
                {
                    return await Store.AppendTurnAsync(user, Turn($"r{r}-w{w}"), expectedVersion: r, None);
                }
                catch (ConcurrencyConflictException conflict)
                {
                    return conflict;
                }
            }))];
            start.SetResult();
            object[] outcomes = await Task.WhenAll(writers);

            outcomes.OfType<AppendResult>().Should().ContainSingle($"round {r}").Which.Version.Should().Be(r + 1);
            outcomes.OfType<ConcurrencyConflictException>().Should().HaveCount(Writers - 1);
        }

        ConversationState state = await Store.ReadAsync(user, None);
        state.Version.Should().Be(Rounds);
        state.Turns.Select(t => t.TurnId[..t.TurnId.IndexOf('-', StringComparison.Ordinal)])
            .Should().Equal(Enumerable.Range(0, Rounds).Select(r => $"r{r}"));
    }

    [Fact]
    public async Task Concurrent_retries_of_one_turn_store_it_once()
    {
        string user = NewUser();
        await Store.AppendTurnAsync(user, Turn("t0"), 0, None);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task<AppendResult>[] retries = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await Store.AppendTurnAsync(user, Turn("t1"), 1, None);
        }))];
        start.SetResult();
        AppendResult[] results = await Task.WhenAll(retries);

        results.Count(r => !r.AlreadyStored).Should().Be(1);
        results.Should().OnlyContain(r => r.Version == 2 && r.Turn == Turn("t1"));
        (await Store.ReadAsync(user, None)).Turns.Select(t => t.TurnId).Should().Equal("t0", "t1");
    }

    [Fact]
    public async Task Reset_deletes_the_turns_and_bumps_the_version_so_stale_writers_fail()
    {
        string user = NewUser();
        await Store.AppendTurnAsync(user, Turn("t1"), 0, None);
        await Store.AppendTurnAsync(user, Turn("t2"), 1, None);

        long version = await Store.ResetAsync(user, None);

        version.Should().Be(3);
        (await Store.ReadAsync(user, None)).Should().BeEquivalentTo(new { UserId = user, Turns = Array.Empty<StoredTurn>(), Version = 3L });
        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t3"), 2, None)).Should().ThrowAsync<ConcurrencyConflictException>();

        (await Store.AppendTurnAsync(user, Turn("t3"), 3, None)).Version.Should().Be(4);
        (await Store.ReadAsync(user, None)).Turns.Select(t => t.TurnId).Should().Equal("t3");
    }

    [Fact]
    public async Task A_reset_racing_an_append_never_leaves_the_appended_turn_behind()
    {
        for (int round = 0; round < 20; round++)
        {
            string user = NewUser();
            await Store.AppendTurnAsync(user, Turn("t1"), 0, None);
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<bool> append = Task.Run(async () =>
            {
                await start.Task;
                try
                {
                    await Store.AppendTurnAsync(user, Turn("t2"), 1, None);
                    return true;
                }
                catch (ConcurrencyConflictException)
                {
                    return false;
                }
            });
            Task<long> reset = Task.Run(async () =>
            {
                await start.Task;
                return await Store.ResetAsync(user, None);
            });
            start.SetResult();
            bool appended = await append;
            long resetVersion = await reset;

            // Whichever ran first, the reset decides the final state: no turns.
            ConversationState state = await Store.ReadAsync(user, None);
            state.Turns.Should().BeEmpty($"round {round}");
            state.Version.Should().Be(appended ? 3 : 2).And.Be(resetVersion);
        }
    }

    [Fact]
    public async Task Resetting_a_new_conversation_starts_it_at_version_1()
    {
        string user = NewUser();

        (await Store.ResetAsync(user, None)).Should().Be(1);
        (await Store.ResetAsync(user, None)).Should().Be(2);

        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t1"), 0, None)).Should().ThrowAsync<ConcurrencyConflictException>();
        (await Store.AppendTurnAsync(user, Turn("t1"), 2, None)).Version.Should().Be(3);
    }

    [Fact]
    public async Task After_a_reset_a_forgotten_turn_id_can_be_stored_again()
    {
        string user = NewUser();
        await Store.AppendTurnAsync(user, Turn("t1"), 0, None);
        await Store.ResetAsync(user, None);

        AppendResult result = await Store.AppendTurnAsync(user, Turn("t1", "again"), 2, None);

        result.AlreadyStored.Should().BeFalse();
        (await Store.ReadAsync(user, None)).Turns.Should().Equal(Turn("t1", "again"));
    }

    [Fact]
    public async Task User_ids_are_kept_exactly_and_never_mixed_up()
    {
        string suffix = Guid.NewGuid().ToString("N")[..8];
        string[] users =
        [
            $"O'Brien-{suffix}",
            $"\"quoted\"-{suffix}",
            $"Robert'); DROP TABLE turns;---{suffix}",
            $"back\\slash%_{suffix}",
            $"用户-😀-{suffix}",
            $"עברית-{suffix}",
            $"e\u0301-{suffix}", // decomposed é: not normalised, so distinct from the next one
            $"\u00e9-{suffix}",
            $"a-{suffix}",
            $"A-{suffix}",
            $"a-{suffix} ",
            $"tab\tnew\nline-{suffix}",
            suffix + new string('x', StorableText.MaxUserIdUtf8Bytes - suffix.Length),
            suffix + string.Concat(Enumerable.Repeat("😀", (StorableText.MaxUserIdUtf8Bytes - suffix.Length) / 4)),
        ];

        for (int i = 0; i < users.Length; i++)
        {
            await Store.AppendTurnAsync(users[i], Turn($"t{i}", $"message of {users[i]}"), 0, None);
        }

        for (int i = 0; i < users.Length; i++)
        {
            ConversationState state = await Store.ReadAsync(users[i], None);
            state.UserId.Should().Be(users[i]);
            state.Version.Should().Be(1);
            state.Turns.Should().Equal(Turn($"t{i}", $"message of {users[i]}"));
        }
    }

    [Fact]
    public async Task Messages_keep_every_character()
    {
        string user = NewUser();
        StoredTurn turn = Turn(
            "t1",
            "Quotes ' \" ` and backslashes \\ \\\\, newlines\r\n\ttabs, emoji 👩‍👩‍👧 and 中文, RTL \u202e text",
            string.Concat(Enumerable.Repeat("Long reply with ünïcödé. ", 8_000)));

        await Store.AppendTurnAsync(user, turn, 0, None);

        (await Store.ReadAsync(user, None)).Turns.Should().Equal(turn);
    }

    [Fact]
    public async Task An_empty_reply_is_a_valid_turn()
    {
        string user = NewUser();

        await Store.AppendTurnAsync(user, Turn("t1", "say nothing", ""), 0, None);

        (await Store.ReadAsync(user, None)).Turns.Single().AssistantReply.Should().BeEmpty();
    }

    [Fact]
    public async Task Unstorable_input_is_refused_the_same_way_by_every_store()
    {
        string user = NewUser();
        string tooLong = new('x', StorableText.MaxUserIdUtf8Bytes + 1);
        string tooLongInUtf8 = string.Concat(Enumerable.Repeat("é", StorableText.MaxUserIdUtf8Bytes / 2 + 1));

        foreach (string badUser in new[] { "", "nul\0inside", "lone \ud800 surrogate", tooLong, tooLongInUtf8 })
        {
            await Store.Invoking(s => s.ReadAsync(badUser, None)).Should().ThrowAsync<ArgumentException>();
            await Store.Invoking(s => s.AppendTurnAsync(badUser, Turn("t1"), 0, None)).Should().ThrowAsync<ArgumentException>();
            await Store.Invoking(s => s.ResetAsync(badUser, None)).Should().ThrowAsync<ArgumentException>();
        }

        StoredTurn[] badTurns =
        [
            Turn(""),
            Turn(new string('t', StorableText.MaxTurnIdUtf8Bytes + 1)),
            Turn("t1", "nul\0inside"),
            Turn("t1", "fine", "trailing lone surrogate \udc00"),
        ];
        foreach (StoredTurn bad in badTurns)
        {
            await Store.Invoking(s => s.AppendTurnAsync(user, bad, 0, None)).Should().ThrowAsync<ArgumentException>();
        }

        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t1"), -1, None)).Should().ThrowAsync<ArgumentOutOfRangeException>();
        (await Store.ReadAsync(user, None)).Version.Should().Be(0);
    }

    [Fact]
    public async Task A_turns_sentiment_is_kept_exactly_and_a_turn_without_one_reads_back_without()
    {
        string user = NewUser();
        StoredTurn judged = Turn("t1") with { Sentiment = new MessageSentiment("negative", 0.8123456789012345) };
        StoredTurn plain = Turn("t2");

        await Store.AppendTurnAsync(user, judged, 0, None);
        await Store.AppendTurnAsync(user, plain, 1, None);

        (await Store.ReadAsync(user, None)).Turns.Should().Equal(judged, plain);
        // A retried turn is answered with what is stored, sentiment included.
        AppendResult retried = await Store.AppendTurnAsync(user, judged with { Sentiment = null }, 2, None);
        retried.AlreadyStored.Should().BeTrue();
        retried.Turn.Sentiment.Should().Be(judged.Sentiment);
    }

    [Fact]
    public async Task A_sentiment_that_is_not_positive_or_negative_with_a_probability_is_refused()
    {
        string user = NewUser();
        MessageSentiment[] invalid = [new("neutral", 0.7), new("positive", 1.5), new("negative", double.NaN)];
        foreach (var bad in invalid)
        {
            await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t1") with { Sentiment = bad }, 0, None)).Should().ThrowAsync<ArgumentException>();
        }

        (await Store.ReadAsync(user, None)).Version.Should().Be(0);
    }

    [Fact]
    public async Task A_cancelled_call_is_cancelled_and_writes_nothing()
    {
        string user = NewUser();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Store.Invoking(s => s.AppendTurnAsync(user, Turn("t1"), 0, cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        await Store.Invoking(s => s.ResetAsync(user, cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        await Store.Invoking(s => s.ReadAsync(user, cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();

        (await Store.ReadAsync(user, None)).Version.Should().Be(0);
    }

    protected static string NewUser() => $"user-{Guid.NewGuid():N}";

    protected static StoredTurn Turn(string turnId, string? userMessage = null, string? reply = null) =>
        new(turnId, userMessage ?? $"message {turnId}", reply ?? $"reply {turnId}", Noon);
}
