// Drives the Api with the official OpenAI SDK for Node and prints what it got as one JSON object.
// OPENAI_SDK_DIR: a folder with node_modules/openai; QWEN_API_URL: the Api's base URL.
const path = require('node:path');
const { createRequire } = require('node:module');

const sdk = createRequire(path.join(process.env.OPENAI_SDK_DIR, 'index.js'))('openai');
const OpenAI = sdk.OpenAI ?? sdk.default ?? sdk;
const client = new OpenAI({ baseURL: process.env.QWEN_API_URL + '/v1', apiKey: 'test-key', maxRetries: 0 });

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function main() {
  const out = {};
  out.models = (await client.models.list()).data.map((m) => m.id);
  const model = out.models[0];
  const messages = [{ role: 'user', content: '你好，今天过得怎么样？' }];

  out.plain = await client.chat.completions.create({ model, messages, max_tokens: 8 });
  out.chunks = await collect(await client.chat.completions.create({
    model, messages, max_tokens: 8, stream: true, stream_options: { include_usage: true },
  }));

  out.user1 = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: '第一句' }], max_completion_tokens: 6, user: 'sdk-user',
  });
  out.user2Chunks = await collect(await client.chat.completions.create({
    model,
    messages: [
      { role: 'user', content: '第一句' },
      { role: 'assistant', content: out.user1.choices[0].message.content },
      { role: 'user', content: '第二句' },
    ],
    max_tokens: 6,
    user: 'sdk-user',
    stream: true,
  }));

  const sampled = { model, messages, max_tokens: 8, temperature: 0.9, top_p: 0.95, seed: 42 };
  out.seeded = [await client.chat.completions.create(sampled), await client.chat.completions.create(sampled)];

  try {
    await client.chat.completions.create({ model: 'no-such-model', messages });
    out.error = null;
  } catch (e) {
    out.error = { status: e.status, type: e.type ?? null, code: e.code ?? null, param: e.param ?? null, message: e.message };
  }
  try {
    await client.chat.completions.create({ model, messages, temperature: 5 });
    out.rangeError = null;
  } catch (e) {
    out.rangeError = { status: e.status, type: e.type ?? null, param: e.param ?? null, message: e.message };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
