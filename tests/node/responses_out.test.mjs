// A model served only by a provider's Responses API (the shared config's
// r-openai: OpenAI /v1/responses; r-azure: Azure /openai/v1/responses,
// both with "api": "responses") for clients of every dialect: the openai
// SDK's chat completions, the Anthropic SDK, the Google GenAI SDK (text,
// streams, tool calls, thinking), and the openai SDK's own Responses API
// relayed as it is (same dialect: the upstream's ids and events).
// Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import {
  BASE, REPLY, SYSTEM, TOOL, TOOL_ARGS, THINK_TEXT, THINK_SIG, mark, eager, upstreamRequest,
} from './helpers.mjs';

const oa = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'sk-client-anything', maxRetries: 0, timeout: 20000 });
const an = new Anthropic({ baseURL: BASE, apiKey: 'sk-ant-client-anything', maxRetries: 0, timeout: 20000 });
const ai = new GoogleGenAI({
  apiKey: 'gemini-client-anything',
  httpOptions: { baseUrl: BASE, timeout: 20000, retryOptions: { attempts: 1 } },
});

const R_MODELS = [
  { name: 'r-openai', upstream: 'up-responses', path: '/v1/responses', auth: ['authorization', `Bearer ${process.env.PROVIDER_KEY}`] },
  { name: 'r-azure', upstream: 'up-razure', path: '/openai/v1/responses', auth: ['api-key', process.env.AZURE_PROVIDER_KEY] },
];

// What the mock's Responses API received for the request carrying marker.
async function checkResponsesUpstream(m, marker, { stream = false, tools = false, translated = true } = {}) {
  const q = await upstreamRequest(marker, stream);
  const b = q.json;
  const where = `${m.name}: ${q.method} ${q.path}`;
  assert.equal(q.path, m.path, where);
  assert.equal(q.headers[m.auth[0]], m.auth[1], `${where}: ${m.auth[0]}`);
  assert.equal(b.model, m.upstream, `${where}: model`);
  assert.equal(b.messages, undefined, `${where}: messages in a Responses body`);
  assert.ok(JSON.stringify(b.input).includes(marker), `${where}: input`);
  assert.equal(!!b.stream, stream, `${where}: stream`);
  // A translated request asks for no storage (the relay keeps no state).
  if (translated) assert.equal(b.store, false, `${where}: store`);
  if (tools) {
    assert.equal(b.tools?.[0]?.type, 'function', `${where}: tools ${JSON.stringify(b.tools)}`);
    assert.equal(b.tools[0].name, TOOL.name);
    assert.deepEqual(b.tools[0].parameters, TOOL.schema);
  }
  return b;
}

const oaTools = [{ type: 'function', function: { name: TOOL.name, description: TOOL.description, parameters: TOOL.schema } }];
const anTools = [{ name: TOOL.name, description: TOOL.description, input_schema: TOOL.schema }];
const gmTools = [{ functionDeclarations: [{ name: TOOL.name, description: TOOL.description, parametersJsonSchema: TOOL.schema }] }];

