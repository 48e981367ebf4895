// The official Anthropic SDK (@anthropic-ai/sdk) against the relay's
// POST /v1/messages, for each provider type of the shared config (models
// m-openai, m-anthropic, m-gemini, m-azure), plus what the mock upstream
// received. Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import Anthropic, { NotFoundError, RateLimitError } from '@anthropic-ai/sdk';
import {
  BASE, MOCK, MODELS, REPLY, SYSTEM, TOOL, TOOL_ARGS, THINK_TEXT, THINK_SIG, GEMINI_CALL_SIG,
  mark, eager, checkUpstream, streamClock, assertStreamed,
} from './helpers.mjs';

const client = new Anthropic({ baseURL: BASE, apiKey: 'sk-ant-client-anything', maxRetries: 0, timeout: 20000 });
const GAP = 40;
const tools = [{ name: TOOL.name, description: TOOL.description, input_schema: TOOL.schema }];
const user = (text) => [{ role: 'user', content: text }];
const textOf = (msg) => msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

function assertUsage(where, u) {
  assert.ok(u, `${where}: no usage`);
  assert.ok(u.input_tokens > 0, `${where}: input_tokens ${u.input_tokens}`);
  assert.ok(u.output_tokens > 0, `${where}: output_tokens ${u.output_tokens}`);
}

// One streamed message through the SDK's MessageStream: the raw events as
// they came, text/thinking/tool fragments, timing, the SDK's final message.
async function streamMessage(params) {
  const clock = streamClock();
  const s = client.messages.stream(params);
  const r = { text: '', textChunks: 0, thinking: '', signature: '', tools: {}, types: [] };
  for await (const ev of s) {
    r.types.push(ev.type);
    if (ev.type === 'content_block_start' && ev.content_block.type === 'tool_use')
      r.tools[ev.index] = { id: ev.content_block.id, name: ev.content_block.name, json: '' };
    if (ev.type !== 'content_block_delta') continue;
    const d = ev.delta;
    if (d.type === 'text_delta') {
      clock.tick();
      r.textChunks++;
      r.text += d.text;
    } else if (d.type === 'input_json_delta') r.tools[ev.index].json += d.partial_json;
    else if (d.type === 'thinking_delta') r.thinking += d.thinking;
    else if (d.type === 'signature_delta') r.signature += d.signature;
  }
  r.time = clock.done();
  r.final = await s.finalMessage();
  return r;
}

for (const m of MODELS) {
  // Text, non-stream and stream: the same words both ways.
  const said = `${mark('an-text')} [[mock gap_ms=${GAP}]]`;
  const params = { model: m.name, max_tokens: 256, system: SYSTEM, messages: user(said) };
  const plain = client.messages.create(params);
  plain.catch(() => {});

  eager(`anthropic sdk -> ${m.name}: text`, async () => {
    const r = await plain;
    assert.equal(r.type, 'message');
    assert.equal(r.role, 'assistant');
    assert.equal(textOf(r), REPLY(said));
    assert.equal(r.stop_reason, 'end_turn');
    assertUsage('usage', r.usage);
    await checkUpstream(m, said.split(' ')[0], { stream: false });
  });

  eager(`anthropic sdk -> ${m.name}: stream text`, async () => {
    const r = await streamMessage(params);
    assert.equal(r.text, textOf(await plain), 'streamed text vs the non-stream text');
    assert.equal(r.text, REPLY(said));
    assertStreamed('text deltas', r.textChunks, r.time, GAP);
    assert.equal(r.types[0], 'message_start');
    assert.equal(r.types.at(-1), 'message_stop');
    assert.equal(r.final.stop_reason, 'end_turn');
    assert.equal(textOf(r.final), REPLY(said));
    assertUsage('final usage', r.final.usage);
    await checkUpstream(m, said.split(' ')[0], { stream: true });
  });

  // Tool calls.
  const toolRuns = {};
  eager(`anthropic sdk -> ${m.name}: tool call`, async () => {
    const marker = mark('an-tool');
    const r = (toolRuns.plain = client.messages.create({
      model: m.name,
      max_tokens: 256,
      system: SYSTEM,
      tools,
      messages: user(`weather in Paris? ${marker} [[mock tool=1]]`),
    }));
    const msg = await r;
    const calls = msg.content.filter((b) => b.type === 'tool_use');
    assert.equal(calls.length, 1, JSON.stringify(msg.content));
    assert.equal(calls[0].name, TOOL.name);
    assert.deepEqual(calls[0].input, TOOL_ARGS);
    assert.ok(calls[0].id, 'tool_use id');
    assert.equal(msg.stop_reason, 'tool_use');
    assertUsage('usage', msg.usage);
    await checkUpstream(m, marker, { stream: false, tools: true });
  });

  eager(`anthropic sdk -> ${m.name}: stream tool call`, async () => {
    const marker = mark('an-tool-s');
    const r = (toolRuns.stream = streamMessage({
      model: m.name,
      max_tokens: 256,
      system: SYSTEM,
      tools,
      messages: user(`weather in Paris? ${marker} [[mock tool=1]]`),
    }));
    const s = await r;
    const blocks = Object.values(s.tools);
    assert.equal(blocks.length, 1, `tool_use blocks: ${JSON.stringify(s.tools)}`);
    assert.equal(blocks[0].name, TOOL.name);
    assert.deepEqual(JSON.parse(blocks[0].json), TOOL_ARGS, `fragments: ${blocks[0].json}`);
    const calls = s.final.content.filter((b) => b.type === 'tool_use');
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].input, TOOL_ARGS);
    assert.equal(s.final.stop_reason, 'tool_use');
    assertUsage('final usage', s.final.usage);
    await checkUpstream(m, marker, { stream: true, tools: true });
  });

  if (m.kind === 'gemini') {
    // Gemini's thoughtSignature on a function call rides in the call id
    // (docs/dialects.md), streamed or not.
    eager(`anthropic sdk -> ${m.name}: function-call thoughtSignature kept in the tool id`, async () => {
      await Promise.allSettled([toolRuns.plain, toolRuns.stream]);
      const ids = {
        'non-stream': (await toolRuns.plain).content.find((b) => b.type === 'tool_use')?.id,
        stream: Object.values((await toolRuns.stream).tools)[0]?.id,
      };
      for (const [how, id] of Object.entries(ids))
        assert.ok(id?.endsWith(`__thought__${GEMINI_CALL_SIG}`), `${how}: tool_use id ${id}`);
    });
  }

  for (const stream of [false, true]) {
    eager(`anthropic sdk -> ${m.name}: upstream 429 is a RateLimitError${stream ? ' (stream)' : ''}`, async () => {
      await assert.rejects(
        client.messages.create({ model: m.name, max_tokens: 64, stream, messages: user('slow down [[mock status=429]]') }),
        (e) => {
          assert.ok(e instanceof RateLimitError, `got ${e?.constructor?.name}: ${e}`);
          assert.equal(e.status, 429);
          assert.equal(e.error?.type, 'error', `body ${JSON.stringify(e.error)}`);
          assert.equal(e.error?.error?.type, 'rate_limit_error', `body ${JSON.stringify(e.error)}`);
          return true;
        },
      );
    });
  }
}

