using System.Text.RegularExpressions;
using FluentAssertions;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// The units in deploy/systemd, checked by systemd's own tools against the built programs: a copy
/// of each unit has /opt/qwen/NAME pointed at the build output and /etc/qwen at the example
/// environment files, so systemd-analyze checks real executables and real files.
/// </summary>
public sealed partial class SystemdUnitTests : IDisposable
{
    private const string SiloTemplate = "qwen-silo@.service";
    private const string ApiUnit = "qwen-api.service";

    private readonly string _root = Directory.CreateTempSubdirectory("qwen-units-").FullName;
    private int _copies;

    [Theory]
    [InlineData(SiloTemplate)]
    [InlineData(ApiUnit)]
    public async Task Unit_passes_systemd_analyze_verify_without_a_finding(string unit)
    {
        string path = InstallCopy(unit, File.ReadAllText(DeployPaths.Deploy("systemd", unit)));

        var run = await VerifyAsync(path);

        run.ExitCode.Should().Be(0, run.ToString());
        Findings(run).Should().BeEmpty(run.ToString());
    }

    [Fact]
    public async Task Verify_reports_a_misspelled_key_a_bad_value_and_a_missing_executable()
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", SiloTemplate));

        var misspelled = await VerifyAsync(InstallCopy(SiloTemplate, unit.Replace("Restart=on-failure", "Restrat=on-failure", StringComparison.Ordinal)));
        Findings(misspelled).Should().Contain(line => line.Contains("Unknown key", StringComparison.Ordinal), misspelled.ToString());

        var badValue = await VerifyAsync(InstallCopy(SiloTemplate, unit.Replace("Restart=on-failure", "Restart=sometimes", StringComparison.Ordinal)));
        Findings(badValue).Should().Contain(line => line.Contains("restart", StringComparison.OrdinalIgnoreCase), badValue.ToString());

