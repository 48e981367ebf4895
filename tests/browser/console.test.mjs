// The admin console (/admin/ui/) in headless Chromium, driven by
// puppeteer-core, against a running stack (tests/integration/
// t_console_browser.sh starts one and sets the environment):
//   RELAY_BASE_URL  the web server (lighttpd or Caddy)
//   ADMIN_TOKEN     the stack's admin token
//   CHROMIUM        the browser (Debian's chromium)
//   SHOT_DIR        where screenshots go (looked at, never committed)
//   MEASURE_FILE    where measurements go (page weight, first paint)
// One flow, as a newcomer would: a wrong token refused, sign in, create a
// key with every field, copy its secret, use it with curl, see the request
// in the usage page, stream in the playground, disable the key and see it
// refused, switch the language.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import puppeteer from 'puppeteer-core';

const BASE = process.env.RELAY_BASE_URL;
const TOKEN = process.env.ADMIN_TOKEN;
const SHOTS = process.env.SHOT_DIR || '/tmp/relay-console-shots';
const MEASURE = process.env.MEASURE_FILE;
if (!BASE || !TOKEN) throw new Error('set RELAY_BASE_URL and ADMIN_TOKEN');
mkdirSync(SHOTS, { recursive: true });
const UI = `${BASE}/admin/ui/`;

let browser;
let page;
const consoleErrors = [];

const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
const measure = (s) => { if (MEASURE) appendFileSync(MEASURE, s + '\n'); };
const text = (sel) => page.$eval(sel, (e) => e.textContent);
const visible = (sel) => page.waitForSelector(sel, { visible: true, timeout: 10000 });
// A list the page renders again when its data arrives may detach the
// element between finding it and clicking it: find it again then.
async function clickFresh(sel) {
  for (let i = 0; ; i++) {
    try {
      await page.waitForSelector(sel, { visible: true, timeout: 10000 });
      await page.click(sel);
      return;
    } catch (e) {
      if (i >= 20 || !/detached|not clickable|No element|not an Element/i.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function curlChat(secret, stream = false) {
  const body = JSON.stringify({ model: 'demo', stream, messages: [{ role: 'user', content: 'from curl' }] });
  const out = execFileSync('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}',
    '-H', `Authorization: Bearer ${secret}`, '-H', 'Content-Type: application/json', '-d', body,
    `${BASE}/v1/chat/completions`]);
  return out.toString();
}

before(async () => {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--lang=en-US', '--disable-features=Translate,MediaRouter'],
  });
  const ctx = browser.defaultBrowserContext();
  await ctx.overridePermissions(new URL(BASE).origin, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('dialog', (d) => d.accept());
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => { await browser?.close(); });

test('console: load, offline, headers, first paint', async () => {
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url()); });
  const t0 = Date.now();
  const res = await page.goto(UI, { waitUntil: 'load' });
  const loadMs = Date.now() - t0;
  assert.equal(res.status(), 200);
  const h = res.headers();
  assert.match(h['content-security-policy'], /script-src 'self'/);
  assert.doesNotMatch(h['content-security-policy'], /unsafe-inline|unsafe-eval/);
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  const m = await page.evaluate(async () => {
    // First contentful paint may be recorded after "load": wait for it.
    const fcp = await new Promise((resolve) => {
      new PerformanceObserver((l) => {
        const e = l.getEntries().find((x) => x.name === 'first-contentful-paint');
        if (e) resolve(e);
      }).observe({ type: 'paint', buffered: true });
      setTimeout(() => resolve(null), 5000);
    });
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const bytes = nav.encodedBodySize + res.reduce((a, r) => a + (r.encodedBodySize || 0), 0);
    return { fcp: fcp ? fcp.startTime : -1, bytes, files: res.length + 1 };
  });
  measure(`console first contentful paint ${m.fcp.toFixed(0)} ms, load ${loadMs} ms, ${m.files} files, ${m.bytes} bytes`);
  assert.ok(m.fcp > 0 && m.fcp < 5000, `first paint ${m.fcp}`);
  assert.deepEqual(foreign, [], 'no request leaves the relay');
  await visible('#signin');
  assert.equal(await text('#signin h1'), 'Sign in');
  await shot('01-signin');
});

test('console: a wrong token is refused', async () => {
  await page.type('#token', 'not-the-token');
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('signin-err').textContent.length > 0);
  assert.equal(await text('#signin-err'), 'Wrong admin token.');
  assert.equal(await page.$eval('#nav', (e) => e.hidden), true);
});

let secret;

