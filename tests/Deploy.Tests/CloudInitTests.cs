using FluentAssertions;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// deploy/cloud-init/silo.yaml passes cloud-init's own schema check (which does fail a broken
/// file), and the bootstrap script it writes passes shellcheck and installs the files the
/// release and deploy/ really provide.
/// </summary>
public sealed class CloudInitTests : IDisposable
{
    private static readonly string UserData = DeployPaths.Deploy("cloud-init", "silo.yaml");
    private readonly string _root = Directory.CreateTempSubdirectory("qwen-cloud-init-").FullName;

    [Fact]
    public async Task Silo_user_data_is_valid_cloud_config()
    {
        File.ReadLines(UserData).First().Should().Be("#cloud-config");

        var run = await ScriptRun.RunAsync("cloud-init", ["schema", "--config-file", UserData]);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stdout.Should().Contain("Valid cloud-config");
    }

    [Fact]
    public async Task Silo_user_data_installs_ICU_which_every_program_needs()
    {
        var run = await ScriptRun.RunAsync("/usr/bin/python3",
            ["-c", "import sys, yaml; print('\\n'.join(yaml.safe_load(open(sys.argv[1]))['packages']))", UserData]);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Stdout.Split('\n', StringSplitOptions.TrimEntries).Should().Contain("libicu72");
    }

    [Fact]
    public async Task The_schema_check_fails_a_broken_file()
    {
        string broken = Path.Combine(_root, "broken.yaml");
        File.WriteAllText(broken, File.ReadAllText(UserData).Replace("runcmd:\n  - [/usr/local/sbin/qwen-silo-bootstrap]", "runcmd: /usr/local/sbin/qwen-silo-bootstrap", StringComparison.Ordinal)
            .Replace("packages:\n", "packages: 5\nunused:\n", StringComparison.Ordinal));

        var run = await ScriptRun.RunAsync("cloud-init", ["schema", "--config-file", broken]);

        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Output.Should().Contain("packages");
    }

    [Fact]
    public async Task Bootstrap_script_passes_shellcheck_and_uses_what_the_release_holds()
    {
        string script = Path.Combine(_root, "qwen-silo-bootstrap");
        var extract = await ScriptRun.RunAsync("/usr/bin/python3",
        [
            "-c",
            "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); " +
            "f = [w for w in d['write_files'] if w['path'] == '/usr/local/sbin/qwen-silo-bootstrap'][0]; " +
            "open(sys.argv[2], 'w').write(f['content'])",
            UserData, script,
        ]);
        extract.ExitCode.Should().Be(0, extract.ToString());
        string text = File.ReadAllText(script);

        var check = await ScriptRun.RunAsync("shellcheck", ["--shell=bash", script]);
        check.ExitCode.Should().Be(0, check.ToString());

        // What the bootstrap takes from /opt/qwen is what deploy/publish.sh puts there.
        text.Should().Contain("/opt/qwen/deploy/systemd/qwen-silo@.service").And.Contain("/opt/qwen/deploy/fetch-model.sh")
            .And.Contain("/opt/qwen/cli/qwen").And.Contain("/silo/Qwen.Silo");
        File.Exists(DeployPaths.Deploy("systemd", "qwen-silo@.service")).Should().BeTrue();
        File.Exists(DeployPaths.Deploy("fetch-model.sh")).Should().BeTrue();
        string publish = File.ReadAllText(DeployPaths.Deploy("publish.sh"));
        publish.Should().Contain("Silo:silo").And.Contain("Cli:cli").And.Contain("cp -r \"$root/deploy\"");
    }

    [Fact]
    public async Task Bootstrap_settings_bind_to_silo_options_and_carry_redis_and_the_database()
    {
        string file = Path.Combine(_root, "bootstrap.env");
        var extract = await ScriptRun.RunAsync("/usr/bin/python3",
        [
            "-c",
            "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); " +
            "f = [w for w in d['write_files'] if w['path'] == '/etc/qwen/bootstrap.env'][0]; " +
            "open(sys.argv[2], 'w').write(f['content'])",
            UserData, file,
        ]);
        extract.ExitCode.Should().Be(0, extract.ToString());
        var values = EnvironmentFile.Read(file);

        // The bootstrap copies every non-empty Section__Key line into /etc/qwen/silo.env.
        var settings = values.Where(kv => kv.Key.Contains("__", StringComparison.Ordinal)).ToDictionary();
        EnvironmentFileTests.Unbound(settings, EnvironmentFileTests.SiloOptionsBySection).Should().BeEmpty();
        settings.Keys.Should().Contain(["Cluster__Redis", "Cluster__AdvertisedAddress", "Postgres__ConnectionString"]);
        settings.Keys.Should().NotContain(["Cluster__SiloPort", "Cluster__GatewayPort"], "the unit derives them from the instance");
    }

    [Theory]
    [InlineData("fetch-model.sh")]
    [InlineData("publish.sh")]
    [InlineData("postgres/setup.sh")]
    [InlineData("postgres/conversations.sh")]
    [InlineData("autoscale.sh")]
    public async Task Deploy_script_passes_shellcheck(string script)
    {
        var run = await ScriptRun.RunAsync("shellcheck", [DeployPaths.Deploy(script.Split('/'))]);

        run.ExitCode.Should().Be(0, run.ToString());
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