        var missingBinary = await VerifyAsync(InstallCopy(SiloTemplate, unit.Replace("/opt/qwen/silo/Qwen.Silo", "/opt/qwen/silo/Qwen.Sillo", StringComparison.Ordinal)));
        missingBinary.ExitCode.Should().NotBe(0, missingBinary.ToString());
        missingBinary.Output.Should().Contain("Qwen.Sillo");
    }

    [Theory]
    [InlineData(SiloTemplate)]
    [InlineData(ApiUnit)]
    public async Task Unit_is_hardened_to_an_exposure_of_at_most_2_5_and_the_check_fails_without_its_hardening(string unit)
    {
        string text = File.ReadAllText(DeployPaths.Deploy("systemd", unit));

        var hardened = await SecurityAsync(InstallCopy(unit, text));
        hardened.ExitCode.Should().Be(0, hardened.ToString());

        string bare = string.Join('\n', text.Split('\n').Where(line => !HardeningLine().IsMatch(line)));
        var unhardened = await SecurityAsync(InstallCopy(unit, bare));
        unhardened.ExitCode.Should().NotBe(0, "without its sandboxing the unit's exposure is above the threshold\n" + unhardened);
    }

    [Fact]
    public void Silo_unit_gives_the_graceful_shutdown_time_to_finish_before_systemd_kills()
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", SiloTemplate));
        var stopTimeout = TimeSpan.FromSeconds(int.Parse(Regex.Match(unit, @"^TimeoutStopSec=(\d+)$", RegexOptions.Multiline).Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture));

        // The silo host allows 90 s for its graceful stop (leave the cluster, let running calls end, deactivate grains).
        stopTimeout.Should().BeGreaterThan(TimeSpan.FromSeconds(90));
        unit.Should().Contain("KillSignal=SIGTERM").And.Contain("Restart=on-failure");
    }

    [Fact]
    public void Silo_unit_sets_every_variable_its_command_line_uses_from_its_environment_file()
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", SiloTemplate));
        var env = EnvironmentFile.Read(DeployPaths.Deploy("systemd", "silo.env"));
        string execStart = Regex.Match(unit, @"^ExecStart=(.*)$", RegexOptions.Multiline).Groups[1].Value;

        var used = Regex.Matches(execStart, @"\$\{(\w+)\}").Select(m => m.Groups[1].Value).ToList();

        used.Should().NotBeEmpty();
        used.Should().OnlyContain(name => env.ContainsKey(name));
    }

    [Theory]
    [InlineData(SiloTemplate)]
    [InlineData(ApiUnit)]
    public void No_command_line_of_a_unit_carries_a_secret(string unit)
    {
        string text = File.ReadAllText(DeployPaths.Deploy("systemd", unit));
        var commandLines = Regex.Matches(text, @"^Exec\w+=(.*)$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();

        // systemd expands $NAME and ${NAME} into the command line (visible in ps); $$NAME reaches the shell unexpanded.
        var expandedBySystemd = commandLines.SelectMany(line => Regex.Matches(line, @"(?<!\$)\$\{?(\w+)").Select(m => m.Groups[1].Value)).ToList();

        commandLines.Should().NotBeEmpty();
        expandedBySystemd.Should().NotContain(["Cluster__Redis", "Postgres__ConnectionString"]);
        expandedBySystemd.Should().NotContain(name => name.Contains("Password", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData(7101)]
    [InlineData(7102)]
    [InlineData(9999)]
    public void Each_instance_gets_its_own_silo_and_gateway_ports_below_the_ephemeral_range(int instance)
    {
        var arguments = ExecStartOf(instance);

        int siloPort = PortArgument(arguments, "--Cluster:SiloPort=");
        int gatewayPort = PortArgument(arguments, "--Cluster:GatewayPort=");
        arguments.Should().Contain(a => a.StartsWith("--urls=http://", StringComparison.Ordinal) && a.EndsWith($":{instance}", StringComparison.Ordinal));
        new[] { instance, siloPort, gatewayPort }.Should().OnlyHaveUniqueItems();
        // Linux hands out outgoing ports from 32768 up: a listening port there could be taken first.
        new[] { siloPort, gatewayPort }.Should().OnlyContain(p => p > 1024 && p < 32768);
        PortArgument(ExecStartOf(instance == 9999 ? 9998 : instance + 1), "--Cluster:SiloPort=").Should().NotBe(siloPort);
    }

    [Theory]
    [InlineData("7101", "", "10.0.0.5", "set Cluster__Redis")]
    [InlineData("7101", "redis:6379,password=x", "", "set Cluster__AdvertisedAddress")]
    [InlineData("80", "redis:6379,password=x", "10.0.0.5", "the instance must be a 4-digit HTTP port")]
    [InlineData("7101", "redis:6379,password=x", "10.0.0.5", null)]
    public async Task Silo_unit_refuses_to_start_without_redis_an_address_or_a_port_instance(string instance, string redis, string address, string? error)
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", SiloTemplate));
        string pre = Regex.Match(unit, @"^ExecStartPre=/bin/sh -c '(.*)'$", RegexOptions.Multiline).Groups[1].Value;
        pre.Should().NotBeEmpty();
        string script = pre.Replace("$$", "$", StringComparison.Ordinal).Replace("%i", instance, StringComparison.Ordinal);

        var run = await ScriptRun.RunAsync("/bin/sh", ["-c", script],
            new Dictionary<string, string?> { ["Cluster__Redis"] = redis, ["Cluster__AdvertisedAddress"] = address });

        if (error is null)
        {
            run.ExitCode.Should().Be(0, run.ToString());
        }
        else
        {
            run.ExitCode.Should().Be(2, run.ToString());
            run.Stderr.Should().Contain(error);
            unit.Should().Contain("RestartPreventExitStatus=2");
        }
    }

    private static List<string> ExecStartOf(int instance)
    {
        string unit = File.ReadAllText(DeployPaths.Deploy("systemd", SiloTemplate));
        string execStart = Regex.Match(unit, @"^ExecStart=(.*)$", RegexOptions.Multiline).Groups[1].Value;
        return [.. execStart.Replace("%i", instance.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)];
    }

    private static int PortArgument(List<string> arguments, string prefix) =>
        int.Parse(arguments.Single(a => a.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture);

    // The directives whose removal the exposure check must notice.
    [GeneratedRegex(@"^(User|Group|NoNewPrivileges|Protect\w+|Private\w+|Restrict\w+|CapabilityBoundingSet|AmbientCapabilities|SystemCall\w+|LockPersonality|RemoveIPC|UMask)=")]
    private static partial Regex HardeningLine();

    /// <summary>Writes a copy of a unit whose paths point at the build output and the example env files.</summary>
    private string InstallCopy(string unit, string text)
    {
        string directory = Path.Combine(_root, $"unit{Interlocked.Increment(ref _copies)}");
        Directory.CreateDirectory(directory);
        string etc = Path.Combine(directory, "etc-qwen");
        Directory.CreateDirectory(etc);
        foreach (string env in Directory.EnumerateFiles(DeployPaths.Deploy("systemd"), "*.env"))
        {
            File.Copy(env, Path.Combine(etc, Path.GetFileName(env)));
        }

        string silo = DeployPaths.BuildOutput("Silo");
        string api = DeployPaths.BuildOutput("Api");
        File.Exists(Path.Combine(silo, "Qwen.Silo")).Should().BeTrue($"the silo's launcher is built in {silo}");
        File.Exists(Path.Combine(api, "Qwen.Api")).Should().BeTrue($"the Api's launcher is built in {api}");
        string copy = text
            .Replace("/opt/qwen/silo", silo, StringComparison.Ordinal)
            .Replace("/opt/qwen/api", api, StringComparison.Ordinal)
            .Replace("/etc/qwen", etc, StringComparison.Ordinal);
        string path = Path.Combine(directory, unit);
        File.WriteAllText(path, copy);
        if (!unit.EndsWith("@.service", StringComparison.Ordinal)) return path;

        // A template is checked through an instance: qwen-silo@7101.service.
        string instance = Path.Combine(directory, unit.Replace("@.service", "@7101.service", StringComparison.Ordinal));
        File.CreateSymbolicLink(instance, unit);
        return instance;
    }

    private static Task<ScriptRun> VerifyAsync(string unitPath) =>
        ScriptRun.RunAsync("systemd-analyze", ["verify", unitPath], new Dictionary<string, string?> { ["SYSTEMD_LOG_COLOR"] = "0" });

    private static Task<ScriptRun> SecurityAsync(string unitPath) =>
        ScriptRun.RunAsync("systemd-analyze", ["security", "--offline=yes", "--threshold=25", "--no-pager", unitPath]);

    /// <summary>What systemd-analyze says about our units (it may also mention units of the host).</summary>
    private static List<string> Findings(ScriptRun run) =>
        [.. run.Output.Split('\n').Where(line => line.Contains("qwen-", StringComparison.Ordinal))];

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
