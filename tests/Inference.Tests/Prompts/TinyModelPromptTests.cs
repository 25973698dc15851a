using Xunit;
using FluentAssertions;
using Qwen.Cli;
using Qwen.Cli.Commands;
using Qwen.Inference.Generation;
using Qwen.Inference.Prompts;
using Qwen.Inference.Tests.Engine;
using Qwen.Inference.Tokenization;

namespace Qwen.Inference.Tests.Prompts;

/// <summary>Sentiment and chat generation end to end on the tiny synthetic model (random weights: only the plumbing is checked).</summary>
[Collection(TinyModelCollection.Name)]
public sealed class TinyModelPromptTests(TinyModels models)
{
    [Fact]
    public void Built_models_carry_a_qwen2_chat_template_with_its_default_system_message()
    {
        var template = ChatTemplate.FromTokenizerConfig(models.PathOf("fp32"));
        template.DefaultSystemMessage.Should().Be(ChatTemplate.QwenDefaultSystemMessage);
        template.Render([ChatMessage.User("hi")]).Should().Be(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    [Fact]
    public void Sentiment_gives_a_label_and_the_probability_the_label_scorer_computes()
    {
        var session = models.Session("fp32");
        var tokenizer = BpeTokenizer.Load(session.Model.TokenizerPath);
        var options = new SentimentPromptOptions();
        var result = new SentimentClassifier(session, tokenizer, options).Classify("这部电影太好看了！");

        result.Label.Should().BeOneOf(SentimentResult.Positive, SentimentResult.Negative);
        result.Probability.Should().BeInRange(0.5, 1.0);
        var prompt = new SentimentPrompt(tokenizer, options);
        var scores = new LabelScorer(session).Score(prompt.Build("这部电影太好看了！").Ids, [prompt.PositiveLabelIds, prompt.NegativeLabelIds]);
        double positive = scores[0].Probability;
        (result.Label == SentimentResult.Positive ? positive : 1 - positive).Should().BeApproximately(result.Probability, 1e-12);
    }

    [Fact]
    public void Sentiment_batches_agree_with_single_requests_and_report_truncation()
    {
        var session = models.Session("fp32");
        var tokenizer = BpeTokenizer.Load(session.Model.TokenizerPath);
        var classifier = new SentimentClassifier(session, tokenizer, new SentimentPromptOptions { MaxInputTokens = 8 });
        string[] texts = ["好", "Terrible service. Never again. 再也不来了！"];
        var batch = classifier.ClassifyBatch(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            var single = classifier.Classify(texts[i]);
            batch[i].Label.Should().Be(single.Label);
            batch[i].Probability.Should().BeApproximately(single.Probability, 1e-4);
        }
        batch[0].Truncation.IsTruncated.Should().BeFalse();
        batch[1].Truncation.IsTruncated.Should().BeTrue();
    }

    [Fact]
    public async Task Generate_from_a_chat_prompt_streams_the_decoded_reply()
    {
        var session = models.Session("fp32");
        var tokenizer = BpeTokenizer.Load(session.Model.TokenizerPath);
        var output = new StringWriter();
        var result = await ChatReply.StreamAsync(session, "你好，请介绍一下你自己。", "Be brief.", GenerationOptions.Greedy(12), output, _ => { });

        result.Tokens.Should().NotBeEmpty();
        var known = result.Tokens.Where(tokenizer.IsKnown).ToArray();
        output.ToString().Should().Be(tokenizer.Decode(known, skipSpecialTokens: true));
    }

    [Fact]
    public async Task The_cli_runs_sentiment_and_generate_with_a_prompt()
    {
        string dir = models.PathOf("fp32");
        (await CliApp.RunAsync(["sentiment", "--model", dir, "质量很差"])).Should().Be(0);
        (await CliApp.RunAsync(["generate", "--model", dir, "--prompt", "hi", "--max-new-tokens", "4"])).Should().Be(0);
        (await CliApp.RunAsync(["generate", "--model", dir, "--prompt", "hi", "--prompt-ids", "1,2"])).Should().NotBe(0);
        (await CliApp.RunAsync(["generate", "--model", dir])).Should().NotBe(0);
    }
}
