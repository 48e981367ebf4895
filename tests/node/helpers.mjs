// Shared by the SDK matrix tests (anthropic.test.mjs, gemini.test.mjs,
// matrix.test.mjs): the models of the shared config, the mock's fixed
// replies, and checks of what the mock upstream received.
//
// Environment (tests/integration/run.sh exports it): RELAY_BASE_URL,
// MOCK_URL, and the provider keys PROVIDER_KEY (openai "demo"),
// ANTHROPIC_PROVIDER_KEY ("an"), GEMINI_PROVIDER_KEY ("ge"),
// AZURE_PROVIDER_KEY ("az").
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

export const BASE = process.env.RELAY_BASE_URL;
export const MOCK = process.env.MOCK_URL;
if (!BASE || !MOCK) throw new Error('set RELAY_BASE_URL and MOCK_URL (tests/integration/run.sh does)');

const KEYS = {
  openai: process.env.PROVIDER_KEY,
  anthropic: process.env.ANTHROPIC_PROVIDER_KEY,
  gemini: process.env.GEMINI_PROVIDER_KEY,
  azure: process.env.AZURE_PROVIDER_KEY,
};

// The four models of the shared config, one per provider type, each with
// the upstream model name it is sent as.
export const MODELS = [
  { name: 'm-openai', kind: 'openai', upstream: 'up-openai' },
  { name: 'm-anthropic', kind: 'anthropic', upstream: 'up-anthropic' },
  { name: 'm-gemini', kind: 'gemini', upstream: 'up-gemini' },
  { name: 'm-azure', kind: 'azure', upstream: 'up-azure' },
];

// What every client sends besides the user message.
export const SYSTEM = 'You are a terse test assistant.';
export const TOOL = {
  name: 'get_weather',
  description: 'Current weather of a city',
  schema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
  },
};
export const TOOL_ARGS = { city: 'Paris' };
// The mock's Anthropic thinking block (tests/mock/mock_upstream.c) and the
// thoughtSignature it puts on Gemini function calls.
export const THINK_TEXT = 'The user greeted me. I should reply politely.';
export const THINK_SIG = 'EqQBCkYIBRgCKkBtb2NrLXNpZ25hdHVyZS1tb2NrLXNpZ25hdHVyZS1tb2Nr';
export const GEMINI_CALL_SIG = 'c2lnLW1vY2s=';

export const REPLY = (said) => `Hello from mock. You said: ${said}`;

// A word no other request carries, to find this request in the mock's log.
export const mark = (label) => `${label}-${randomBytes(6).toString('hex')}`;

// A test whose work starts now, at module load, so that all the tests of a
// file run concurrently; test() then reports the outcome in order.
export function eager(name, fn) {
  const p = Promise.resolve()
    .then(fn)
    .then(
      (v) => ({ v }),
      (e) => ({ e }),
    );
  test(name, async () => {
    const r = await p;
    if ('e' in r) throw r.e;
  });
}

// A request of the mock's log asked for a stream.
const isStream = (q) => q.path.includes(':streamGenerateContent') || /"stream"\s*:\s*true/.test(q.body);

// The one request the mock received whose body carries marker (and that
// asked for a stream, or not, when stream is given).
export async function upstreamRequest(marker, stream) {
  const r = await fetch(`${MOCK}/_mock/requests`);
  assert.equal(r.status, 200);
  const all = await r.json();
  const hits = all.filter((q) => q.body.includes(marker) && (stream === undefined || isStream(q) === stream));
  assert.equal(hits.length, 1, `mock requests carrying ${marker} (stream ${stream}): ${hits.length}`);
  const q = hits[0];
  q.json = JSON.parse(q.body);
  return q;
}

// Text of an OpenAI/Anthropic content value (string or text parts).
const textOf = (c) => (typeof c === 'string' ? c : (c ?? []).map((p) => p.text ?? '').join(''));

/*
 * What the mock received for one request to model m (an entry of MODELS):
 * path, query and auth header of the provider type, and the body in the
 * provider's dialect: upstream model, system prompt, the last user message
 * carrying marker, stream flag and usage request, max_tokens for
 * Anthropic, the tool definition. Returns the parsed body.
 */