test('console: sign in; the token is nowhere but memory', async () => {
  await page.type('#token', TOKEN);
  await page.click('#signin-form button[type=submit]');
  await visible('#page-keys');
  const where = await page.evaluate(() => ({
    url: location.href, cookie: document.cookie,
    local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }),
    input: document.getElementById('token').value,
  }));
  for (const [k, v] of Object.entries(where)) assert.ok(!v.includes(TOKEN), `token in ${k}`);
});

test('console: create a key with every field, copy its secret once', async () => {
  await page.click('#key-new');
  await visible('#key-form');
  const f = async (name, v) => page.type(`#key-form [name=${name}]`, v);
  await f('name', 'browser-key');
  await f('models', 'demo');
  await f('allowed_ips', '127.0.0.0/8, ::1/128');
  await f('rpm', '600');
  await f('tpm', '1000000');
  await f('max_concurrency', '8');
  await f('daily_tokens', '5000000');
  await f('monthly_budget_usd', '25');
  await page.$eval('#key-form [name=expires_at]', (e) => { e.value = '2099-12-31T00:00'; });
  await page.select('#key-form [name=content_filter]', 'off');
  await page.click('#key-form button[type=submit]');
  await visible('#secret-box');
  const shown = await text('#secret-value');
  assert.match(shown, /^sk-relay-[0-9a-f]{48}$/);
  await page.click('#secret-copy');
  await visible('#secret-copied');
  secret = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(secret, shown, 'the clipboard holds the secret');
  await page.waitForSelector('#keys-body tr td');
  const row = await page.$eval('#keys-body tr', (tr) => tr.textContent);
  assert.match(row, /browser-key/);
  assert.match(row, /600 rpm/);
  assert.match(row, /\$25\/mo/);
  await shot('02-key-created');
  // Shown once: the list and a reload of it never carry it.
  const list = await page.evaluate(async () => document.getElementById('keys-body').textContent);
  assert.ok(!list.includes(secret));
});

test('console: the key works from curl at once; the request shows in usage', async () => {
  assert.equal(curlChat(secret), '200');
  await page.click('#nav button[data-page=usage]');
  await visible('#page-usage');
  await page.waitForFunction(() => /browser-key/.test(document.getElementById('u-body').textContent), { timeout: 10000 });
  const total = await page.$eval('#u-totals div b', (e) => e.textContent);
  assert.ok(Number(total.replace(/\D/g, '')) >= 1, `requests ${total}`);
  assert.ok(await page.$('#u-chart svg rect'), 'a chart');
  await shot('03-usage');
  // CSV export: a file with the same row.
  const dl = `${SHOTS}/download`;
  mkdirSync(dl, { recursive: true });
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dl });
  await page.click('#u-csv');
  let csv = '';
  for (let i = 0; i < 50 && !csv; i++) {
    const f = readdirSync(dl).find((n) => n.endsWith('.csv'));
    if (f) csv = readFileSync(`${dl}/${f}`, 'utf8');
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(csv, /^day,key,model,requests/);
  assert.match(csv, /,demo,1,/);
});

test('console: the playground streams with the new key and shows the relay headers', async () => {
  await page.click('#nav button[data-page=play]');
  await visible('#page-play');
  await page.waitForFunction(() => document.getElementById('p-model').options.length > 0);
  await page.select('#p-model', 'demo');
  assert.equal(await page.$eval('#p-key', (e) => e.value), secret, 'the new key is offered');
  await page.click('#p-send');
  await page.waitForFunction(() => /status 200/.test(document.getElementById('p-meta').textContent), { timeout: 15000 });
  const out = await text('#p-out');
  assert.ok(out.length > 0, 'streamed text');
  const hdrs = await text('#p-headers');
  assert.match(hdrs, /x-relay-target/);
  assert.match(hdrs, /x-request-id/);
  const rid = await page.$eval('#p-headers', (d) => {
    const dt = [...d.querySelectorAll('dt')].find((e) => e.textContent === 'x-request-id');
    return dt.nextElementSibling.textContent;
  });
  await page.waitForFunction((id) => document.getElementById('p-log').textContent.includes(id), { timeout: 10000 }, rid);
  assert.match(await text('#p-log'), /"status":200/);
  await shot('04-playground');
});

test('console: status page', async () => {
  await page.click('#nav button[data-page=status]');
  await page.waitForFunction(() => document.getElementById('s-config').textContent.length > 0);
  assert.match(await text('#s-breakers'), /demo/);
  assert.match(await text('#s-health'), /health\/ready/);
  await page.waitForFunction(() => /relay-chat/.test(document.getElementById('s-procs').textContent));
  // The wrong token of the sign-in test is a recent error (401).
  await page.waitForFunction(() => /401/.test(document.getElementById('s-errors').textContent));
  await shot('05-status');
});

