// The official openai SDK's Responses API (client.responses.create and the
// strict client.responses.stream helper) against the relay's POST
// /v1/responses for each provider type of the shared config: text, the
// event stream as the SDK and Codex read it, a tool round trip
// (function_call -> function_call_output), custom tools, reasoning items,
// and the errors in OpenAI's shape.
// Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  BASE, MODELS, REPLY, SYSTEM, TOOL, TOOL_ARGS, THINK_TEXT, THINK_SIG,
  mark, eager, checkUpstream, upstreamRequest,
} from './helpers.mjs';

const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'sk-client-anything', maxRetries: 0, timeout: 20000 });
const tools = [{ type: 'function', name: TOOL.name, description: TOOL.description, parameters: TOOL.schema }];

function assertUsage(where, u) {
  assert.ok(u, `${where}: no usage`);
  assert.ok(u.input_tokens > 0, `${where}: input_tokens ${u.input_tokens}`);
  assert.ok(u.output_tokens > 0, `${where}: output_tokens ${u.output_tokens}`);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens, `${where}: total_tokens`);
  assert.equal(typeof u.input_tokens_details?.cached_tokens, 'number', `${where}: cached_tokens`);
  assert.equal(typeof u.output_tokens_details?.reasoning_tokens, 'number', `${where}: reasoning_tokens`);
}

// A stream through the strict helper: every event, checked for what the
// SDK and Codex rely on, and the final response.
async function streamResponse(params) {
  const s = client.responses.stream(params);
  const events = [];
  for await (const ev of s) events.push(ev);
  const final = await s.finalResponse();
  assert.ok(events.length > 0, 'no events');
  assert.equal(events[0].type, 'response.created', 'the first event');
  events.forEach((ev, i) => assert.equal(ev.sequence_number, i, `sequence_number of ${ev.type}`));
  const last = events.at(-1);
  assert.match(last.type, /^response\.(completed|incomplete|failed)$/, 'the last event');
  // Per item: added before anything else of its index, done last.
  const text = {};
  for (const ev of events) {
    if (ev.type === 'response.output_text.delta') text[ev.output_index] = (text[ev.output_index] ?? '') + ev.delta;
    if (ev.type === 'response.output_text.done')
      assert.equal(ev.text, text[ev.output_index] ?? '', 'output_text.done.text is its deltas');
  }
  const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.output_index);
  const done = events.filter((e) => e.type === 'response.output_item.done');
  assert.deepEqual(added, done.map((e) => e.output_index), 'every item added is done');
  assert.deepEqual(added, added.map((_, i) => i), 'output_index counts from 0');
  assert.deepEqual(last.response.output, done.map((e) => e.item), 'the final output is the done items');
  return { events, final, last };
}

const types = (events) => events.map((e) => e.type);

