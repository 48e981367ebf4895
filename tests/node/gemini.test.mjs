// The official Gemini SDK (@google/genai) against the relay's
// POST /v1beta/models/{model}:generateContent and :streamGenerateContent
// (?alt=sse), for each provider type of the shared config (models
// m-openai, m-anthropic, m-gemini, m-azure), plus what the mock upstream
// received. Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI } from '@google/genai';
import {
  BASE, MODELS, REPLY, SYSTEM, TOOL, TOOL_ARGS, THINK_TEXT, THINK_SIG, GEMINI_CALL_SIG,
  mark, eager, checkUpstream, streamClock, assertStreamed,
} from './helpers.mjs';

const ai = new GoogleGenAI({
  apiKey: 'gemini-client-anything',
  httpOptions: { baseUrl: BASE, timeout: 20000, retryOptions: { attempts: 1 } },
});
const GAP = 40;
const tools = [{ functionDeclarations: [{ name: TOOL.name, description: TOOL.description, parametersJsonSchema: TOOL.schema }] }];
const contents = (text) => [{ role: 'user', parts: [{ text }] }];
const partsOf = (r) => r.candidates?.[0]?.content?.parts ?? [];
// Answer text without thought parts (the SDK's .text getter warns on
// function calls, so read the parts).
const textOf = (r) => partsOf(r).filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join('');

function assertUsage(where, u) {
  assert.ok(u, `${where}: no usageMetadata`);
  assert.ok(u.promptTokenCount > 0, `${where}: promptTokenCount ${u.promptTokenCount}`);
  assert.ok(u.candidatesTokenCount > 0, `${where}: candidatesTokenCount ${u.candidatesTokenCount}`);
}

// One streamed answer: text, function calls, thought parts, timing, the
// last usageMetadata and finishReason.
async function streamAnswer(params) {
  const clock = streamClock();
  const r = { text: '', textChunks: 0, chunks: 0, calls: [], thought: '', thoughtSig: '', usage: null, finish: null };
  for await (const c of await ai.models.generateContentStream(params)) {
    r.chunks++;
    for (const p of partsOf(c)) {
      if (p.thought) {
        r.thought += p.text ?? '';
        r.thoughtSig += p.thoughtSignature ?? '';
      } else if (typeof p.text === 'string' && p.text !== '') {
        clock.tick();
        r.textChunks++;
        r.text += p.text;
      }
      if (p.functionCall) r.calls.push({ ...p.functionCall, thoughtSignature: p.thoughtSignature });
    }
    if (c.usageMetadata) r.usage = c.usageMetadata;
    r.finish = c.candidates?.[0]?.finishReason ?? r.finish;
  }
  r.time = clock.done();
  return r;
}

