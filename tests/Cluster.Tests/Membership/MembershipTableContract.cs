using FluentAssertions;
using Qwen.Cluster.Membership;
using Xunit;

namespace Qwen.Cluster.Tests.Membership;

/// <summary>The behaviour every <see cref="IMembershipTable"/> must have; run against each implementation.</summary>
public abstract class MembershipTableContract : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected IMembershipTable Table { get; private set; } = null!;

    public async Task InitializeAsync() => Table = await CreateEmptyTableAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A table with no rows.</summary>
    protected abstract Task<IMembershipTable> CreateEmptyTableAsync();

    [Fact]
    public async Task Registered_silo_is_read_back_with_its_endpoint_status_load_and_start_time()
    {
        var startedAt = new DateTimeOffset(2026, 11, 21, 10, 30, 15, TimeSpan.FromHours(2)).AddTicks(1234567);
        var load = new SiloLoad(3, 2, 41, 12.5, true);
        DateTimeOffset before = DateTimeOffset.UtcNow;

        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Joining) with { Load = load, StartedAt = startedAt }, None);

        SiloRecord read = (await Table.ReadAllAsync(None)).Should().ContainSingle().Subject;
        read.SiloId.Should().Be("silo-a");
        read.Endpoint.Should().Be("http://10.0.0.1:7101");
        read.Status.Should().Be(SiloStatus.Joining);
        read.Load.Should().Be(load);
        read.StartedAt.Should().Be(startedAt.AddTicks(-7), "the table keeps microseconds");
        read.LastHeartbeat.Should().BeCloseTo(before, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Read_all_lists_every_status_ordered_by_silo_id()
    {
        await Table.RegisterAsync(Silo("silo-c", SiloStatus.Leaving), None);
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Active), None);
        await Table.RegisterAsync(Silo("silo-b", SiloStatus.Dead), None);
        await Table.RegisterAsync(Silo("silo-d", SiloStatus.Joining), None);

        IReadOnlyList<SiloRecord> all = await Table.ReadAllAsync(None);

        all.Select(s => (s.SiloId, s.Status)).Should().Equal(
            ("silo-a", SiloStatus.Active), ("silo-b", SiloStatus.Dead), ("silo-c", SiloStatus.Leaving), ("silo-d", SiloStatus.Joining));
    }

    [Fact]
    public async Task Registering_again_replaces_the_row()
    {
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Active), None);
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Joining) with { Endpoint = "http://10.0.0.9:7200" }, None);

        SiloRecord read = (await Table.ReadAllAsync(None)).Should().ContainSingle().Subject;
        read.Endpoint.Should().Be("http://10.0.0.9:7200");
        read.Status.Should().Be(SiloStatus.Joining);
    }

    [Fact]
    public async Task Register_stamps_the_heartbeat_with_the_tables_clock_not_the_callers()
    {
        await Table.RegisterAsync(Silo("slow-clock") with { LastHeartbeat = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) }, None);
        await Table.RegisterAsync(Silo("fast-clock") with { LastHeartbeat = DateTimeOffset.UtcNow.AddDays(1) }, None);

        (await Table.DeclareStaleSilosDeadAsync(TimeSpan.FromMinutes(1), None)).Should().BeEmpty();
        (await Table.ReadAllAsync(None)).Should().OnlyContain(s => s.LastHeartbeat < DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task Heartbeat_refreshes_the_time_and_load()
    {
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Active), None);
        DateTimeOffset registered = (await Table.ReadAllAsync(None))[0].LastHeartbeat;
        await Task.Delay(20);

        var load = new SiloLoad(7, 4, 100, 55.25, true);
        await Table.HeartbeatAsync("silo-a", load, None);

        SiloRecord read = (await Table.ReadAllAsync(None))[0];
        read.Load.Should().Be(load);
        read.LastHeartbeat.Should().BeAfter(registered);
        read.Status.Should().Be(SiloStatus.Active);
    }

    [Fact]
    public async Task Heartbeat_or_status_change_of_an_unregistered_silo_is_refused()
    {
        await Table.Invoking(t => t.HeartbeatAsync("nobody", SiloLoad.Idle, None))
            .Should().ThrowAsync<SiloNotRegisteredException>().WithMessage("*'nobody'*not registered*");
        await Table.Invoking(t => t.SetStatusAsync("nobody", SiloStatus.Active, None))
            .Should().ThrowAsync<SiloNotRegisteredException>();
    }

    [Fact]
    public async Task Heartbeat_after_being_declared_dead_throws_and_changes_nothing()
    {
        await Table.RegisterAsync(Silo("zombie", SiloStatus.Active), None);
        await Task.Delay(300);
        (await Table.DeclareStaleSilosDeadAsync(TimeSpan.FromMilliseconds(100), None)).Should().Equal("zombie");

        await Table.Invoking(t => t.HeartbeatAsync("zombie", new SiloLoad(1, 1, 1, 1, true), None))
            .Should().ThrowAsync<SiloDeclaredDeadException>().WithMessage("*'zombie'*dead*");

        SiloRecord read = (await Table.ReadAllAsync(None))[0];
        read.Status.Should().Be(SiloStatus.Dead);
        read.Load.Should().Be(SiloLoad.Idle);
    }

    [Fact]
    public async Task Status_moves_through_the_lifecycle_and_dead_is_final()
    {
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Joining), None);
        foreach (SiloStatus status in new[] { SiloStatus.Active, SiloStatus.Leaving, SiloStatus.Dead, SiloStatus.Dead })
        {
            await Table.SetStatusAsync("silo-a", status, None);
            (await Table.ReadAllAsync(None))[0].Status.Should().Be(status);
        }

        foreach (SiloStatus status in new[] { SiloStatus.Joining, SiloStatus.Active, SiloStatus.Leaving })
        {
            await Table.Invoking(t => t.SetStatusAsync("silo-a", status, None)).Should().ThrowAsync<SiloDeclaredDeadException>();
        }

        await Table.Invoking(t => t.HeartbeatAsync("silo-a", SiloLoad.Idle, None)).Should().ThrowAsync<SiloDeclaredDeadException>();
        (await Table.ReadAllAsync(None))[0].Status.Should().Be(SiloStatus.Dead);
    }

    [Fact]
    public async Task A_dead_silo_comes_back_only_by_registering_again()
    {
        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Active), None);
        await Table.SetStatusAsync("silo-a", SiloStatus.Dead, None);

        await Table.RegisterAsync(Silo("silo-a", SiloStatus.Joining), None);
        await Table.HeartbeatAsync("silo-a", SiloLoad.Idle, None);
        await Table.SetStatusAsync("silo-a", SiloStatus.Active, None);

        (await Table.ReadAllAsync(None))[0].Status.Should().Be(SiloStatus.Active);
    }

    [Fact]
    public async Task Silos_whose_heartbeat_went_stale_are_declared_dead_once()
    {
        await Table.RegisterAsync(Silo("alive", SiloStatus.Active), None);
        await Table.RegisterAsync(Silo("silent", SiloStatus.Active), None);
        await Table.RegisterAsync(Silo("silent-joining", SiloStatus.Joining), None);
        await Table.RegisterAsync(Silo("silent-leaving", SiloStatus.Leaving), None);
        await Table.RegisterAsync(Silo("already-dead", SiloStatus.Dead), None);
        // Wide margins: a busy machine may pause between the heartbeat and the check.
        await Task.Delay(3000);
        await Table.HeartbeatAsync("alive", SiloLoad.Idle, None);

        IReadOnlyList<string> declared = await Table.DeclareStaleSilosDeadAsync(TimeSpan.FromMilliseconds(2000), None);

        declared.Should().Equal("silent", "silent-joining", "silent-leaving");
        (await Table.DeclareStaleSilosDeadAsync(TimeSpan.FromMilliseconds(2000), None)).Should().BeEmpty();
        (await Table.ReadAllAsync(None)).Where(s => s.Status != SiloStatus.Dead).Select(s => s.SiloId).Should().Equal("alive");
    }

    [Fact]
    public async Task Concurrent_declarers_report_each_dead_silo_exactly_once()
    {
        string[] silos = [.. Enumerable.Range(0, 12).Select(i => $"silo-{i:D2}")];
        foreach (string silo in silos)
        {
            await Table.RegisterAsync(Silo(silo, SiloStatus.Active), None);
        }

        await Task.Delay(400);
        IReadOnlyList<string>[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(
            _ => Task.Run(() => Table.DeclareStaleSilosDeadAsync(TimeSpan.FromMilliseconds(200), None))));

        results.SelectMany(r => r).Should().BeEquivalentTo(silos).And.OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Bad_arguments_are_refused_before_touching_the_table()
    {
        await Table.Invoking(t => t.RegisterAsync(Silo(""), None)).Should().ThrowAsync<ArgumentException>();
        await Table.Invoking(t => t.RegisterAsync(Silo("a\0b"), None)).Should().ThrowAsync<ArgumentException>();
        await Table.Invoking(t => t.RegisterAsync(Silo("silo-a") with { Endpoint = " " }, None)).Should().ThrowAsync<ArgumentException>();
        await Table.Invoking(t => t.RegisterAsync(Silo("silo-a") with { Status = (SiloStatus)42 }, None)).Should().ThrowAsync<ArgumentException>();
        await Table.Invoking(t => t.DeclareStaleSilosDeadAsync(TimeSpan.Zero, None)).Should().ThrowAsync<ArgumentException>();
        (await Table.ReadAllAsync(None)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_cancelled_call_is_cancelled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Table.Invoking(t => t.ReadAllAsync(cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        await Table.Invoking(t => t.RegisterAsync(Silo("silo-a"), cancelled.Token)).Should().ThrowAsync<OperationCanceledException>();
        (await Table.ReadAllAsync(None)).Should().BeEmpty();
    }

    private static SiloRecord Silo(string id, SiloStatus status = SiloStatus.Joining) =>
        new(id, "http://10.0.0.1:7101", status, SiloLoad.Idle, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
}
