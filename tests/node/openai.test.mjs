// The official openai SDK against a running relay.
// RELAY_BASE_URL: the web server in front of the relay (http://127.0.0.1:PORT)
// MOCK_URL: the mock upstream behind it, for /_mock/stats.
// Run by tests/integration/run.sh (node --test tests/node/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI, { APIError } from 'openai';

const BASE = process.env.RELAY_BASE_URL;
const MOCK = process.env.MOCK_URL;
if (!BASE || !MOCK) throw new Error('set RELAY_BASE_URL and MOCK_URL (tests/integration/run.sh does)');

const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
const user = (content) => [{ role: 'user', content }];
const REPLY = (said) => `Hello from mock. You said: ${said}`;

async function mockStats() {
  const r = await fetch(`${MOCK}/_mock/stats`);
  assert.equal(r.status, 200);
  return r.json();
}

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('non-stream create: content, usage, id', async () => {
  const r = await client.chat.completions.create({ model: 'demo', messages: user('Hello SDK') });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, REPLY('Hello SDK'));
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('withResponse: relay headers visible to SDK users', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'demo', messages: user('headers') })
    .withResponse();
  assert.equal(data.choices[0].message.content, REPLY('headers'));
  assert.match(response.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  assert.equal(response.headers.get('x-relay-target'), 'demo/demo');
});

test('stream: chunks assemble to the reply, first chunk before the end', async () => {
  const said = 'Stream SDK [[mock events=6 gap_ms=150]]';
  const t0 = performance.now();
  const stream = await client.chat.completions.create({ model: 'demo', messages: user(said), stream: true });
  let text = '';
  let first = null;
  let chunks = 0;
  let finish = null;
  for await (const chunk of stream) {
    if (first === null) first = performance.now() - t0;
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  const total = performance.now() - t0;
  assert.equal(chunks, 8); // role + 6 content + finish
  assert.equal(finish, 'stop');
  assert.ok(REPLY(said).startsWith(text) && text.startsWith('Hello from mock.'), `text: ${text}`);
  assert.ok(first < total - 500, `first chunk at ${first.toFixed(0)} ms, total ${total.toFixed(0)} ms`);
});

test('stream: full reply text equals the non-stream reply', async () => {
  const said = 'Same words both ways';
  const whole = await client.chat.completions.create({ model: 'demo', messages: user(said) });
  const stream = await client.chat.completions.create({ model: 'demo', messages: user(said), stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(text, REPLY(said));
});

test('stream with stream_options.include_usage: a usage chunk arrives', async () => {
  const stream = await client.chat.completions.create({
    model: 'demo',
    messages: user('usage [[mock events=3]]'),
    stream: true,
    stream_options: { include_usage: true },
  });
  let usage = null;
  let last = null;
  for await (const chunk of stream) {
    last = chunk;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(usage, 'no usage chunk');
  assert.equal(last.choices.length, 0, 'the usage chunk is the last one, without choices');
  assert.ok(usage.completion_tokens > 0);
});

test('models.list contains demo; models.retrieve', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('demo'), `ids: ${ids}`);
  const m = await client.models.retrieve('demo');
  assert.equal(m.id, 'demo');
  assert.equal(m.object, 'model');
});

test('unknown model: APIError 404 model_not_found', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: user('hi') }), (e) => {
    assert.ok(e instanceof APIError, `not an APIError: ${e}`);
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.match(e.requestID ?? '', /^[0-9a-f]{32}$/);
    return true;
  });
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => e instanceof APIError && e.status === 404);
});

test('bad request: APIError 400', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'demo' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e}`);
    assert.equal(e.status, 400);
    assert.ok(e.message.length > 0);
    return true;
  });
});

test('upstream 500 surfaces as APIError 500', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'demo', messages: user('boom [[mock status=500]]') }),
    (e) => {
      assert.ok(e instanceof OpenAI.InternalServerError, `got ${e}`);
      assert.equal(e.status, 500);
      return true;
    },
  );
  // The same for a stream request: the error comes before any event.
  await assert.rejects(
    client.chat.completions.create({ model: 'demo', messages: user('boom [[mock status=500]]'), stream: true }),
    (e) => e instanceof APIError && e.status === 500,
  );
});

test('upstream 429 surfaces as RateLimitError with retry-after', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'demo', messages: user('slow [[mock status=429 retry_after=7]]') }),
    (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, `got ${e}`);
      assert.equal(e.headers.get('retry-after'), '7');
      return true;
    },
  );
});

test('mid-stream upstream reset raises from the iterator', async () => {
  const stream = await client.chat.completions.create({
    model: 'demo',
    messages: user('die [[mock events=6 reset_after=3]]'),
    stream: true,
  });
  let chunks = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of stream) chunks++;
    })(),
    (e) => {
      assert.ok(e instanceof Error, `got ${e}`);
      return true;
    },
  );
  assert.equal(chunks, 3, 'the events before the reset arrive first');
});

test('mid-stream upstream timeout raises from the iterator', async () => {
  // provider "slow" of the shared stack: idle_ms 1000; the mock stalls 2.5 s
  // between events (3 gaps).
  const stream = await client.chat.completions.create(
    { model: 'slow', messages: user('stall [[mock events=1 gap_ms=2500]]'), stream: true },
    { timeout: 9000 },
  );
  const t0 = performance.now();
  await assert.rejects((async () => {
    for await (const _ of stream);
  })());
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `the stall ended the stream after ${ms.toFixed(0)} ms, want about idle_ms (1000)`);
});

test('abort via AbortController cancels the upstream', async () => {
  const before = await mockStats();
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'demo', messages: user('abort me [[mock events=20 gap_ms=500]]'), stream: true },
    { signal: ac.signal },
  );
  let chunks = 0;
  const t0 = performance.now();
  // openai's Stream ends its iterator quietly on an abort (or throws an
  // abort error, depending on timing): either way no more chunks.
  try {
    for await (const _ of stream) {
      if (++chunks === 2) ac.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `got ${e}`);
  }
  assert.equal(chunks, 2);
  const st = await waitFor(
    async () => {
      const s = await mockStats();
      return s.streams_aborted > before.streams_aborted ? s : null;
    },
    3000,
    'streams_aborted to increment',
  );
  const ms = performance.now() - t0;
  assert.ok(ms < 4000, `upstream cancelled ${ms.toFixed(0)} ms after the abort`);
  assert.equal(st.streams_completed, before.streams_completed, 'the upstream stream did not run to the end');
});
