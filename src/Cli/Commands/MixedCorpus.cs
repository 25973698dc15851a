using System.Text;

namespace Qwen.Cli.Commands;

/// <summary>
/// A deterministic mixed-language benchmark text: Chinese and English prose, code, JSON, HTML,
/// numbers, emoji and other scripts, shuffled by a seeded generator with fresh numbers and
/// identifiers so that not every word is a cache hit.
/// </summary>
public static class MixedCorpus
{
    private static readonly string[] Fragments =
    [
        "今天天气很好，我们一起去公园散步吧。", "这家餐厅的服务态度非常好，菜也很好吃，下次还会再来！",
        "物流太慢了，包装也破损了，非常失望。", "人工智能正在深刻地改变我们的工作和生活方式。",
        "The quick brown fox jumps over the lazy dog.", "I absolutely loved this movie; the acting was superb.",
        "Customer support never answered my emails, which was frustrating.", "Please find the attached report for Q3.",
        "It's been a long day, and we'll finish tomorrow.", "Don't worry — they're already on their way!",
        "def add(a, b):\n    return a + b\n", "for (int i = 0; i < items.Count; i++) { total += items[i].Price; }\n",
        "{\"id\": 42, \"name\": \"测试\", \"tags\": [\"a\", \"b\"], \"ok\": true}", "<div class=\"card\"><p>Hello</p></div>\n",
        "日本語のテキストも少し含まれています。", "한국어 문장도 조금 있습니다.", "Привет, как дела?", "مرحبا بكم في المتجر",
        "👍🏽 great job 🎉🎉", "👨‍👩‍👧‍👦 family photo 📸", "Ｆｕｌｌ－ｗｉｄｔｈ　ｔｅｘｔ！", "Café naïve résumé coöperate",
        "\n\n", "    ", "\t", " — ", "……", "!!!", "\r\n",
    ];

    /// <summary>About <paramref name="megabytes"/> MB of UTF-8 text in paragraphs.</summary>
    public static IReadOnlyList<string> Create(double megabytes, int seed = 42)
    {
        var random = new Random(seed);
        var paragraphs = new List<string>();
        long target = (long)(megabytes * 1_000_000), bytes = 0;
        var paragraph = new StringBuilder();
        while (bytes < target)
        {
            paragraph.Clear();
            int parts = random.Next(5, 25);
            for (int i = 0; i < parts; i++)
            {
                switch (random.Next(10))
                {
                    case 0: paragraph.Append(random.Next(0, 1_000_000)).Append(' '); break;
                    case 1: paragraph.Append("id_").Append(random.Next()).Append("_x").Append(' '); break;
                    default: paragraph.Append(Fragments[random.Next(Fragments.Length)]).Append(random.Next(3) == 0 ? "\n" : " "); break;
                }
            }
            string text = paragraph.ToString();
            paragraphs.Add(text);
            bytes += Encoding.UTF8.GetByteCount(text);
        }
        return paragraphs;
    }
}
