// The response cache through the official SDKs: a stream asked twice is
// replayed piece for piece (the second never reaches the mock), and the
// same request asked whole is served from the stream's entry, with text,
// tool calls, thinking and usage intact; headers say HIT. Models c-openai,
// c-anthropic, c-gemini of the shared config have the cache on (any
// temperature). Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { BASE, MOCK, TOOL, TOOL_ARGS, THINK_TEXT, THINK_SIG, mark, eager } from './helpers.mjs';

const oai = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
const ant = new Anthropic({ baseURL: BASE, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
const gem = new GoogleGenAI({
  apiKey: 'anything',
  httpOptions: { baseUrl: BASE, timeout: 20000, retryOptions: { attempts: 1 } },
});

// How many requests carrying marker reached the mock.
async function upstreamCount(marker) {
  const r = await fetch(`${MOCK}/_mock/requests`);
  assert.equal(r.status, 200);
  return (await r.json()).filter((q) => q.body.includes(marker)).length;
}

async function openaiStream(params) {
  const { data, response } = await oai.chat.completions.create({ ...params, stream: true }).withResponse();
  const r = { pieces: [], calls: {}, usage: null, finish: null, cache: response.headers.get('x-relay-cache') };
  for await (const c of data) {
    if (c.usage) r.usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.delta?.content) r.pieces.push(ch.delta.content);
    for (const t of ch.delta?.tool_calls ?? []) {
      const k = t.index;
      r.calls[k] ??= { id: '', name: '', args: '' };
      r.calls[k].id += t.id ?? '';
      r.calls[k].name += t.function?.name ?? '';
      r.calls[k].args += t.function?.arguments ?? '';
    }
    r.finish = ch.finish_reason ?? r.finish;
  }
  return r;
}

for (const model of ['c-openai', 'c-anthropic']) {
  eager(`cache: openai sdk -> ${model}: stream replayed, whole from the stream`, async () => {
    const said = `${mark('cache-oa')} the words of a cached answer, long enough for pieces`;
    const params = { model, messages: [{ role: 'user', content: said }], stream_options: { include_usage: true } };
    const a = await openaiStream(params);
    const b = await openaiStream(params);
    assert.equal(a.cache, 'MISS');
    assert.equal(b.cache, 'HIT');
    assert.deepEqual(b.pieces, a.pieces, 'pieces as recorded');
    assert.ok(a.pieces.length > 3);
    assert.deepEqual(b.usage, a.usage);
    assert.equal(b.finish, 'stop');
    const { stream_options: _, ...plain } = params;
    const { data: w, response } = await oai.chat.completions.create(plain).withResponse();
    assert.equal(response.headers.get('x-relay-cache'), 'HIT');
    assert.equal(w.choices[0].message.content, a.pieces.join(''));
    assert.equal(w.choices[0].finish_reason, 'stop');
    assert.equal(w.usage.completion_tokens, a.usage.completion_tokens);
    assert.equal(await upstreamCount(said.slice(0, 20)), 1, 'one upstream call');
  });
}

eager('cache: openai sdk: a tool call survives stream -> whole', async () => {
  const said = `${mark('cache-tool')} [[mock tool=1]] weather?`;
  const tools = [{ type: 'function', function: { name: TOOL.name, description: TOOL.description, parameters: TOOL.schema } }];
  const params = { model: 'c-openai', messages: [{ role: 'user', content: said }], tools };
  const a = await openaiStream(params);
  assert.equal(a.finish, 'tool_calls');
  assert.deepEqual(JSON.parse(a.calls[0].args), TOOL_ARGS);
  const w = await oai.chat.completions.create(params);
  const call = w.choices[0].message.tool_calls[0];
  assert.equal(w.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.id, a.calls[0].id);
  assert.equal(call.function.name, TOOL.name);
  assert.deepEqual(JSON.parse(call.function.arguments), TOOL_ARGS);
  assert.equal(await upstreamCount(said.slice(0, 20)), 1, 'one upstream call');
});

eager('cache: anthropic sdk: thinking and text replayed, whole from the stream', async () => {
  const said = `${mark('cache-an')} [[mock thinking=1]] think then answer`;
  const params = { model: 'c-anthropic', max_tokens: 256, messages: [{ role: 'user', content: said }] };
  const collect = async () => {
    const { data, response } = await ant.messages.create({ ...params, stream: true }).withResponse();
    const r = { text: [], thinking: '', sig: '', cache: response.headers.get('x-relay-cache'), usage: null };
    for await (const ev of data) {
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') r.text.push(ev.delta.text);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'thinking_delta') r.thinking += ev.delta.thinking;
      if (ev.type === 'content_block_delta' && ev.delta.type === 'signature_delta') r.sig += ev.delta.signature;
      if (ev.type === 'message_delta') r.usage = ev.usage;
    }
    return r;
  };
  const a = await collect();
  const b = await collect();
  assert.equal(a.cache, 'MISS');
  assert.equal(b.cache, 'HIT');
  assert.deepEqual(b, { ...a, cache: 'HIT' });
  assert.equal(a.thinking, THINK_TEXT);
  assert.equal(a.sig, THINK_SIG);
  const { data: w, response } = await ant.messages.create(params).withResponse();
  assert.equal(response.headers.get('x-relay-cache'), 'HIT');
  const think = w.content.find((c) => c.type === 'thinking');
  assert.equal(think.thinking, THINK_TEXT);
  assert.equal(think.signature, THINK_SIG);
  assert.equal(w.content.filter((c) => c.type === 'text').map((c) => c.text).join(''), a.text.join(''));
  assert.equal(w.stop_reason, 'end_turn');
  assert.equal(w.usage.output_tokens, a.usage.output_tokens);
  assert.equal(await upstreamCount(said.slice(0, 20)), 1, 'one upstream call');
});

eager('cache: gemini sdk: stream replayed, whole from the stream', async () => {
  const said = `${mark('cache-ge')} gemini words of a cached answer`;
  const params = { model: 'c-gemini', contents: [{ role: 'user', parts: [{ text: said }] }] };
  const collect = async () => {
    const r = { pieces: [], usage: null, finish: null };
    for await (const c of await gem.models.generateContentStream(params)) {
      for (const p of c.candidates?.[0]?.content?.parts ?? []) if (p.text) r.pieces.push(p.text);
      if (c.usageMetadata) r.usage = c.usageMetadata;
      r.finish = c.candidates?.[0]?.finishReason ?? r.finish;
    }
    return r;
  };
  const a = await collect();
  const b = await collect();
  assert.deepEqual(b, a);
  assert.ok(a.pieces.length > 3);
  assert.equal(a.finish, 'STOP');
  const w = await gem.models.generateContent(params);
  assert.equal(w.candidates[0].content.parts.map((p) => p.text).join(''), a.pieces.join(''));
  assert.equal(w.usageMetadata.candidatesTokenCount, a.usage.candidatesTokenCount);
  assert.equal(await upstreamCount(said.slice(0, 20)), 1, 'one upstream call');
});