test('console: the key shows its use against its limits; edit it', async () => {
  await page.click('#nav button[data-page=keys]');
  await page.waitForFunction(() => /today: [1-9]/.test(document.getElementById('keys-body').textContent), { timeout: 10000 });
  assert.ok(await page.$('#keys-body .meter i'), 'a meter against the limit');
  await page.type('#key-search', 'no-such-key');
  await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 0);
  await page.$eval('#key-search', (e) => { e.value = ''; });
  await page.type('#key-search', 'BROWSER'.toLowerCase());
  await page.waitForFunction(() => document.querySelectorAll('#keys-body tr').length === 1);
  await clickFresh('#keys-body tr .actions button'); // Edit
  await visible('#key-form');
  assert.equal(await page.$eval('#key-form [name=rpm]', (e) => e.value), '600', 'the form holds the key');
  await page.$eval('#key-form [name=rpm]', (e) => { e.value = ''; });
  await page.type('#key-form [name=rpm]', '700');
  await page.$eval('#key-form [name=allowed_ips]', (e) => { e.value = ''; }); // lifts the allowlist
  await page.click('#key-form button[type=submit]');
  await page.waitForFunction(() => /700 rpm/.test(document.getElementById('keys-body').textContent));
  assert.doesNotMatch(await text('#keys-body'), /127\.0\.0\.0\/8/);
  await shot('07-keys-use');
});

test('console: rotate shows a new secret once; the old one is refused', async () => {
  await page.$eval('#secret-hide', (e) => e.click());
  await clickFresh('#keys-body tr .actions button:nth-child(3)'); // Rotate (confirmed)
  await page.waitForFunction((old) => {
    const v = document.getElementById('secret-value').textContent;
    return /^sk-relay-/.test(v) && v !== old;
  }, {}, secret);
  const fresh = await text('#secret-value');
  assert.equal(curlChat(secret), '401');
  assert.equal(curlChat(fresh), '200');
  secret = fresh;
});

test('console: disable the key; curl is refused', async () => {
  await clickFresh('#keys-body tr button[data-act=toggle]');
  await page.waitForFunction(() => /Disabled/.test(document.getElementById('keys-body').textContent));
  assert.equal(curlChat(secret), '401');
});

test('console: credentials show the last four characters only', async () => {
  const cred = 'sk-console-cred-' + Date.now() + 'WXYZ';
  await page.click('#nav button[data-page=creds]');
  await page.waitForFunction(() => document.getElementById('c-provider').options.length > 0);
  await page.type('#c-form [name=api_key]', cred);
  await page.type('#c-form [name=label]', 'from the browser');
  await page.click('#c-form button[type=submit]');
  await page.waitForFunction(() => /WXYZ/.test(document.getElementById('c-body').textContent));
  const html = await page.content();
  assert.ok(!html.includes(cred), 'the credential is not on the page');
  assert.equal(await page.$eval('#c-form [name=api_key]', (e) => e.value), '', 'the field is cleared');
  await page.click('#c-reencrypt');
  await shot('08-credentials');
  await clickFresh('#c-body tr button.danger'); // Delete (confirmed)
  await page.waitForFunction(() => !/WXYZ/.test(document.getElementById('c-body').textContent));
});

test('console: purge the cache of a model', async () => {
  await page.click('#nav button[data-page=cache]');
  await visible('#k-form');
  await page.select('#k-scope', 'model');
  await page.type('#k-name', 'demo');
  await page.click('#k-form button[type=submit]');
  await page.waitForFunction(() => /Purged: model demo/.test(document.getElementById('k-msg').textContent));
});

test('console: delete the key (confirmed)', async () => {
  await page.click('#nav button[data-page=keys]');
  await clickFresh('#keys-body tr button.danger');
  await visible('#keys-empty');
  assert.equal(curlChat(secret), '200', 'no keys left: the relay is open again');
});

test('console: switch to Chinese and back', async () => {
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  assert.equal(await page.$eval('#nav button[data-page=keys]', (e) => e.textContent), '密钥');
  assert.match(await text('#keys-empty'), /还没有密钥/);
  await shot('06-zh');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.$eval('#nav button[data-page=keys]', (e) => e.textContent), 'Keys');
});

test('console: no script errors (CSP violations included)', () => {
  assert.deepEqual(consoleErrors.filter((e) => !/401|Failed to load resource/.test(e)), []);
});