for (const m of MODELS) {
  const said = mark('rs-text');
  const params = { model: m.name, instructions: SYSTEM, input: said };
  const plain = client.responses.create(params);
  plain.catch(() => {});

  eager(`responses sdk -> ${m.name}: create text`, async () => {
    const r = await plain;
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text, REPLY(said));
    assert.equal(r.output.length, 1, JSON.stringify(r.output));
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].role, 'assistant');
    assert.equal(r.output[0].content[0].type, 'output_text');
    assertUsage('usage', r.usage);
    await checkUpstream(m, said, { stream: false });
  });

  eager(`responses sdk -> ${m.name}: stream text (strict helper)`, async () => {
    const s = mark('rs-stream');
    const { events, final, last } = await streamResponse({ ...params, input: [{ role: 'user', content: s }] });
    assert.equal(final.output_text, REPLY(s));
    assert.equal(last.type, 'response.completed');
    assertUsage('response.completed usage', last.response.usage);
    const t = types(events).filter((x) => x !== 'response.output_text.delta');
    assert.deepEqual(t, [
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ]);
    assert.ok(types(events).filter((x) => x === 'response.output_text.delta').length >= 1, 'text deltas');
    await checkUpstream(m, s, { stream: true });
  });

  eager(`responses sdk -> ${m.name}: tool round trip (function_call -> function_call_output)`, async () => {
    const marker = mark('rs-tool');
    const input = [{ role: 'user', content: `weather in Paris? ${marker} [[mock tool=1]]` }];
    const r = await client.responses.create({ model: m.name, instructions: SYSTEM, input, tools });
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(r.output));
    assert.equal(calls[0].name, TOOL.name);
    assert.deepEqual(JSON.parse(calls[0].arguments), TOOL_ARGS);
    assert.ok(calls[0].call_id, 'call_id');
    await checkUpstream(m, marker, { stream: false, tools: true });
    // The second turn: the whole history, as a stateless client sends it
    // (without the mock's directive, which would call the tool again).
    const marker2 = mark('rs-tool-2');
    const r2 = await client.responses.create({
      model: m.name, instructions: SYSTEM, tools,
      input: [{ role: 'user', content: `weather in Paris? ${marker}` }, ...r.output, { type: 'function_call_output', call_id: calls[0].call_id, output: `21 C ${marker2}` },
        { role: 'user', content: `thanks ${marker2}` }],
    });
    assert.equal(r2.status, 'completed');
    assert.ok(r2.output_text.length > 0, 'an answer after the tool result');
    const b = (await upstreamRequest(marker2, false)).json;
    const sent = JSON.stringify(b);
    assert.ok(sent.includes(TOOL.name), 'the call in the history');
    switch (m.kind) {
      case 'openai':
      case 'azure': {
        const tm = b.messages.find((x) => x.role === 'tool');
        assert.ok(tm, `no tool message: ${sent}`);
        assert.equal(tm.tool_call_id, calls[0].call_id);
        assert.ok(tm.content.includes(marker2));
        break;
      }
      case 'anthropic': {
        const tr = b.messages.flatMap((x) => (Array.isArray(x.content) ? x.content : [])).find((c) => c.type === 'tool_result');
        assert.ok(tr, `no tool_result: ${sent}`);
        assert.equal(tr.tool_use_id, calls[0].call_id);
        break;
      }
      case 'gemini': {
        const fr = b.contents.flatMap((c) => c.parts).find((p) => p.functionResponse);
        assert.ok(fr, `no functionResponse: ${sent}`);
        assert.equal(fr.functionResponse.name, TOOL.name);
        break;
      }
    }
  });

  eager(`responses sdk -> ${m.name}: stream tool call`, async () => {
    const marker = mark('rs-tool-s');
    const { events, final } = await streamResponse({
      model: m.name, instructions: SYSTEM, tools,
      input: `weather in Paris? ${marker} [[mock tool=1]]`,
    });
    const call = final.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(final.output));
    assert.equal(call.name, TOOL.name);
    assert.deepEqual(JSON.parse(call.arguments), TOOL_ARGS);
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
    const argDone = events.find((e) => e.type === 'response.function_call_arguments.done');
    assert.equal(deltas, argDone.arguments, 'arguments.done is its deltas');
    assert.equal(argDone.arguments, call.arguments);
    await checkUpstream(m, marker, { stream: true, tools: true });
  });

  eager(`responses sdk -> ${m.name}: custom tool as a one-string function, and back`, async () => {
    const marker = mark('rs-custom');
    const r = await client.responses.create({
      model: m.name, input: `patch it ${marker} [[mock tool=1]]`,
      tools: [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch' }],
    });
    const call = r.output.find((o) => o.type === 'custom_tool_call');
    assert.ok(call, JSON.stringify(r.output));
    assert.equal(call.name, 'apply_patch');
    assert.equal(typeof call.input, 'string');
    const b = (await upstreamRequest(marker, false)).json;
    const schema = m.kind === 'anthropic' ? b.tools[0].input_schema
      : m.kind === 'gemini' ? b.tools[0].functionDeclarations[0].parametersJsonSchema ?? b.tools[0].functionDeclarations[0].parameters
        : b.tools[0].function.parameters;
    assert.equal(schema.properties.input.type, 'string', JSON.stringify(b.tools));
    assert.deepEqual(schema.required, ['input']);
  });

  for (const stream of [false, true]) {
    eager(`responses sdk -> ${m.name}: upstream 429 is a RateLimitError${stream ? ' (stream)' : ''}`, async () => {
      const p = stream
        ? streamResponse({ model: m.name, input: 'slow down [[mock status=429]]' })
        : client.responses.create({ model: m.name, input: 'slow down [[mock status=429]]' });
      await assert.rejects(p, (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.status, 429);
        return true;
      });
    });
  }

  eager(`responses sdk -> ${m.name}: previous_response_id is a clear 400`, async () => {
    await assert.rejects(
      client.responses.create({ model: m.name, input: 'go on', previous_response_id: 'resp_abc' }),
      (e) => {
        assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e}`);
        assert.equal(e.param, 'previous_response_id');
        assert.match(e.message, /history/);
        return true;
      },
    );
  });
}

// Anthropic thinking as a reasoning item. The shared stack has no master
// key, so the relay cannot seal it (t_responses_reasoning.sh does, with
// one): no encrypted_content at all (never the provider's raw signature),
// and nothing of it goes back to the provider on the next turn.
const M_AN = MODELS.find((x) => x.kind === 'anthropic');
eager('responses sdk -> m-anthropic: thinking as a reasoning item, not round-tripped without a master key', async () => {
  const said = `think ${mark('rs-think')} [[mock thinking=1]]`;
  const [r, s] = await Promise.all([
    client.responses.create({ model: M_AN.name, input: said, reasoning: { effort: 'low', summary: 'auto' } }),
    streamResponse({ model: M_AN.name, input: `${said} s`, reasoning: { effort: 'low' } }),
  ]);
  for (const [how, out] of [['create', r.output], ['stream', s.final.output]]) {
    const rs = out.find((o) => o.type === 'reasoning');
    assert.ok(rs, `${how}: ${JSON.stringify(out)}`);
    assert.equal(rs.summary[0]?.text, THINK_TEXT, how);
    assert.equal(rs.encrypted_content, undefined, how);
  }
  assert.equal(r.output_text, REPLY(said));
  assert.ok(types(s.events).includes('response.reasoning_summary_text.delta'));
  const marker = mark('rs-think-2');
  await client.responses.create({
    model: M_AN.name, reasoning: { effort: 'low' },
    input: [{ role: 'user', content: said }, ...r.output, { role: 'user', content: `more ${marker}` }],
  });
  const b = (await upstreamRequest(marker, false)).json;
  const th = b.messages.flatMap((x) => (Array.isArray(x.content) ? x.content : [])).find((c) => c.type === 'thinking');
  assert.equal(th, undefined, JSON.stringify(b.messages));
  assert.ok(!JSON.stringify(b).includes(THINK_SIG));
});

for (const stream of [false, true]) {
  eager(`responses sdk: unknown model is a NotFoundError${stream ? ' (stream)' : ''}`, async () => {
    await assert.rejects(client.responses.create({ model: 'no-such-model', stream, input: 'hi' }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e}`);
      assert.equal(e.status, 404);
      return true;
    });
  });
}

eager('responses sdk: a built-in tool for a non-OpenAI provider is a clear 400', async () => {
  await assert.rejects(
    client.responses.create({ model: M_AN.name, input: 'search', tools: [{ type: 'web_search' }] }),
    (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e}`);
      assert.equal(e.param, 'tools');
      assert.match(e.message, /web_search/);
      return true;
    },
  );
});
