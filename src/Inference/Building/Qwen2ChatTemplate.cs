namespace Qwen.Inference.Building;

/// <summary>
/// The chat template of Qwen2-Instruct (Qwen1.5-Chat's, with a period after the default
/// system message). Synthetic models are Qwen1.5/2-class chat models, so they carry this
/// template rather than the newer one shipped with the bundled tokenizer files.
/// </summary>
internal static class Qwen2ChatTemplate
{
    public const string Jinja =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
        "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}
