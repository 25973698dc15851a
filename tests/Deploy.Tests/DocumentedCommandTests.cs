using System.Text.RegularExpressions;
using FluentAssertions;
using Qwen.TestSupport;
using Xunit;

namespace Qwen.Deploy.Tests;

/// <summary>
/// No command the README, docs/ or deploy/README shows puts a secret on its command line (where `ps` shows it to
/// every local user) or types it into the shell (whose history keeps it): passwords come from env files, password
/// files, ~/.pgpass, or a variable read from a file.
/// </summary>
public sealed partial class DocumentedCommandTests
{
    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        foreach (string file in (string[])["README.md", "deploy/README.md", .. Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "docs"), "*.md")
                     .Select(f => Path.GetRelativePath(RepositoryPaths.Root, f))])
            data.Add(file);
        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void No_documented_command_carries_a_password(string document)
    {
        var offending = CommandLines(File.ReadAllText(Path.Combine(RepositoryPaths.Root, document)))
            .Where(line => SecretOnCommandLine().IsMatch(line))
            .ToList();
        offending.Should().BeEmpty($"{document} must not show a password typed into a command");
    }

    [Fact]
    public void The_check_catches_the_usual_ways_of_typing_a_password()
    {
        string[] bad =
        [
            "PGPASSWORD=admin-pw psql -h db", "QWEN_DB_PASSWORD='x' setup.sh --local", "REDISCLI_AUTH=secret redis-cli ping",
            "redis-cli -a secret ping", "qwen db migrate --connection \"Host=db;Password=secret\"",
            "dotnet run --project src/Silo -- --Postgres:ConnectionString=Host=db;Password=x", "setup.sh --password hunter2",
        ];
        bad.Should().OnlyContain(line => SecretOnCommandLine().IsMatch(line));
        string[] good =
        [
            "REDISCLI_AUTH=\"$(cat /root/qwen-redis.pass)\" redis-cli -h 10.0.0.4 ping", "setup.sh --local --password-file /root/qwen-db.pass",
            "qwen db migrate --connection \"Host=db.internal;Database=qwen;Username=qwen\"", "set -a; . ./cluster.env; set +a",
        ];
        good.Should().NotContain(line => SecretOnCommandLine().IsMatch(line));
    }

    /// <summary>The lines of the document's shell blocks (```sh), comments and env-file examples (NAME='value' alone) left out.</summary>
    private static IEnumerable<string> CommandLines(string markdown)
    {
        bool inShell = false;
        foreach (string raw in markdown.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inShell = !inShell && line is "```sh" or "```bash";
                continue;
            }
            if (!inShell || line.Length == 0 || line.StartsWith('#') || EnvFileLine().IsMatch(line)) continue;
            yield return line;
        }
    }

    [GeneratedRegex(@"(PGPASSWORD|QWEN_DB_PASSWORD|REDISCLI_AUTH)=(?!""\$\()|redis-cli\b.*\s-a\s|[Pp]assword=(?!\.\.\.'?$)[^;\s""']|--password\s")]
    private static partial Regex SecretOnCommandLine();

    /// <summary>An env file's line shown as an example: NAME='value' or NAME=value with nothing after it.</summary>
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*='[^']*'$")]
    private static partial Regex EnvFileLine();
}
