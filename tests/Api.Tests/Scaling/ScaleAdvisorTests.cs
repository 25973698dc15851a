using FluentAssertions;
using Qwen.Api.Scaling;
using Xunit;

namespace Qwen.Api.Tests.Scaling;

/// <summary>The recommended silo count: out at once, in only after a quiet period, one silo at a time, within bounds.</summary>
public sealed class ScaleAdvisorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly AutoscaleOptions Slo = new()
    {
        TargetP90Ms = 1000, QueuePerSilo = 4, MinSilos = 1, MaxSilos = 5, ScaleInAfter = TimeSpan.FromSeconds(60), MinLatencySamples = 5,
    };

    private static ScaleInputs Load(int active, int queued = 0, double p90 = 0, int samples = 0, int joining = 0) =>
        new(active, joining, 0, queued, p90, samples);

    [Fact]
    public void Queue_depth_over_the_target_scales_out_at_once_to_what_the_queue_needs()
    {
        var advisor = new ScaleAdvisor(Slo);
        advisor.Evaluate(Load(1), T0).Recommended.Should().Be(1);
        var r = advisor.Evaluate(Load(1, queued: 13), T0.AddSeconds(1));
        r.Recommended.Should().Be(4, "13 requests at 4 per silo need 4 silos");
        r.Reason.Should().StartWith("scale out").And.Contain("13 requests");
    }

    [Fact]
    public void Latency_over_the_target_adds_one_silo_but_not_while_one_is_still_joining()
    {
        var advisor = new ScaleAdvisor(Slo);
        advisor.Evaluate(Load(2, p90: 1500, samples: 4), T0).Recommended.Should().Be(2, "four samples are too few to judge");
        advisor.Evaluate(Load(2, p90: 1500, samples: 50), T0.AddSeconds(1)).Recommended.Should().Be(3);
        advisor.Evaluate(Load(2, p90: 1500, samples: 80, joining: 1), T0.AddSeconds(2)).Recommended.Should().Be(3, "the third silo is still joining");
        advisor.Evaluate(Load(3, p90: 1400, samples: 20), T0.AddSeconds(3)).Recommended.Should().Be(4);
    }

    [Fact]
    public void The_count_drops_only_after_a_sustained_quiet_period_one_silo_per_period()
    {
        var advisor = new ScaleAdvisor(Slo);
        advisor.Evaluate(Load(3, queued: 12), T0).Recommended.Should().Be(3);
        advisor.Evaluate(Load(3), T0.AddSeconds(1)).Recommended.Should().Be(3);
        var holding = advisor.Evaluate(Load(3), T0.AddSeconds(40));
        holding.Recommended.Should().Be(3);
        holding.Desired.Should().Be(1);
        holding.Reason.Should().StartWith("holding 3");
        // A burst resets the quiet period.
        advisor.Evaluate(Load(3, queued: 9), T0.AddSeconds(50)).Recommended.Should().Be(3);
        advisor.Evaluate(Load(3), T0.AddSeconds(51)).Recommended.Should().Be(3);
        advisor.Evaluate(Load(3), T0.AddSeconds(110)).Recommended.Should().Be(3, "quiet for 59 s only");
        advisor.Evaluate(Load(3), T0.AddSeconds(111)).Recommended.Should().Be(2);
        advisor.Evaluate(Load(2), T0.AddSeconds(150)).Recommended.Should().Be(2, "each step waits a whole quiet period");
        advisor.Evaluate(Load(2), T0.AddSeconds(171)).Recommended.Should().Be(1);
        advisor.Evaluate(Load(1), T0.AddSeconds(500)).Recommended.Should().Be(1, "never below MinSilos");
    }

    [Fact]
    public void Latency_within_the_target_band_holds_the_count()
    {
        var advisor = new ScaleAdvisor(Slo);
        advisor.Evaluate(Load(3), T0).Recommended.Should().Be(3, "the first evaluation starts from the silos there are");
        advisor.Evaluate(Load(3, p90: 700, samples: 100), T0.AddSeconds(1000)).Recommended.Should().Be(3, "p90 above half the target: keep the silos");
        advisor.Evaluate(Load(3, p90: 300, samples: 100), T0.AddSeconds(1001)).Recommended.Should().Be(3);
        advisor.Evaluate(Load(3, p90: 300, samples: 100), T0.AddSeconds(1061)).Recommended.Should().Be(2);
    }

    [Fact]
    public void Recommendations_stay_within_the_bounds_and_an_empty_cluster_gets_the_minimum()
    {
        var advisor = new ScaleAdvisor(Slo with { MinSilos = 2 });
        advisor.Evaluate(Load(0), T0).Recommended.Should().Be(2);
        advisor.Evaluate(Load(2, queued: 1000), T0.AddSeconds(1)).Recommended.Should().Be(5);
        new Action(() => new ScaleAdvisor(Slo with { MinSilos = 6 })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*MinSilos*");
        new Action(() => new ScaleAdvisor(Slo with { TargetP90Ms = 0 })).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*TargetP90Ms*");
    }
}