for (const m of MODELS) {
  const said = `${mark('ge-text')} [[mock gap_ms=${GAP}]]`;
  const params = { model: m.name, contents: contents(said), config: { systemInstruction: SYSTEM } };
  const plain = ai.models.generateContent(params);
  plain.catch(() => {});

  eager(`gemini sdk -> ${m.name}: text`, async () => {
    const r = await plain;
    assert.equal(textOf(r), REPLY(said));
    assert.equal(r.text, REPLY(said), 'the SDK .text getter');
    assert.equal(r.candidates[0].content.role, 'model');
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assertUsage('usageMetadata', r.usageMetadata);
    await checkUpstream(m, said.split(' ')[0], { stream: false });
  });

  eager(`gemini sdk -> ${m.name}: stream text`, async () => {
    const s = await streamAnswer(params);
    assert.equal(s.text, textOf(await plain), 'streamed text vs the non-stream text');
    assert.equal(s.text, REPLY(said));
    assertStreamed('text chunks', s.textChunks, s.time, GAP);
    assert.equal(s.finish, 'STOP');
    assertUsage('last usageMetadata', s.usage);
    await checkUpstream(m, said.split(' ')[0], { stream: true });
  });

  const toolRuns = {};
  eager(`gemini sdk -> ${m.name}: tool call`, async () => {
    const marker = mark('ge-tool');
    const r = await (toolRuns.plain = ai.models.generateContent({
      model: m.name,
      contents: contents(`weather in Paris? ${marker} [[mock tool=1]]`),
      config: { systemInstruction: SYSTEM, tools },
    }));
    const calls = r.functionCalls ?? [];
    assert.equal(calls.length, 1, JSON.stringify(partsOf(r)));
    assert.equal(calls[0].name, TOOL.name);
    assert.deepEqual(calls[0].args, TOOL_ARGS);
    assertUsage('usageMetadata', r.usageMetadata);
    await checkUpstream(m, marker, { stream: false, tools: true });
  });

  eager(`gemini sdk -> ${m.name}: stream tool call`, async () => {
    const marker = mark('ge-tool-s');
    const s = await (toolRuns.stream = streamAnswer({
      model: m.name,
      contents: contents(`weather in Paris? ${marker} [[mock tool=1]]`),
      config: { systemInstruction: SYSTEM, tools },
    }));
    // Gemini sends a call whole: the relay gathers the fragments of the
    // other providers into one functionCall (docs/dialects.md).
    assert.equal(s.calls.length, 1, JSON.stringify(s.calls));
    assert.equal(s.calls[0].name, TOOL.name);
    assert.deepEqual(s.calls[0].args, TOOL_ARGS);
    assertUsage('last usageMetadata', s.usage);
    await checkUpstream(m, marker, { stream: true, tools: true });
  });

  if (m.kind === 'gemini') {
    // Same dialect: the function call's thoughtSignature passes through.
    eager(`gemini sdk -> ${m.name}: function-call thoughtSignature passes through`, async () => {
      await Promise.allSettled([toolRuns.plain, toolRuns.stream]);
      const plainPart = partsOf(await toolRuns.plain).find((p) => p.functionCall);
      assert.equal(plainPart?.thoughtSignature, GEMINI_CALL_SIG, 'non-stream');
      assert.equal((await toolRuns.stream).calls[0]?.thoughtSignature, GEMINI_CALL_SIG, 'stream');
    });
  }

  for (const stream of [false, true]) {
    eager(`gemini sdk -> ${m.name}: upstream 429 is an ApiError 429${stream ? ' (stream)' : ''}`, async () => {
      const p = { model: m.name, contents: contents('slow down [[mock status=429]]') };
      await assert.rejects(
        stream ? streamAnswer(p) : ai.models.generateContent(p),
        (e) => {
          assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
          assert.equal(e.status, 429, e.message);
          assert.match(e.message, /RESOURCE_EXHAUSTED/, e.message);
          return true;
        },
      );
    });
  }
}

for (const stream of [false, true]) {
  eager(`gemini sdk: unknown model is an ApiError 404${stream ? ' (stream)' : ''}`, async () => {
    const p = { model: 'no-such-model', contents: contents('hi') };
    await assert.rejects(stream ? streamAnswer(p) : ai.models.generateContent(p), (e) => {
      assert.ok(e instanceof ApiError, `got ${e?.constructor?.name}: ${e}`);
      assert.equal(e.status, 404, e.message);
      assert.match(e.message, /NOT_FOUND/, e.message);
      return true;
    });
  });
}

// Cross-dialect thinking: the Anthropic provider's thinking block becomes
// a thought part carrying the signature (docs/dialects.md).
const M_AN = MODELS.find((x) => x.kind === 'anthropic');
eager('gemini sdk -> m-anthropic: thinking arrives as a thought part with its signature', async () => {
  const said = `think ${mark('ge-think')} [[mock thinking=1]]`;
  const p = { model: M_AN.name, contents: contents(said), config: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } } };
  const [r, s] = await Promise.all([ai.models.generateContent(p), streamAnswer({ ...p, contents: contents(`${said} s`) })]);
  const th = partsOf(r).filter((x) => x.thought);
  assert.equal(th.length, 1, JSON.stringify(partsOf(r)));
  assert.equal(th[0].text, THINK_TEXT);
  assert.equal(th[0].thoughtSignature, THINK_SIG);
  assert.equal(textOf(r), REPLY(said));
  assert.equal(s.thought, THINK_TEXT, 'stream');
  assert.equal(s.thoughtSig, THINK_SIG, 'stream');
  assert.equal(s.text, REPLY(`${said} s`));
});