for (const m of R_MODELS) {
  eager(`chat completions sdk -> ${m.name} (Responses out): text, stream, tool call`, async () => {
    const said = mark('ro-chat');
    const r = await oa.chat.completions.create({
      model: m.name, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: said }],
    });
    assert.equal(r.choices[0].message.content, REPLY(said));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    const b = await checkResponsesUpstream(m, said);
    assert.equal(b.instructions, SYSTEM);

    const s = mark('ro-chat-s');
    let text = '';
    let usage = null;
    for await (const c of await oa.chat.completions.create({
      model: m.name, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: s }],
    })) {
      text += c.choices[0]?.delta?.content ?? '';
      usage = c.usage ?? usage;
    }
    assert.equal(text, REPLY(s));
    assert.ok(usage?.completion_tokens > 0, 'usage chunk');
    await checkResponsesUpstream(m, s, { stream: true });

    const t = mark('ro-chat-t');
    const tr = await oa.chat.completions.create({
      model: m.name, tools: oaTools, messages: [{ role: 'user', content: `weather? ${t} [[mock tool=1]]` }],
    });
    const call = tr.choices[0].message.tool_calls?.[0];
    assert.ok(call, JSON.stringify(tr.choices[0].message));
    assert.equal(call.function.name, TOOL.name);
    assert.deepEqual(JSON.parse(call.function.arguments), TOOL_ARGS);
    assert.equal(tr.choices[0].finish_reason, 'tool_calls');
    await checkResponsesUpstream(m, t, { tools: true });
    // The result goes back as function_call_output.
    const t2 = mark('ro-chat-t2');
    await oa.chat.completions.create({
      model: m.name, tools: oaTools, messages: [
        { role: 'user', content: `weather? ${t}` }, tr.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: `21 C ${t2}` }],
    });
    const b2 = await checkResponsesUpstream(m, t2, { tools: true });
    const fc = b2.input.find((i) => i.type === 'function_call');
    const fo = b2.input.find((i) => i.type === 'function_call_output');
    assert.equal(fc?.call_id, call.id, JSON.stringify(b2.input));
    assert.equal(fo?.call_id, call.id);
    assert.ok(fo.output.includes(t2));
  });

  eager(`anthropic sdk -> ${m.name} (Responses out): text, stream, tool use, thinking`, async () => {
    const said = mark('ro-an');
    const r = await an.messages.create({ model: m.name, max_tokens: 300, system: SYSTEM, messages: [{ role: 'user', content: said }] });
    assert.equal(r.content.find((c) => c.type === 'text')?.text, REPLY(said));
    assert.equal(r.stop_reason, 'end_turn');
    const b = await checkResponsesUpstream(m, said);
    assert.equal(b.max_output_tokens, 300);

    const s = mark('ro-an-s');
    const st = an.messages.stream({ model: m.name, max_tokens: 300, messages: [{ role: 'user', content: s }] });
    const fin = await st.finalMessage();
    assert.equal(fin.content.find((c) => c.type === 'text')?.text, REPLY(s));
    assert.ok(fin.usage.output_tokens > 0);
    await checkResponsesUpstream(m, s, { stream: true });

    const t = mark('ro-an-t');
    const tr = await an.messages.create({
      model: m.name, max_tokens: 300, tools: anTools, messages: [{ role: 'user', content: `weather? ${t} [[mock tool=1]]` }],
    });
    const tu = tr.content.find((c) => c.type === 'tool_use');
    assert.ok(tu, JSON.stringify(tr.content));
    assert.deepEqual(tu.input, TOOL_ARGS);
    assert.equal(tr.stop_reason, 'tool_use');

    // Thinking: asked as reasoning with its encrypted_content, which
    // comes back as the thinking block's signature.
    const k = `think ${mark('ro-an-k')} [[mock thinking=1]]`;
    const params = { model: m.name, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 } };
    const [kr, ks] = await Promise.all([
      an.messages.create({ ...params, messages: [{ role: 'user', content: k }] }),
      an.messages.stream({ ...params, messages: [{ role: 'user', content: `${k} s` }] }).finalMessage(),
    ]);
    for (const [how, msg] of [['create', kr], ['stream', ks]]) {
      const th = msg.content.find((c) => c.type === 'thinking');
      assert.ok(th, `${how}: ${JSON.stringify(msg.content)}`);
      assert.equal(th.thinking, THINK_TEXT, how);
      assert.equal(th.signature, THINK_SIG, how);
    }
    const kb = await checkResponsesUpstream(m, k.split(' ')[1]);
    assert.equal(kb.reasoning?.effort, 'medium');
    assert.deepEqual(kb.include, ['reasoning.encrypted_content']);
  });

  eager(`genai sdk -> ${m.name} (Responses out): text, stream, function call`, async () => {
    const said = mark('ro-gm');
    const r = await ai.models.generateContent({
      model: m.name, contents: [{ role: 'user', parts: [{ text: said }] }], config: { systemInstruction: SYSTEM },
    });
    assert.equal(r.text, REPLY(said));
    assert.ok(r.usageMetadata?.promptTokenCount > 0);
    const b = await checkResponsesUpstream(m, said);
    assert.equal(b.instructions, SYSTEM);

    const s = mark('ro-gm-s');
    let text = '';
    for await (const c of await ai.models.generateContentStream({ model: m.name, contents: [{ role: 'user', parts: [{ text: s }] }] }))
      text += c.text ?? '';
    assert.equal(text, REPLY(s));
    await checkResponsesUpstream(m, s, { stream: true });

    const t = mark('ro-gm-t');
    const tr = await ai.models.generateContent({
      model: m.name, contents: [{ role: 'user', parts: [{ text: `weather? ${t} [[mock tool=1]]` }] }], config: { tools: gmTools },
    });
    assert.equal(tr.functionCalls?.[0]?.name, TOOL.name, JSON.stringify(tr.candidates));
    assert.deepEqual(tr.functionCalls[0].args, TOOL_ARGS);
  });
}

// Responses in -> Responses out: relayed as it came (the upstream's ids,
// its events, previous_response_id passed on).
const R = R_MODELS[0];
eager('responses sdk -> r-openai (same dialect): relayed as it is', async () => {
  // The mock, as the real API, knows only previous ids it made.
  const prev = await oa.responses.create({ model: R.name, input: mark('ro-rs-prev') });
  const said = mark('ro-rs');
  const r = await oa.responses.create({ model: R.name, instructions: SYSTEM, input: said, previous_response_id: prev.id });
  assert.equal(r.output_text, REPLY(said));
  assert.match(r.id, /^resp_mock/, 'the upstream id, untouched');
  assert.equal(r.model, R.upstream);
  const b = await checkResponsesUpstream(R, said, { translated: false });
  assert.equal(b.store, undefined, 'nothing added to the client body');
  assert.equal(b.previous_response_id, prev.id, 'previous_response_id passed on');
  assert.equal(b.instructions, SYSTEM);

  const s = mark('ro-rs-s');
  const st = oa.responses.stream({ model: R.name, input: s });
  const seq = [];
  for await (const ev of st) seq.push(ev.sequence_number);
  const fin = await st.finalResponse();
  assert.equal(fin.output_text, REPLY(s));
  assert.deepEqual(seq, seq.map((_, i) => i));
  assert.match(fin.id, /^resp_mock/);
});
