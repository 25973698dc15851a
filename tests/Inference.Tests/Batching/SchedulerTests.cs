using Xunit;
using FluentAssertions;
using Qwen.Inference.Batching;

namespace Qwen.Inference.Tests.Batching;

/// <summary>The scheduler's rules on plain requests, without a model.</summary>
public sealed class SchedulerTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly BatchingOptions Roomy = new()
    {
        MaxBatchSize = 4, MaxPrefillTokensPerStep = 1000, KvBudgetTokens = 100_000, MaxQueueLength = 10,
    };

    [Fact]
    public void High_priority_requests_start_before_earlier_normal_ones()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy);
        var chat1 = FakeRequest.Chat("chat1");
        var chat2 = FakeRequest.Chat("chat2");
        var score = FakeRequest.Scoring("score");
        scheduler.Enqueue(chat1);
        scheduler.Enqueue(chat2);
        scheduler.Enqueue(score);

        scheduler.Plan(Now).Prefill.Should().Equal(score, chat1, chat2);
    }

    [Fact]
    public void Requests_of_one_priority_start_in_arrival_order_and_the_head_blocks_those_behind_it()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { KvBudgetTokens = 300 });
        var big = FakeRequest.Chat("big", prompt: 10, reserved: 200);
        var huge = FakeRequest.Chat("huge", prompt: 10, reserved: 290);
        var small = FakeRequest.Chat("small", prompt: 10, reserved: 20);
        foreach (var r in new[] { big, huge, small }) scheduler.Enqueue(r);

        // big alone costs 200; big + huge would cost 2 × 290; small must not overtake huge.
        scheduler.Plan(Now).Prefill.Should().Equal(big);
        scheduler.PrefillCompleted(big);
        scheduler.Plan(Now).Prefill.Should().BeEmpty();
        scheduler.Waiting.Should().Be(2);

        scheduler.Finished(big);
        scheduler.Plan(Now).Prefill.Should().Equal(huge);
    }

    [Fact]
    public void The_decoding_set_never_exceeds_the_batch_size_but_scoring_joins_a_full_batch()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxBatchSize = 2 });
        var chats = Enumerable.Range(0, 3).Select(i => FakeRequest.Chat($"chat{i}")).ToArray();
        foreach (var chat in chats) scheduler.Enqueue(chat);
        var first = scheduler.Plan(Now).Prefill;
        first.Should().Equal(chats[0], chats[1]);
        foreach (var r in first) scheduler.PrefillCompleted(r);

        var score = FakeRequest.Scoring("score");
        scheduler.Enqueue(score);
        var step = scheduler.Plan(Now);
        step.Decode.Should().Equal(chats[0], chats[1]);
        step.Prefill.Should().Equal(score);
        scheduler.PrefillCompleted(score);
        scheduler.Decoding.Should().Be(2, "a scoring request is done after its prefill");

        scheduler.Finished(chats[0]);
        scheduler.Plan(Now).Prefill.Should().Equal(chats[2]);
    }

    [Fact]
    public void A_prefill_group_stays_within_the_prefill_token_limit_counting_padding()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxPrefillTokensPerStep = 100 });
        var a = FakeRequest.Chat("a", prompt: 10);
        var b = FakeRequest.Chat("b", prompt: 40);
        var c = FakeRequest.Chat("c", prompt: 30);
        foreach (var r in new[] { a, b, c }) scheduler.Enqueue(r);

        // a + b pad to 2 × 40 = 80; adding c pads to 3 × 40 = 120.
        scheduler.Plan(Now).Prefill.Should().Equal(a, b);
    }

    [Fact]
    public void A_prompt_longer_than_the_prefill_limit_starts_alone()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxPrefillTokensPerStep = 100 });
        var longPrompt = FakeRequest.Chat("long", prompt: 250, reserved: 300);
        var next = FakeRequest.Chat("next", prompt: 5);
        scheduler.Enqueue(longPrompt);
        scheduler.Enqueue(next);

        scheduler.Plan(Now).Prefill.Should().Equal(longPrompt);
    }

    [Fact]
    public void Only_one_prefill_group_runs_at_a_time()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy);
        var a = FakeRequest.Chat("a");
        scheduler.Enqueue(a);
        scheduler.Plan(Now).Prefill.Should().Equal(a);

        var b = FakeRequest.Chat("b");
        scheduler.Enqueue(b);
        scheduler.Plan(Now).Prefill.Should().BeEmpty("a is still prefilling");
        scheduler.PrefillCompleted(a);
        var step = scheduler.Plan(Now);
        step.Prefill.Should().Equal(b);
        step.Decode.Should().Equal(a);
    }

    [Fact]
    public void With_chunked_prefill_requests_start_while_others_still_prefill()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy, chunkedPrefill: true);
        var chat = FakeRequest.Chat("chat");
        scheduler.Enqueue(chat);
        scheduler.Plan(Now).Prefill.Should().Equal(chat);

        var score = FakeRequest.Scoring("score");
        var later = FakeRequest.Chat("later");
        scheduler.Enqueue(later);
        scheduler.Enqueue(score);
        scheduler.Plan(Now).Prefill.Should().Equal([score, later], "chat is still prefilling, and that no longer holds anyone back");
        scheduler.Prefilling.Should().Be(3);
    }

    [Fact]
    public void Arrivals_during_a_step_start_only_at_the_priority_asked_for_and_only_with_chunked_prefill()
    {
        var chunked = new Scheduler<FakeRequest>(Roomy, chunkedPrefill: true);
        var padded = new Scheduler<FakeRequest>(Roomy);
        foreach (var scheduler in new[] { chunked, padded })
        {
            scheduler.Enqueue(FakeRequest.Chat("first"));
            scheduler.Plan(Now);
        }
        var chat = FakeRequest.Chat("chat");
        var score = FakeRequest.Scoring("score");
        chunked.Enqueue(chat);
        chunked.Enqueue(score);
        padded.Enqueue(FakeRequest.Scoring("padded score"));

        chunked.StartArrivals(RequestPriority.High).Should().Equal(score);
        chunked.Waiting.Should().Be(1, "the chat waits for the next plan");
        chunked.Plan(Now).Prefill.Should().Equal(chat);
        padded.StartArrivals(RequestPriority.High).Should().BeEmpty("a padded group is never joined midway");
        padded.Waiting.Should().Be(1);
    }

    [Fact]
    public void With_chunked_prefill_prompt_length_does_not_limit_a_group()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxPrefillTokensPerStep = 100 }, chunkedPrefill: true);
        var prompts = Enumerable.Range(0, 3).Select(i => FakeRequest.Chat($"p{i}", prompt: 60, reserved: 100)).ToArray();
        foreach (var r in prompts) scheduler.Enqueue(r);

        // 3 × 60 > 100: a padded group would take one; chunked prefill spends the budget per step instead.
        scheduler.Plan(Now).Prefill.Should().Equal(prompts);
    }

    [Fact]
    public void With_chunked_prefill_requests_still_prefilling_count_against_the_batch_and_kv_limits()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxBatchSize = 2, KvBudgetTokens = 300 }, chunkedPrefill: true);
        var a = FakeRequest.Chat("a", reserved: 100);
        var b = FakeRequest.Chat("b", reserved: 100);
        var c = FakeRequest.Chat("c", reserved: 100);
        scheduler.Enqueue(a);
        scheduler.Enqueue(b);
        scheduler.Plan(Now).Prefill.Should().Equal(a, b);

        scheduler.Enqueue(c);
        scheduler.Plan(Now).Prefill.Should().BeEmpty("two requests prefill, a batch of two");
        scheduler.PrefillCompleted(a);
        scheduler.Plan(Now).Prefill.Should().BeEmpty("a decodes and b still prefills: two decoders already");
        scheduler.Finished(a);
        scheduler.Plan(Now).Prefill.Should().Equal(c);

        // The KV budget counts the prefilling requests too: c still prefills, so big would make 2 × 160 of 300.
        var big = FakeRequest.Scoring("big", reserved: 160);
        scheduler.Enqueue(big);
        scheduler.PrefillCompleted(b);
        scheduler.Finished(b);
        scheduler.Plan(Now).Prefill.Should().BeEmpty();
        scheduler.Finished(c);
        scheduler.Plan(Now).Prefill.Should().Equal(big);
    }

    [Fact]
    public void A_full_queue_refuses_with_an_overload_error_and_accepts_again_once_requests_start()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxQueueLength = 2 });
        scheduler.Enqueue(FakeRequest.Chat("a"));
        scheduler.Enqueue(FakeRequest.Chat("b"));
        var refuse = () => scheduler.Enqueue(FakeRequest.Chat("c"));
        refuse.Should().Throw<EngineOverloadedException>().WithMessage("*queue is full*");

        scheduler.Plan(Now);
        scheduler.Enqueue(FakeRequest.Chat("d"));
        scheduler.Waiting.Should().Be(1);
    }

    [Fact]
    public void A_request_larger_than_the_whole_kv_budget_is_refused_as_invalid()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { KvBudgetTokens = 100 });
        var refuse = () => scheduler.Enqueue(FakeRequest.Chat("big", reserved: 101));
        refuse.Should().Throw<ArgumentException>().WithMessage("*101 KV positions*budget of 100*");
    }

    [Fact]
    public void Cancelled_and_expired_requests_leave_wherever_they_are_and_free_their_slots()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxBatchSize = 2 });
        var decoding = FakeRequest.Chat("decoding", deadline: Now.AddSeconds(5));
        var prefilling = FakeRequest.Chat("prefilling");
        scheduler.Enqueue(decoding);
        scheduler.Plan(Now);
        scheduler.PrefillCompleted(decoding);
        scheduler.Enqueue(prefilling);
        scheduler.Plan(Now).Prefill.Should().Equal(prefilling);
        var waiting = FakeRequest.Chat("waiting", deadline: Now.AddSeconds(1));
        var next = FakeRequest.Chat("next");
        scheduler.Enqueue(waiting);
        scheduler.Enqueue(next);

        prefilling.IsCancelled = true;
        var step = scheduler.Plan(Now.AddSeconds(1));
        step.Dropped.Should().BeEquivalentTo([
            new DroppedRequest<FakeRequest>(waiting, DropReason.DeadlineExpired),
            new DroppedRequest<FakeRequest>(prefilling, DropReason.Cancelled)]);
        step.Prefill.Should().Equal(next);
        step.Decode.Should().Equal(decoding);

        step = scheduler.Plan(Now.AddSeconds(5));
        step.Dropped.Should().Equal(new DroppedRequest<FakeRequest>(decoding, DropReason.DeadlineExpired));
        step.Decode.Should().BeEmpty();
        scheduler.Prefilling.Should().Be(1);
    }

    [Fact]
    public void Completing_or_finishing_a_dropped_request_changes_nothing()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy);
        var a = FakeRequest.Chat("a");
        scheduler.Enqueue(a);
        scheduler.Plan(Now);
        a.IsCancelled = true;
        scheduler.Plan(Now).Dropped.Should().ContainSingle();

        scheduler.PrefillCompleted(a);
        scheduler.Finished(a);
        scheduler.Decoding.Should().Be(0);
        scheduler.Prefilling.Should().Be(0);
    }

    [Fact]
    public void Drain_returns_every_request_and_leaves_the_scheduler_empty()
    {
        var scheduler = new Scheduler<FakeRequest>(Roomy with { MaxBatchSize = 1 });
        var requests = Enumerable.Range(0, 3).Select(i => FakeRequest.Chat($"r{i}")).ToArray();
        foreach (var r in requests) scheduler.Enqueue(r);
        scheduler.Plan(Now);
        scheduler.PrefillCompleted(requests[0]);
        scheduler.Plan(Now);

        scheduler.DrainAll().Should().BeEquivalentTo(requests);
        scheduler.Waiting.Should().Be(0);
        scheduler.Decoding.Should().Be(0);
        scheduler.Plan(Now).IsIdle.Should().BeTrue();
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_rule_that_failed()
    {
        var create = () => new Scheduler<FakeRequest>(Roomy with { MaxBatchSize = 0 });
        create.Should().Throw<ArgumentException>().WithMessage("Batching: MaxBatchSize must be at least 1*");
    }

    internal sealed class FakeRequest(string name, RequestPriority priority, bool decodes, int prompt, int reserved, DateTimeOffset? deadline)
        : ISchedulable
    {
        public RequestPriority Priority => priority;
        public bool Decodes => decodes;
        public int PromptTokens => prompt;
        public int ReservedTokens => reserved;
        public DateTimeOffset? Deadline => deadline;
        public bool IsCancelled { get; set; }

        public static FakeRequest Chat(string name, int prompt = 10, int reserved = 50, DateTimeOffset? deadline = null) =>
            new(name, RequestPriority.Normal, true, prompt, reserved, deadline);

        public static FakeRequest Scoring(string name, int prompt = 10, int? reserved = null) =>
            new(name, RequestPriority.High, false, prompt, reserved ?? prompt + 2, null);

        public override string ToString() => name;
    }
}
