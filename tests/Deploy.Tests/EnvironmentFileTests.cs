using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Qwen.Api.Endpoints;
using Qwen.Api.Hosting;
using Qwen.Api.Routing;
using Qwen.Cluster.Postgres;
using Qwen.Grains;
using Qwen.Silo.Hosting;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// Every Section__Key in the example environment files binds to a real option with a valid value:
/// the .NET binder itself reads them, refusing keys no options record has.
/// </summary>
public sealed class EnvironmentFileTests
{
    private static readonly Dictionary<string, Type> OptionsBySection = new(StringComparer.OrdinalIgnoreCase)
    {
        [PostgresOptions.SectionName] = typeof(PostgresOptions),
        [ModelOptions.Section] = typeof(ModelOptions),
        [SiloOptions.Section] = typeof(SiloOptions),
        [InferenceWorkerOptions.SectionName] = typeof(InferenceWorkerOptions),
        [ConversationOptions.SectionName] = typeof(ConversationOptions),
        [RoutingOptions.Section] = typeof(RoutingOptions),
        [ApiLimits.Section] = typeof(ApiLimits),
        [RateLimitOptions.Section] = typeof(RateLimitOptions),
    };

    [Theory]
    [InlineData("silo.env")]
    [InlineData("silo-7102.env")]
    [InlineData("api.env")]
    public void Every_setting_binds_to_an_option_of_the_service(string file)
    {
        var values = EnvironmentFile.Read(DeployPaths.Deploy("systemd", file));
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(kv => KeyValuePair.Create(kv.Key.Replace("__", ":", StringComparison.Ordinal), (string?)kv.Value)))
            .Build();

        foreach (IConfigurationSection section in configuration.GetChildren().Where(s => s.GetChildren().Any()))
        {
            if (section.Key == "Logging") continue; // the framework's own section
            OptionsBySection.Should().ContainKey(section.Key, $"{file} sets {section.Key}__..., which no options record reads");
            var bind = () => section.Get(OptionsBySection[section.Key], o => o.ErrorOnUnknownConfiguration = true);
            bind.Should().NotThrow($"{file}'s {section.Key} settings must name real options with valid values");
        }
    }

    [Fact]
    public void A_misspelled_setting_is_refused_by_the_same_check()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create("Silo:DrainTimout", (string?)"00:01:00")])
            .Build();

        var bind = () => configuration.GetSection("Silo").Get<SiloOptions>(o => o.ErrorOnUnknownConfiguration = true);

        bind.Should().Throw<InvalidOperationException>().WithMessage("*DrainTimout*");
    }

    [Fact]
    public void Silo_environment_names_the_database_the_model_and_the_advertised_host()
    {
        var values = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "silo.env"));

        values.Keys.Should().Contain(["Postgres__ConnectionString", "Model__Path", "QWEN_ADVERTISED_HOST"]);
        EnvironmentFile.Read(DeployPaths.Deploy("systemd", "api.env")).Keys.Should().Contain(["Postgres__ConnectionString", "ASPNETCORE_URLS"]);
    }
}
