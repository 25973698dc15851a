using System.Runtime.InteropServices;
using FluentAssertions;
using Microsoft.ML.OnnxRuntime.Tensors;
using Qwen.Inference.Building;
using Qwen.Inference.Engine;
using Qwen.Inference.Models;
using Qwen.Inference.Tests.Engine;
using Xunit;

namespace Qwen.Inference.Tests.Building;

/// <summary>
/// The int8 KV cache's calibration: its ranges cover the keys and values other prompts cache
/// (measured in the float32-KV model), and a build that cannot have an int8 cache is refused
/// before any work.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class KvCacheCalibrationTests(TinyModels models)
{
    [Fact]
    public void The_calibrated_ranges_cover_the_kv_of_other_prompts()
    {
        var config = models.Config;
        var scales = KvCacheCalibration.Calibrate(config, new HashWeightSource(config, TinyModels.Seed), new ModelBuildOptions { KvLayout = KvLayout.SharedBuffer });
        scales.Layers.Should().Be(config.NumHiddenLayers);

        var session = models.Session("shared-buffer");
        using var cache = session.CreateSlotCache();
        const int length = 200; // longer than the calibration's sequences: later positions turn the keys further
        cache.Reserve(1, length);
        var random = new Random(77);
        long[] ids = [.. Enumerable.Range(0, length).Select(_ => (long)random.Next(0, config.VocabSize))];
        session.StepSlots(ids, [.. Enumerable.Range(0, length).Select(p => (long)p)], length, cache, 0, 1).Dispose();

        long inside = 0, all = 0;
        int dim = config.HeadDim;
        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            for (int h = 0; h < config.NumKeyValueHeads; h++)
            {
                foreach (bool key in new[] { true, false })
                {
                    var channelScales = key ? scales[l].Key : scales[l].Value;
                    var values = MemoryMarshal.Cast<byte, float>(cache.Positions(l, key, 0, h, 0, length));
                    for (int i = 0; i < values.Length; i++)
                    {
                        all++;
                        if (Math.Abs(values[i]) <= 127 * channelScales[h * dim + i % dim]) inside++;
                    }
                }
            }
        }
        ((double)inside / all).Should().BeGreaterThan(0.999, "hardly any cached element is clipped");
    }

    [Fact]
    public void An_int8_cache_is_refused_with_the_standard_layout_or_beside_a_float16_one()
    {
        var config = QwenConfig.Tiny;
        string dir = Directory.CreateTempSubdirectory("qwen-int8-kv-").FullName;
        try
        {
            foreach (var options in new[]
            {
                new ModelBuildOptions { KvLayout = KvLayout.Standard, Int8KvCache = true },
                new ModelBuildOptions { KvLayout = KvLayout.SharedBuffer, Int8KvCache = true, Float16KvCache = true },
            })
            {
                FluentActions.Invoking(() => ModelDirectoryBuilder.Build(dir, config, new HashWeightSource(config, 1), options))
                    .Should().Throw<ArgumentException>().WithMessage("*int8 KV cache*");
                File.Exists(Path.Combine(dir, "onnx", ModelDirectoryBuilder.OnnxFileName)).Should().BeFalse();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_int8_kv_model_keeps_a_quarter_of_the_float32_kv_bytes()
    {
        var fp32 = models.Session("shared-buffer");
        var int8 = models.Session("shared-buffer-int8-kv");
        int8.Io.KvType.Should().Be(TensorElementType.Int8);
        int8.KvBytesPerPosition.Should().Be(fp32.KvBytesPerPosition / 4);
        using var cache = int8.CreateSlotCache();
        cache.ElementSize.Should().Be(1);
    }
}
