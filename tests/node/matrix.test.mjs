// The official openai SDK against the relay's POST /v1/chat/completions for
// each provider type of the shared config (models m-openai, m-anthropic,
// m-gemini, m-azure), plus what the mock upstream received: the OpenAI
// dialect translated to Anthropic and Gemini and sent to Azure.
// Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  BASE, MODELS, REPLY, SYSTEM, TOOL, TOOL_ARGS, THINK_TEXT, GEMINI_CALL_SIG,
  mark, eager, checkUpstream, streamClock, assertStreamed,
} from './helpers.mjs';

const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'sk-client-anything', maxRetries: 0, timeout: 20000 });
const GAP = 40;
const tools = [{ type: 'function', function: { name: TOOL.name, description: TOOL.description, parameters: TOOL.schema } }];
const messages = (text) => [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: text },
];

function assertUsage(where, u) {
  assert.ok(u, `${where}: no usage`);
  assert.ok(u.prompt_tokens > 0, `${where}: prompt_tokens ${u.prompt_tokens}`);
  assert.ok(u.completion_tokens > 0, `${where}: completion_tokens ${u.completion_tokens}`);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${where}: total_tokens`);
}

// One streamed completion: text, tool-call fragments by index, timing,
// the usage chunk (if any), finish reason.
async function streamChat(params) {
  const clock = streamClock();
  const r = { text: '', textChunks: 0, chunks: 0, calls: {}, reasoning: '', usage: null, usageChunks: 0, finish: null, last: null };
  for await (const c of await client.chat.completions.create({ ...params, stream: true })) {
    r.chunks++;
    r.last = c;
    assert.equal(c.object, 'chat.completion.chunk');
    if (c.usage) {
      r.usage = c.usage;
      r.usageChunks++;
    }
    const ch = c.choices[0];
    if (!ch) continue;
    const d = ch.delta ?? {};
    if (typeof d.content === 'string' && d.content !== '') {
      clock.tick();
      r.textChunks++;
      r.text += d.content;
    }
    if (d.reasoning_content) r.reasoning += d.reasoning_content;
    for (const tc of d.tool_calls ?? []) {
      const acc = (r.calls[tc.index] ??= { id: '', name: '', args: '' });
      if (tc.id) acc.id += tc.id;
      if (tc.function?.name) acc.name += tc.function.name;
      if (tc.function?.arguments) acc.args += tc.function.arguments;
    }
    r.finish = ch.finish_reason ?? r.finish;
  }
  r.time = clock.done();
  return r;
}

for (const m of MODELS) {
  const said = `${mark('oa-text')} [[mock gap_ms=${GAP}]]`;
  const params = { model: m.name, messages: messages(said) };
  const plain = client.chat.completions.create(params);
  plain.catch(() => {});

  eager(`openai sdk -> ${m.name}: text`, async () => {
    const r = await plain;
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, REPLY(said));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assertUsage('usage', r.usage);
    await checkUpstream(m, said.split(' ')[0], { stream: false });
  });

  eager(`openai sdk -> ${m.name}: stream text (usage only when asked)`, async () => {
    // Two streams: with include_usage, and without (no usage chunk then,
    // although the relay always asks the upstream for usage).
    const bareSaid = mark('oa-bare');
    const [s, bare] = await Promise.all([
      streamChat({ ...params, stream_options: { include_usage: true } }),
      streamChat({ ...params, messages: messages(bareSaid) }),
    ]);
    assert.equal(s.text, (await plain).choices[0].message.content, 'streamed text vs the non-stream text');
    assert.equal(s.text, REPLY(said));
    assertStreamed('content chunks', s.textChunks, s.time, GAP);
    assert.equal(s.finish, 'stop');
    assertUsage('usage chunk', s.usage);
    assert.equal(s.usageChunks, 1, 'one usage chunk');
    assert.equal(s.last.choices.length, 0, 'the usage chunk comes last, without choices');
    assert.equal(bare.text, REPLY(bareSaid));
    assert.equal(bare.usageChunks, 0, 'a usage chunk the client did not ask for');
    await checkUpstream(m, said.split(' ')[0], { stream: true });
  });

  const toolRuns = {};
  eager(`openai sdk -> ${m.name}: tool call`, async () => {
    const marker = mark('oa-tool');
    const r = await (toolRuns.plain = client.chat.completions.create({
      model: m.name,
      messages: messages(`weather in Paris? ${marker} [[mock tool=1]]`),
      tools,
    }));
    const calls = r.choices[0].message.tool_calls ?? [];
    assert.equal(calls.length, 1, JSON.stringify(r.choices[0].message));
    assert.equal(calls[0].type, 'function');
    assert.equal(calls[0].function.name, TOOL.name);
    assert.deepEqual(JSON.parse(calls[0].function.arguments), TOOL_ARGS);
    assert.ok(calls[0].id, 'tool call id');
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assertUsage('usage', r.usage);
    await checkUpstream(m, marker, { stream: false, tools: true });
  });

  eager(`openai sdk -> ${m.name}: stream tool call`, async () => {
    const marker = mark('oa-tool-s');
    const s = await (toolRuns.stream = streamChat({
      model: m.name,
      messages: messages(`weather in Paris? ${marker} [[mock tool=1]]`),
      tools,
      stream_options: { include_usage: true },
    }));
    const calls = Object.values(s.calls);
    assert.equal(calls.length, 1, JSON.stringify(s.calls));
    assert.equal(calls[0].name, TOOL.name);
    assert.deepEqual(JSON.parse(calls[0].args), TOOL_ARGS, `fragments: ${calls[0].args}`);
    assert.ok(calls[0].id, 'tool call id');
    assert.equal(s.finish, 'tool_calls');
    assertUsage('usage chunk', s.usage);
    await checkUpstream(m, marker, { stream: true, tools: true });
  });

  if (m.kind === 'gemini') {
    eager(`openai sdk -> ${m.name}: function-call thoughtSignature kept in the tool call id`, async () => {
      await Promise.allSettled([toolRuns.plain, toolRuns.stream]);
      const ids = {
        'non-stream': (await toolRuns.plain).choices[0].message.tool_calls?.[0]?.id,
        stream: Object.values((await toolRuns.stream).calls)[0]?.id,
      };
      for (const [how, id] of Object.entries(ids))
        assert.ok(id?.endsWith(`__thought__${GEMINI_CALL_SIG}`), `${how}: tool call id ${id}`);
    });
  }

  for (const stream of [false, true]) {
    eager(`openai sdk -> ${m.name}: upstream 429 is a RateLimitError${stream ? ' (stream)' : ''}`, async () => {
      await assert.rejects(
        client.chat.completions.create({ model: m.name, stream, messages: messages('slow down [[mock status=429]]') }),
        (e) => {
          assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
          assert.equal(e.status, 429);
          return true;
        },
      );
    });
  }
}

for (const stream of [false, true]) {
  eager(`openai sdk: unknown model is a NotFoundError${stream ? ' (stream)' : ''}`, async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', stream, messages: messages('hi') }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e}`);
      assert.equal(e.status, 404);
      return true;
    });
  });
}

// Cross-dialect thinking: the Anthropic provider's thinking becomes
// reasoning_content (the signature has no place in Chat Completions).
const M_AN = MODELS.find((x) => x.kind === 'anthropic');
eager('openai sdk -> m-anthropic: thinking arrives as reasoning_content', async () => {
  const said = `think ${mark('oa-think')} [[mock thinking=1]]`;
  const [r, s] = await Promise.all([
    client.chat.completions.create({ model: M_AN.name, messages: messages(said), reasoning_effort: 'low' }),
    streamChat({ model: M_AN.name, messages: messages(`${said} s`), reasoning_effort: 'low' }),
  ]);
  assert.equal(r.choices[0].message.reasoning_content, THINK_TEXT);
  assert.equal(r.choices[0].message.content, REPLY(said));
  assert.equal(s.reasoning, THINK_TEXT, 'stream');
  assert.equal(s.text, REPLY(`${said} s`));
});
