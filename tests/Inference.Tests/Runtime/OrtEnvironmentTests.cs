using FluentAssertions;
using Qwen.Inference.Runtime;
using Xunit;

namespace Qwen.Inference.Tests.Runtime;

public sealed class OrtEnvironmentTests
{
    [Fact]
    public void Loads_the_bundled_library_version()
    {
        OrtEnvironment.Version.Should().Be("1.30.0");
        OrtEnvironment.ApiVersion.Should().Be(13);
    }

    [Fact]
    public void Library_path_follows_the_process_architecture()
    {
        string expected = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture ==
            System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        OrtNativeLibrary.LibraryPath.Should().Be(
            Path.Combine(AppContext.BaseDirectory, "native", expected, "libonnxruntime.so.1"));
    }

    [Fact]
    public void A_status_round_trips_into_an_OrtException()
    {
        // Exercises the first table entries and ReleaseStatus: a miscounted index would crash here.
        nint status = OrtApi.CreateStatus(2, "status from the test");

        OrtException error = OrtApi.TakeError(status);

        error.ErrorCode.Should().Be(2);
        error.Message.Should().Be("status from the test");
    }

    [Fact]
    public void Check_throws_for_a_non_null_status_only()
    {
        OrtApi.Check(0);
        Action act = () => OrtApi.Check(OrtApi.CreateStatus(9, "not implemented here"));
        act.Should().Throw<OrtException>().Where(e => e.ErrorCode == 9 && e.Message == "not implemented here");
    }

    [Fact]
    public void Process_wide_objects_are_created_once()
    {
        nint env = OrtEnvironment.Handle;
        env.Should().NotBe(0);
        OrtEnvironment.Handle.Should().Be(env);
        OrtEnvironment.CpuMemoryInfo.Should().Be(OrtEnvironment.CpuMemoryInfo).And.NotBe(0);
        OrtEnvironment.DefaultAllocator.Should().NotBe(0);
    }
}
