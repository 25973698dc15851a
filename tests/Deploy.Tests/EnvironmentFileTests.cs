using FluentAssertions;
using Microsoft.Extensions.Configuration;
using ClusterMembershipOptions = Orleans.Configuration.ClusterMembershipOptions;
using Qwen.Api.Cluster;
using Qwen.Api.Endpoints;
using Qwen.Api.Hosting;
using Qwen.Api.Scaling;
using Qwen.Api.Security;
using Qwen.Grains;
using Qwen.Silo.Hosting;
using Qwen.Silo.Storage.Postgres;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// Every Section__Key in the example environment files binds to a real option of the service that
/// reads the file, with a valid value: the .NET binder itself reads them, refusing keys no options
/// record has. The silo and the Api both read section "Cluster", into different records.
/// </summary>
public sealed class EnvironmentFileTests
{
    /// <summary>What a silo binds (SiloHostingExtensions.AddQwenSilo); Cluster:Membership is Orleans' own record.</summary>
    internal static readonly Dictionary<string, Type> SiloOptionsBySection = new(StringComparer.OrdinalIgnoreCase)
    {
        [SiloClusterOptions.Section] = typeof(SiloClusterOptions),
        [$"{SiloClusterOptions.Section}:Membership"] = typeof(ClusterMembershipOptions),
        [PostgresOptions.SectionName] = typeof(PostgresOptions),
        [ModelOptions.Section] = typeof(ModelOptions),
        [SiloOptions.Section] = typeof(SiloOptions),
        [InferenceWorkerOptions.SectionName] = typeof(InferenceWorkerOptions),
        [ConversationOptions.SectionName] = typeof(ConversationOptions),
    };

    /// <summary>What the clustered Api binds (ApiHostingExtensions.AddQwenApi and its rate limiting).</summary>
    internal static readonly Dictionary<string, Type> ApiOptionsBySection = new(StringComparer.OrdinalIgnoreCase)
    {
        [ClusterClientOptions.Section] = typeof(ClusterClientOptions),
        [ApiLimits.Section] = typeof(ApiLimits),
        [RateLimitOptions.Section] = typeof(RateLimitOptions),
        [AutoscaleOptions.Section] = typeof(AutoscaleOptions),
        [AuthOptions.Section] = typeof(AuthOptions),
    };

    [Theory]
    [InlineData("silo.env")]
    [InlineData("silo-7102.env")]
    [InlineData("api.env")]
    public void Every_setting_binds_to_an_option_of_the_service(string file)
    {
        var options = file.StartsWith("silo", StringComparison.Ordinal) ? SiloOptionsBySection : ApiOptionsBySection;

        var problems = Unbound(EnvironmentFile.Read(DeployPaths.Deploy("systemd", file)), options);

        problems.Should().BeEmpty($"every Section__Key of {file} must name a real option with a valid value");
    }

    [Fact]
    public void A_misspelled_setting_and_a_setting_of_the_other_service_are_refused_by_the_same_check()
    {
        var misspelled = Unbound(new Dictionary<string, string> { ["Cluster__Membership__ProbeTimout"] = "00:00:01" }, SiloOptionsBySection);
        misspelled.Should().ContainSingle().Which.Should().Contain("ProbeTimout");

        // CallTimeout is the Api's; a silo has no such option.
        var apiOnly = Unbound(new Dictionary<string, string> { ["Cluster__CallTimeout"] = "00:01:00" }, SiloOptionsBySection);
        apiOnly.Should().ContainSingle().Which.Should().Contain("CallTimeout");

        // Membership timing is the silos'; the Api has no such section.
        var siloOnly = Unbound(new Dictionary<string, string> { ["Cluster__Membership__ProbeTimeout"] = "00:00:01" }, ApiOptionsBySection);
        siloOnly.Should().ContainSingle().Which.Should().Contain("Membership");

        var badValue = Unbound(new Dictionary<string, string> { ["Cluster__SiloPort"] = "eleven" }, SiloOptionsBySection);
        badValue.Should().ContainSingle().Which.Should().Contain("SiloPort");
    }

    [Fact]
    public void Silo_environment_names_redis_the_private_address_the_database_and_the_model_and_leaves_ports_to_the_unit()
    {
        var silo = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "silo.env"));

        silo.Keys.Should().Contain(["Cluster__Redis", "Cluster__AdvertisedAddress", "Postgres__ConnectionString", "Model__Path"]);
        silo["Cluster__Redis"].Should().Contain("password=", "Redis requires a password, kept in the env file");
        System.Net.IPAddress.Parse(silo["Cluster__AdvertisedAddress"]).GetAddressBytes()[0].Should().Be(10, "a private address");
        // The unit derives each instance's ports from its name; a port here would be shared by every instance.
        silo.Keys.Should().NotContain(["Cluster__SiloPort", "Cluster__GatewayPort"]);
    }

    [Fact]
    public void Api_environment_names_the_same_cluster_as_the_silos_and_no_database()
    {
        var silo = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "silo.env"));
        var api = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "api.env"));

        api.Keys.Should().Contain(["Cluster__Redis", "ASPNETCORE_URLS"]);
        foreach (string key in new[] { "Cluster__Redis", "Cluster__ClusterId", "Cluster__ServiceId" })
        {
            api[key].Should().Be(silo[key], $"the Api joins the silos' cluster ({key})");
        }
        api.Keys.Should().NotContain(key => key.StartsWith("Postgres__", StringComparison.Ordinal), "the Api is an Orleans client and needs no database");
    }

    /// <summary>
    /// The Section__Key settings of <paramref name="values"/> that do not bind to the given options
    /// records, each with the binder's reason (empty when all bind).
    /// </summary>
    internal static List<string> Unbound(IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, Type> optionsBySection)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(kv => KeyValuePair.Create(kv.Key.Replace("__", ":", StringComparison.Ordinal), (string?)kv.Value)))
            .Build();
        var problems = new List<string>();
        foreach (IConfigurationSection section in configuration.GetChildren().Where(s => s.GetChildren().Any()))
        {
            if (section.Key == "Logging") continue; // the framework's own section
            if (!optionsBySection.ContainsKey(section.Key))
            {
                problems.Add($"{section.Key}__...: no options record of this service reads section {section.Key}");
                continue;
            }
            Check(section, optionsBySection, problems);
        }
        return problems;
    }

    /// <summary>Binds a section to its record; a child section with a record of its own (Cluster:Membership) is bound to that one instead.</summary>
    private static void Check(IConfigurationSection section, IReadOnlyDictionary<string, Type> optionsBySection, List<string> problems)
    {
        var nested = section.GetChildren().Where(c => optionsBySection.ContainsKey(c.Path)).ToList();
        var own = new ConfigurationBuilder()
            .AddInMemoryCollection(section.AsEnumerable(makePathsRelative: true)
                .Where(kv => !nested.Any(n => kv.Key == n.Key || kv.Key.StartsWith(n.Key + ":", StringComparison.OrdinalIgnoreCase))))
            .Build();
        try
        {
            own.Get(optionsBySection[section.Path], o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            problems.Add($"{section.Path}: {e.Message}");
        }
        foreach (var child in nested) Check(child, optionsBySection, problems);
    }
}