eager('anthropic sdk: unknown model is a NotFoundError', async () => {
  for (const stream of [false, true]) {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 64, stream, messages: user('hi') }),
      (e) => {
        assert.ok(e instanceof NotFoundError, `stream ${stream}: got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 404);
        assert.equal(e.error?.error?.type, 'not_found_error', JSON.stringify(e.error));
        return true;
      },
    );
  }
});

// Same dialect (anthropic client, anthropic provider): the thinking block
// and its signature pass through byte for byte.
const M_AN = MODELS.find((x) => x.kind === 'anthropic');

async function mockDirect(body) {
  const r = await fetch(`${MOCK}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'direct' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  return r.text();
}

eager('anthropic sdk -> m-anthropic: thinking block and signature byte-exact', async () => {
  const said = `think ${mark('an-think')} [[mock thinking=1]]`;
  const params = { model: M_AN.name, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: user(said) };
  // The raw and the direct requests carry other markers: one request each.
  const other = (label) => ({ ...params, messages: user(`think ${mark(label)} [[mock thinking=1]]`) });
  const [msg, raw, direct] = await Promise.all([
    client.messages.create(params),
    client.messages.create(other('an-think-raw')).asResponse().then((r) => r.text()),
    mockDirect({ ...other('an-think-direct'), model: M_AN.upstream }),
  ]);
  const th = msg.content.filter((b) => b.type === 'thinking');
  assert.equal(th.length, 1, JSON.stringify(msg.content));
  assert.equal(th[0].thinking, THINK_TEXT);
  assert.equal(th[0].signature, THINK_SIG);
  assert.equal(msg.content[0].type, 'thinking', 'the thinking block comes first');
  assert.equal(textOf(msg), REPLY(said));
  // The relay's bytes hold the mock's thinking block exactly as the mock
  // wrote it.
  const block = direct.match(/\{"type":"thinking".*?"signature":"[^"]*"\}/)?.[0];
  assert.ok(block, `no thinking block in the mock's own reply: ${direct}`);
  assert.ok(raw.includes(block), `relay body lacks ${block}: ${raw}`);
  const q = await checkUpstream(M_AN, said.split(' ')[1], { stream: false, system: false });
  assert.deepEqual(q.thinking, params.thinking, 'thinking config forwarded');
});

eager('anthropic sdk -> m-anthropic: stream thinking block and signature byte-exact', async () => {
  const said = `think ${mark('an-think-s')} [[mock thinking=1]]`;
  const params = { model: M_AN.name, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: user(said) };
  const other = (label) => ({ ...params, messages: user(`think ${mark(label)} [[mock thinking=1]]`) });
  const [s, raw, direct] = await Promise.all([
    streamMessage(params),
    client.messages.create({ ...other('an-think-raw-s'), stream: true }).asResponse().then((r) => r.text()),
    mockDirect({ ...other('an-think-direct-s'), model: M_AN.upstream, stream: true }),
  ]);
  assert.equal(s.thinking, THINK_TEXT);
  assert.equal(s.signature, THINK_SIG);
  assert.equal(s.text, REPLY(said));
  const th = s.final.content.filter((b) => b.type === 'thinking');
  assert.equal(th.length, 1);
  assert.equal(th[0].thinking, THINK_TEXT);
  assert.equal(th[0].signature, THINK_SIG);
  // Every thinking/signature delta line of the mock's own stream appears
  // verbatim in the relay's.
  const lines = direct.split('\n').filter((l) => /"(thinking|signature)_delta"/.test(l));
  assert.ok(lines.length >= 2, `mock stream: ${direct}`);
  for (const l of lines) assert.ok(raw.includes(l), `relay stream lacks: ${l}`);
  await checkUpstream(M_AN, said.split(' ')[1], { stream: true, system: false });
});