export async function checkUpstream(m, marker, { stream = false, tools = false, system = true } = {}) {
  const q = await upstreamRequest(marker, stream);
  const h = q.headers;
  const b = q.json;
  const where = `${m.name} ${stream ? 'stream' : 'non-stream'}: ${q.method} ${q.path}?${q.query}`;
  assert.equal(q.method, 'POST', where);
  // No client credential ever reaches a provider; each gets its own key in
  // its own header and no other.
  const auth = {
    openai: ['authorization', `Bearer ${KEYS.openai}`],
    azure: ['api-key', KEYS.azure],
    anthropic: ['x-api-key', KEYS.anthropic],
    gemini: ['x-goog-api-key', KEYS.gemini],
  }[m.kind];
  assert.ok(auth[1], `provider key for ${m.kind} not in the environment`);
  assert.equal(h[auth[0]], auth[1], `${where}: ${auth[0]}`);
  for (const other of ['authorization', 'api-key', 'x-api-key', 'x-goog-api-key'])
    if (other !== auth[0]) assert.equal(h[other], undefined, `${where}: unexpected ${other}: ${h[other]}`);
  assert.match(h['content-type'] ?? '', /^application\/json/, where);

  const lastUser = (msgs) => {
    const u = msgs.filter((x) => x.role === 'user').at(-1);
    assert.ok(u, `${where}: no user message`);
    return u;
  };
  switch (m.kind) {
    case 'openai':
    case 'azure': {
      if (m.kind === 'openai') {
        assert.equal(q.path, '/v1/chat/completions', where);
        assert.equal(q.query, '', where);
        assert.equal(b.model, m.upstream, `${where}: model`);
      } else {
        assert.equal(q.path, `/openai/deployments/${m.upstream}/chat/completions`, where);
        assert.match(q.query, /^api-version=\d{4}-\d{2}-\d{2}(-preview)?$/, where);
      }
      if (system) {
        assert.equal(b.messages[0].role, 'system', `${where}: first message`);
        assert.equal(textOf(b.messages[0].content), SYSTEM, `${where}: system`);
      }
      assert.ok(textOf(lastUser(b.messages).content).includes(marker), `${where}: user text`);
      if (stream) {
        assert.equal(b.stream, true, `${where}: stream`);
        assert.equal(b.stream_options?.include_usage, true, `${where}: include_usage`);
      } else assert.ok(!b.stream, `${where}: stream ${b.stream}`);
      if (tools) {
        assert.equal(b.tools?.length, 1, `${where}: tools ${JSON.stringify(b.tools)}`);
        assert.equal(b.tools[0].type, 'function');
        assert.equal(b.tools[0].function.name, TOOL.name);
        assert.deepEqual(b.tools[0].function.parameters, TOOL.schema, `${where}: tool parameters`);
      }
      break;
    }
    case 'anthropic': {
      assert.equal(q.path, '/v1/messages', where);
      assert.equal(q.query, '', where);
      assert.match(h['anthropic-version'] ?? '', /^\d{4}-\d{2}-\d{2}$/, `${where}: anthropic-version`);
      assert.equal(b.model, m.upstream, `${where}: model`);
      assert.ok(Number.isInteger(b.max_tokens) && b.max_tokens > 0, `${where}: max_tokens ${b.max_tokens}`);
      if (system) assert.equal(textOf(b.system), SYSTEM, `${where}: system`);
      assert.ok(!b.messages.some((x) => x.role === 'system'), `${where}: a system message in messages`);
      assert.ok(textOf(lastUser(b.messages).content).includes(marker), `${where}: user text`);
      assert.equal(!!b.stream, stream, `${where}: stream`);
      if (tools) {
        assert.equal(b.tools?.length, 1, `${where}: tools ${JSON.stringify(b.tools)}`);
        assert.equal(b.tools[0].name, TOOL.name);
        assert.deepEqual(b.tools[0].input_schema, TOOL.schema, `${where}: input_schema`);
      }
      break;
    }
    case 'gemini': {
      const method = stream ? 'streamGenerateContent' : 'generateContent';
      assert.equal(q.path, `/v1beta/models/${m.upstream}:${method}`, where);
      assert.equal(q.query, stream ? 'alt=sse' : '', where);
      assert.ok(!/(^|&)key=/.test(q.query), `${where}: API key in the query`);
      assert.equal(b.model, undefined, `${where}: model in the body`);
      if (system)
        assert.equal(textOf(b.systemInstruction?.parts), SYSTEM, `${where}: systemInstruction`);
      const u = b.contents.filter((c) => c.role === 'user').at(-1);
      assert.ok(textOf(u?.parts).includes(marker), `${where}: user text`);
      assert.ok(!b.contents.some((c) => c.role === 'system'), `${where}: a system turn in contents`);
      if (tools) {
        const fds = (b.tools ?? []).flatMap((t) => t.functionDeclarations ?? []);
        assert.equal(fds.length, 1, `${where}: tools ${JSON.stringify(b.tools)}`);
        assert.equal(fds[0].name, TOOL.name);
        assert.deepEqual(fds[0].parametersJsonSchema ?? fds[0].parameters, TOOL.schema, `${where}: parameters`);
      }
      break;
    }
  }
  return b;
}

// Timing of a stream as the client saw it.
export function streamClock() {
  const t0 = performance.now();
  let first = null;
  return {
    tick() {
      if (first === null) first = performance.now() - t0;
    },
    done() {
      return { first, total: performance.now() - t0 };
    },
  };
}

// Chunk count and timing of a text stream: several chunks, the first one
// well before the end (the mock spaces its events gap ms apart, and there
// are at least 6 of them).
export function assertStreamed(label, chunks, { first, total }, gap) {
  assert.ok(chunks > 1, `${label}: ${chunks} chunk(s)`);
  assert.ok(first !== null && first < total - 3 * gap, `${label}: first chunk at ${first?.toFixed(0)} ms, end at ${total.toFixed(0)} ms`);
}
