/* app.js - the llm-relay admin console. No framework, no build step.
 * The admin token lives in this closure only (never in a URL, a cookie,
 * localStorage or sessionStorage) and goes out as "Authorization: Bearer"
 * on calls to this origin's /admin/ API; with no cookie there is nothing a
 * cross-site page could make the browser send (no CSRF). Every value shown
 * goes through textContent, never innerHTML. */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const I18N = window.RELAY_I18N;
  let lang = localStorage.getItem("relay.lang") ||
    ((navigator.languages || [navigator.language]).some((l) => /^zh/i.test(l || "")) ? "zh" : "en");
  let token = null; // the admin token: memory only
  let page = "keys";
  let keys = [];
  let models = [];
  let lastSecret = "";
  let statusTimer = null;
  let playAbort = null;

  const t = (k, vars) => {
    let s = (I18N[lang] && I18N[lang][k]) || I18N.en[k] || k;
    if (vars) for (const v in vars) s = s.replace("{" + v + "}", vars[v]);
    return s;
  };
  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
    document.querySelectorAll("[data-i18n-ph]").forEach((e) => { e.placeholder = t(e.dataset.i18nPh); });
    $("lang").textContent = lang === "zh" ? "English" : "中文";
    document.title = (lang === "zh" ? "llm-relay 控制台" : "llm-relay console");
    if (token) render();
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const a in attrs || {}) {
      if (a === "class") e.className = attrs[a];
      else if (a === "text") e.textContent = attrs[a];
      else if (a.startsWith("on")) e.addEventListener(a.slice(2), attrs[a]);
      else if (attrs[a] !== undefined && attrs[a] !== null) e.setAttribute(a, attrs[a]);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function toast(msg) {
    const b = $("toast");
    b.textContent = msg; b.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { b.hidden = true; }, 2500);
  }
  const fmt = (n) => (Number(n) || 0).toLocaleString(lang === "zh" ? "zh-CN" : "en-US");
  const usd = (n) => (Number(n) || 0).toFixed(4);

  class ApiError extends Error {
    constructor(status, msg, retry) { super(msg); this.status = status; this.retry = retry; }
  }
  async function api(method, path, body, raw) {
    const h = { Authorization: "Bearer " + token };
    const init = { method, headers: h, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    else if (method === "POST") { h["Content-Type"] = "application/json"; init.body = "{}"; }
    let r;
    try { r = await fetch(path, init); } catch (e) { throw new ApiError(0, t("err.network")); }
    if (r.status === 401 && path !== "/admin/status") { signOut(t("err.session")); throw new ApiError(401, t("err.session")); }
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { const j = await r.json(); if (j.error && j.error.message) msg = j.error.message; } catch (e) { /* not JSON */ }
      throw new ApiError(r.status, msg, r.headers.get("Retry-After"));
    }
    if (raw) return r;
    if (r.status === 204) return null;
    return r.json();
  }

  /* --- sign in ---------------------------------------------------- */
  async function signIn(ev) {
    ev.preventDefault();
    const input = $("token");
    token = input.value.trim();
    input.value = "";
    $("signin-err").textContent = "";
    try {
      const st = await api("GET", "/admin/status");
      models = (st.config && st.config.models) || [];
      $("signin").hidden = true; $("nav").hidden = false; $("signout").hidden = false;
      show(page);
    } catch (e) {
      token = null;
      $("signin-err").textContent = e.status === 401 ? t("signin.wrong")
        : e.status === 429 ? t("signin.slow", { s: e.retry || "?" })
        : e.status === 403 ? t("signin.disabled") : e.message;
    }
  }
  function signOut(msg) {
    token = null; lastSecret = ""; keys = [];
    clearInterval(statusTimer);
    document.querySelectorAll(".page").forEach((p) => { p.hidden = true; });
    $("nav").hidden = true; $("signout").hidden = true; $("signin").hidden = false;
    $("secret-box").hidden = true; $("secret-value").textContent = ""; $("p-key").value = "";
    $("signin-err").textContent = typeof msg === "string" ? msg : "";
    $("token").focus();
  }
  function hideSecret() {
    $("secret-box").hidden = true;
    $("secret-value").textContent = "";
  }
  function show(p) {
    if (p !== page) hideSecret(); // a secret is shown once: leaving the page forgets it
    page = p;
    document.querySelectorAll("#nav button").forEach((b) => b.classList.toggle("on", b.dataset.page === p));
    document.querySelectorAll(".page").forEach((s) => { s.hidden = s.id !== "page-" + p; });
    clearInterval(statusTimer);
    render();
  }
  function render() {
    const f = { keys: loadKeys, usage: loadUsage, status: loadStatus, creds: loadCreds, play: loadPlay, cache: loadCache }[page];
    f().catch((e) => toast(e.message));
    if (page === "status") statusTimer = setInterval(() => { if ($("s-auto").checked) loadStatus().catch(() => {}); }, 5000);
  }

  /* --- keys -------------------------------------------------------- */
  function keyState(k) {
    if (k.disabled) return "disabled";
    if (k.expires_at && k.expires_at * 1000 <= Date.now()) return "expired";
    return "active";
  }
  function limitsText(k) {
    const p = [];
    if (k.rpm) p.push(k.rpm + " rpm");
    if (k.tpm) p.push(fmt(k.tpm) + " tpm");
    if (k.max_concurrency) p.push("×" + k.max_concurrency);
    if (k.daily_tokens) p.push(fmt(k.daily_tokens) + "/d");
    if (k.monthly_budget_usd) p.push("$" + k.monthly_budget_usd + "/mo");
    if (k.allowed_ips && k.allowed_ips.length) p.push(k.allowed_ips.join(" "));
    if (k.expires_at) p.push(t("keys.expires") + " " + new Date(k.expires_at * 1000).toISOString().slice(0, 16).replace("T", " "));
    if (k.content_filter) p.push("filter: " + k.content_filter);
    return p.length ? p.join(" · ") : t("keys.nolimit");
  }
  function meter(used, limit) {
    if (!limit) return null;
    const i = el("i");
    const f = Math.min(1, used / limit);
    i.style.width = (f * 100).toFixed(0) + "%";
    if (f >= 0.9) i.className = "hot";
    return el("span", { class: "meter", title: used + " / " + limit }, i);
  }
  function useCell(k) {
    const u = k.use;
    if (!u) return el("td", { class: "use", text: "–" });
    return el("td", { class: "use" },
      el("div", {}, t("keys.use_min", { r: fmt(u.minute_requests), t: fmt(u.minute_tokens) }), meter(u.minute_requests, k.rpm)),
      el("div", {}, t("keys.use_day", { t: fmt(u.day_tokens) }), meter(u.day_tokens, k.daily_tokens)),
      el("div", {}, t("keys.use_month", { c: usd(u.month_usd) }), meter(u.month_usd, k.monthly_budget_usd)));
  }
  async function loadKeys() {
    const r = await api("GET", "/admin/keys?use=1");
    keys = r.data || [];
    drawKeys();
  }
  function drawKeys() {
    const q = $("key-search").value.trim().toLowerCase();
    const st = $("key-filter").value;
    const body = $("keys-body");
    body.replaceChildren();
    for (const k of keys) {
      const s = keyState(k);
      if (st && s !== st) continue;
      if (q && !(k.name || "").toLowerCase().includes(q) && !k.id.includes(q)) continue;
      const act = el("div", { class: "actions" },
        el("button", { text: t("keys.editbtn"), onclick: () => editKey(k) }),
        el("button", { text: k.disabled ? t("keys.enable") : t("keys.disable"), "data-act": "toggle",
          onclick: () => keyAction(k, k.disabled ? "enable" : "disable") }),
        el("button", { text: t("keys.rotate"), onclick: () => rotateKey(k) }),
        el("button", { class: "danger", text: t("keys.delete"), onclick: () => deleteKey(k) }));
      body.append(el("tr", { "data-id": k.id },
        el("td", { text: k.name || "" }), el("td", {}, el("code", { text: k.id })),
        el("td", {}, el("span", { class: "pill " + s, text: t("keys." + s) })),
        el("td", { text: k.models && k.models.length ? k.models.join(", ") : t("keys.any") }),
        el("td", { text: limitsText(k) }), useCell(k), el("td", {}, act)));
    }
    $("keys-empty").hidden = keys.length > 0;
  }
  let editing = null;
  function openKeyForm(k) {
    editing = k;
    const f = $("key-form");
    f.reset();
    $("key-form-err").textContent = "";
    $("key-form-title").textContent = k ? t("keys.edit") + " " + k.id : t("keys.new");
    if (k) {
      f.name.value = k.name || "";
      f.models.value = (k.models || []).join(", ");
      f.allowed_ips.value = (k.allowed_ips || []).join(", ");
      for (const n of ["rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_budget_usd"]) f[n].value = k[n] || "";
      f.expires_at.value = k.expires_at ? new Date(k.expires_at * 1000).toISOString().slice(0, 16) : "";
      f.content_filter.value = k.content_filter || "";
    }
    f.hidden = false;
    f.name.focus();
  }
  const editKey = (k) => openKeyForm(k);
  function keyBody(f) {
    const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
    const b = { name: f.name.value.trim() };
    const m = list(f.models.value), ips = list(f.allowed_ips.value);
    if (m.length || editing) b.models = m.length ? m : null;
    if (ips.length || editing) b.allowed_ips = ips.length ? ips : null;
    for (const n of ["rpm", "tpm", "max_concurrency", "daily_tokens"]) {
      if (f[n].value !== "") b[n] = parseInt(f[n].value, 10); else if (editing) b[n] = 0;
    }
    if (f.monthly_budget_usd.value !== "") b.monthly_budget_usd = parseFloat(f.monthly_budget_usd.value);
    else if (editing) b.monthly_budget_usd = 0;
    if (f.expires_at.value) b.expires_at = f.expires_at.value + ":00Z";
    else if (editing) b.expires_at = 0;
    if (f.content_filter.value) b.content_filter = f.content_filter.value;
    else if (editing) b.content_filter = null;
    return b;
  }
  async function saveKey(ev) {
    ev.preventDefault();
    const f = $("key-form");
    try {
      const b = keyBody(f);
      if (editing) {
        await api("PATCH", "/admin/keys/" + encodeURIComponent(editing.id), b);
        toast(t("keys.saved"));
      } else {
        const r = await api("POST", "/admin/keys", b);
        showSecret(r.secret);
        toast(t("keys.created"));
      }
      f.hidden = true; editing = null;
      await loadKeys();
    } catch (e) { $("key-form-err").textContent = e.message; }
  }
  function showSecret(s) {
    lastSecret = s;
    $("p-key").value = s;
    $("secret-value").textContent = s;
    $("secret-copied").hidden = true;
    $("secret-box").hidden = false;
  }
  async function copySecret() {
    const s = $("secret-value").textContent;
    try { await navigator.clipboard.writeText(s); } catch (e) {
      const r = document.createRange(); r.selectNodeContents($("secret-value"));
      const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r);
      document.execCommand("copy"); sel.removeAllRanges();
    }
    $("secret-copied").hidden = false;
  }
  async function keyAction(k, action) {
    try { await api("POST", "/admin/keys/" + encodeURIComponent(k.id) + "/" + action); await loadKeys(); } catch (e) { toast(e.message); }
  }
  async function rotateKey(k) {
    if (!confirm(t("keys.confirm_rotate", { n: k.name || k.id }))) return;
    try { const r = await api("POST", "/admin/keys/" + encodeURIComponent(k.id) + "/rotate"); showSecret(r.secret); await loadKeys(); } catch (e) { toast(e.message); }
  }
  async function deleteKey(k) {
    if (!confirm(t("keys.confirm_delete", { n: k.name || k.id }))) return;
    try { await api("DELETE", "/admin/keys/" + encodeURIComponent(k.id)); hideSecret(); toast(t("keys.deleted")); await loadKeys(); } catch (e) { toast(e.message); }
  }

  /* --- usage ------------------------------------------------------- */
  const day = (d) => d.toISOString().slice(0, 10);
  function usageQuery() {
    if (!$("u-from").value) { const d = new Date(); $("u-to").value = day(d); d.setUTCDate(d.getUTCDate() - 6); $("u-from").value = day(d); }
    return "from=" + encodeURIComponent($("u-from").value) + "&to=" + encodeURIComponent($("u-to").value);
  }
  async function loadUsage() {
    const r = await api("GET", "/admin/usage?" + usageQuery());
    const rows = r.data || [];
    const names = {};
    for (const k of keys) names[k.id] = k.name;
    const body = $("u-body");
    body.replaceChildren();
    const tot = { requests: 0, tokens: 0, cost_usd: 0, cache_hits: 0 };
    for (const x of rows) {
      tot.requests += x.requests || 0; tot.tokens += (x.tokens_in || 0) + (x.tokens_out || 0);
      tot.cost_usd += x.cost_usd || 0; tot.cache_hits += x.cache_hits || 0;
      body.append(el("tr", {}, el("td", { text: x.day }),
        el("td", { text: x.key + (names[x.key] ? " (" + names[x.key] + ")" : "") }), el("td", { text: x.model }),
        el("td", { class: "num", text: fmt(x.requests) }), el("td", { class: "num", text: fmt(x.tokens_in) }),
        el("td", { class: "num", text: fmt(x.tokens_out) }), el("td", { class: "num", text: fmt(x.cache_hits) }),
        el("td", { class: "num", text: usd(x.cost_usd) })));
    }
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: t("u.empty") })));
    $("u-totals").replaceChildren(
      el("div", {}, el("b", { text: fmt(tot.requests) }), t("u.requests")),
      el("div", {}, el("b", { text: fmt(tot.tokens) }), t("u.tokens")),
      el("div", {}, el("b", { text: fmt(tot.cache_hits) }), t("u.hits")),
      el("div", {}, el("b", { text: "$" + usd(tot.cost_usd) }), t("u.cost")));
    drawChart(rows, names);
  }
  function drawChart(rows, names) {
    const by = $("u-group").value, metric = $("u-metric").value;
    const sums = new Map();
    if (by === "day") { // every day of the range, empty ones too
      const d = new Date($("u-from").value + "T00:00:00Z"), end = new Date($("u-to").value + "T00:00:00Z");
      for (let i = 0; d <= end && i < 400; i++) { sums.set(day(d), 0); d.setUTCDate(d.getUTCDate() + 1); }
    }
    for (const x of rows) {
      const k = by === "day" ? x.day : by === "key" ? (names[x.key] || x.key) : x.model;
      const v = metric === "tokens" ? (x.tokens_in || 0) + (x.tokens_out || 0) : (x[metric] || 0);
      sums.set(k, (sums.get(k) || 0) + v);
    }
    const ns = "http://www.w3.org/2000/svg";
    const W = 900, H = 240, pad = 40, entries = [...sums.entries()];
    const max = Math.max(1e-9, ...entries.map((e) => e[1]));
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("role", "img");
    const bw = entries.length ? (W - pad) / entries.length : 0;
    entries.forEach(([k, v], i) => {
      const h = (v / max) * (H - 2 * pad);
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("class", "bar-rect");
      r.setAttribute("x", pad + i * bw + bw * 0.1); r.setAttribute("width", Math.max(1, bw * 0.8));
      r.setAttribute("y", H - pad - h); r.setAttribute("height", h);
      const tt = document.createElementNS(ns, "title"); tt.textContent = k + ": " + (metric === "cost_usd" ? usd(v) : fmt(v));
      r.append(tt); svg.append(r);
      if (entries.length <= 31 || i % Math.ceil(entries.length / 31) === 0) {
        const tx = document.createElementNS(ns, "text");
        tx.setAttribute("x", pad + i * bw + bw / 2); tx.setAttribute("y", H - pad + 14); tx.setAttribute("text-anchor", "middle");
        tx.textContent = by === "day" ? k.slice(5) : String(k).slice(0, 14);
        svg.append(tx);
      }
    });
    const top = document.createElementNS(ns, "text");
    top.setAttribute("x", 2); top.setAttribute("y", pad - 8);
    top.textContent = metric === "cost_usd" ? "$" + usd(max) : fmt(max);
    svg.append(top);
    $("u-chart").replaceChildren(svg);
  }
  async function exportCsv() {
    try {
      const r = await api("GET", "/admin/usage?" + usageQuery() + "&format=csv", undefined, true);
      const blob = await r.blob();
      const a = el("a", { href: URL.createObjectURL(blob), download: "usage-" + $("u-from").value + "-" + $("u-to").value + ".csv" });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) { toast(e.message); }
  }

  /* --- status ------------------------------------------------------ */
  function dl(target, pairs) {
    $(target).replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  }
  async function loadStatus() {
    const st = await api("GET", "/admin/status");
    const c = st.config || {};
    models = c.models || [];
    const mc = st.memcached || {};
    dl("s-config", [[t("s.source"), c.source], [t("s.generation"), c.generation], [t("s.models"), models.length],
      ["memcached", (mc.servers || []).join(", ") + " — " + (mc.ok ? "ok" : (mc.error || "down"))]]);
    $("s-providers").replaceChildren(...(c.providers || []).map((p) => el("tr", {},
      el("td", { text: p.name }), el("td", { text: p.type }), el("td", { text: p.base_url }), el("td", { class: "num", text: p.api_keys }))));
    const rows = [];
    const br = st.breakers || {}, tg = c.targets || {};
    for (const m of models) {
      (tg[m] || []).forEach((x, i) => {
        // A wildcard model's breakers are per provider ("p/*").
        const s = br[x] || br[x.split("/")[0] + "/*"] || "-";
        rows.push(el("tr", {}, el("td", { text: i === 0 ? m : "" }), el("td", { text: (i + 1) + ". " + x }),
          el("td", {}, el("span", { class: "pill " + s, text: s }))));
      });
    }
    $("s-breakers").replaceChildren(...rows);
    const b = st.benched_keys || [];
    $("s-benched").replaceChildren(...(b.length ? b.map((k) => el("tr", {}, el("td", { text: k.provider }),
      el("td", {}, el("code", { text: k.key })), el("td", { text: k.reason }), el("td", { class: "num", text: k.seconds_left })))
      : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("s.none") }))]));
    const [procs, errs] = await Promise.all([api("GET", "/admin/processes"), api("GET", "/admin/logs?errors=1&n=50")]);
    $("s-procs").replaceChildren(...(procs.data || []).map((p) => el("tr", {}, el("td", { text: p.prog }),
      el("td", { class: "num", text: p.pid }),
      el("td", {}, el("span", { class: "pill " + (p.alive ? "closed" : "open"), text: t(p.alive ? "s.alive" : "s.dead") })))));
    const el2 = errs.data || [];
    $("s-errors").replaceChildren(...(el2.length ? el2.map((x) => el("tr", {}, el("td", { text: (x.ts || "").replace("T", " ").slice(0, 19) }),
      el("td", {}, el("span", { class: "pill " + (x.status >= 500 ? "open" : "half_open"), text: x.status })),
      el("td", { text: x.route || "" }), el("td", { text: x.model || "" }), el("td", { text: x.key || "" }),
      el("td", { text: x.provider || "" }), el("td", {}, el("code", { text: x.id || "" }))))
      : [el("tr", {}, el("td", { colspan: 7, class: "muted", text: t("s.noerrors") }))]));
    try {
      const h = await fetch("/health/ready", { cache: "no-store", credentials: "omit" });
      let j = {};
      try { j = await h.json(); } catch (e) { /* not JSON */ }
      const pairs = [["/health/ready", h.status]];
      for (const k of Object.keys(j)) pairs.push([k, typeof j[k] === "object" ? JSON.stringify(j[k]) : j[k]]);
      dl("s-health", pairs);
    } catch (e) { dl("s-health", [["/health/ready", t("err.network")]]); }
    $("s-when").textContent = t("s.updated", { t: new Date().toLocaleTimeString() });
    $("s-err").textContent = "";
  }

  /* --- credentials ------------------------------------------------- */
  async function loadCreds() {
    const [r, st] = await Promise.all([api("GET", "/admin/credentials"), api("GET", "/admin/status")]);
    const sel = $("c-provider"), cur = sel.value;
    sel.replaceChildren(...((st.config && st.config.providers) || []).map((p) => el("option", { value: p.name, text: p.name + " (" + p.type + ")" })));
    if (cur) sel.value = cur;
    $("c-body").replaceChildren(...(r.data || []).map((c) => el("tr", {}, el("td", {}, el("code", { text: c.id })),
      el("td", { text: c.provider }), el("td", { text: c.label || "" }), el("td", {}, el("code", { text: "…" + (c.last4 || "") })),
      el("td", { text: c.key_id || "" }),
      el("td", {}, el("button", { class: "danger", text: t("keys.delete"), onclick: async () => {
        if (!confirm(t("c.confirm_delete", { n: c.id }))) return;
        try { await api("DELETE", "/admin/credentials/" + encodeURIComponent(c.id)); await loadCreds(); } catch (e) { toast(e.message); }
      } })))));
  }
  async function addCred(ev) {
    ev.preventDefault();
    const f = $("c-form");
    $("c-err").textContent = "";
    try {
      const b = { provider: f.provider.value, api_key: f.api_key.value };
      if (f.label.value) b.label = f.label.value;
      await api("POST", "/admin/credentials", b);
      f.api_key.value = ""; f.label.value = "";
      await loadCreds();
    } catch (e) { $("c-err").textContent = e.message; }
  }
  async function reencrypt() {
    try { const r = await api("POST", "/admin/credentials/reencrypt"); toast(t("c.reencrypted", { n: r.reencrypted })); await loadCreds(); } catch (e) { toast(e.message); }
  }

  /* --- playground -------------------------------------------------- */
  async function loadPlay() {
    if (!models.length) { const st = await api("GET", "/admin/status"); models = (st.config && st.config.models) || []; }
    const sel = $("p-model"), cur = sel.value;
    sel.replaceChildren(...models.map((m) => el("option", { value: m, text: m })));
    if (cur && models.includes(cur)) sel.value = cur;
    if (!$("p-key").value && lastSecret) $("p-key").value = lastSecret;
  }
  async function play(ev) {
    ev.preventDefault();
    const out = $("p-out"), stream = $("p-stream").checked, key = $("p-key").value.trim();
    out.textContent = ""; $("p-meta").textContent = ""; $("p-headers").replaceChildren(); $("p-log").textContent = "";
    playAbort = new AbortController();
    const h = { "Content-Type": "application/json" };
    if (key) h.Authorization = "Bearer " + key;
    const t0 = performance.now();
    let first = 0, r;
    $("p-send").disabled = true;
    try {
      r = await fetch("/v1/chat/completions", { method: "POST", headers: h, credentials: "omit", cache: "no-store", signal: playAbort.signal,
        body: JSON.stringify({ model: $("p-model").value, stream, messages: [{ role: "user", content: $("p-msg").value }] }) });
      const pairs = [];
      r.headers.forEach((v, k) => { if (/^x-(relay|request-id|ratelimit)/i.test(k)) pairs.push([k, v]); });
      pairs.sort();
      dl("p-headers", pairs);
      if (!r.ok || !stream) {
        const txt = await r.text(); first = performance.now();
        try { const j = JSON.parse(txt); out.textContent = j.choices ? j.choices[0].message.content : JSON.stringify(j, null, 2); } catch (e) { out.textContent = txt; }
      } else {
        const rd = r.body.getReader(), dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await rd.read();
          if (done) break;
          if (!first) first = performance.now();
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i).trim(); buf = buf.slice(i + 1);
            if (!line.startsWith("data:")) continue;
            const d = line.slice(5).trim();
            if (d === "[DONE]") continue;
            try { const j = JSON.parse(d); const c = j.choices && j.choices[0] && j.choices[0].delta; if (c && c.content) out.textContent += c.content;
              if (j.error) out.textContent += "\n[" + (j.error.message || "error") + "]"; } catch (e) { /* partial */ }
          }
        }
      }
    } catch (e) { if (e.name !== "AbortError") out.textContent += "\n" + t("err.network"); }
    $("p-send").disabled = false;
    if (r) showLogLine(r.headers.get("x-request-id"));
    $("p-meta").textContent = t("p.meta", { s: r ? r.status : "-", f: Math.round((first || performance.now()) - t0), t: Math.round(performance.now() - t0) });
  }

  // The access log line is written when the request ends: look a few times.
  async function showLogLine(id) {
    const out = $("p-log");
    out.textContent = "";
    if (!id || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) return;
    for (let i = 0; i < 10; i++) {
      try {
        const r = await api("GET", "/admin/logs?id=" + encodeURIComponent(id) + "&n=1");
        if (r.data && r.data.length) { out.textContent = JSON.stringify(r.data[0]); return; }
      } catch (e) { break; }
      await new Promise((res) => setTimeout(res, 200));
    }
    out.textContent = t("p.nolog");
  }

  /* --- cache ------------------------------------------------------- */
  async function loadCache() {
    if (!keys.length) { try { keys = (await api("GET", "/admin/keys")).data || []; } catch (e) { /* keep */ } }
    const scope = $("k-scope").value;
    $("k-name").disabled = scope === "all";
    const opts = scope === "model" ? models : keys.map((k) => k.id);
    $("k-names").replaceChildren(...opts.map((v) => el("option", { value: v })));
  }
  async function purge(ev) {
    ev.preventDefault();
    const scope = $("k-scope").value, name = $("k-name").value.trim();
    if (scope === "all" && !confirm(t("k.confirm_all"))) return;
    const b = scope === "all" ? { all: true } : { [scope]: name };
    try { const r = await api("POST", "/admin/cache/purge", b); $("k-msg").textContent = t("k.done", { s: r.purged + (r.name ? " " + r.name : "") }); }
    catch (e) { $("k-msg").textContent = ""; toast(e.message); }
  }

  /* --- wiring ------------------------------------------------------ */
  document.addEventListener("DOMContentLoaded", () => {
    applyLang();
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut());
    $("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("relay.lang", lang); applyLang(); });
    document.querySelectorAll("#nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.page)));
    $("key-search").addEventListener("input", drawKeys);
    $("key-filter").addEventListener("change", drawKeys);
    $("key-new").addEventListener("click", () => openKeyForm(null));
    $("key-cancel").addEventListener("click", () => { $("key-form").hidden = true; editing = null; });
    $("key-form").addEventListener("submit", saveKey);
    $("secret-copy").addEventListener("click", copySecret);
    $("secret-hide").addEventListener("click", hideSecret);
    $("u-load").addEventListener("click", () => loadUsage().catch((e) => toast(e.message)));
    $("u-group").addEventListener("change", () => loadUsage().catch((e) => toast(e.message)));
    $("u-metric").addEventListener("change", () => loadUsage().catch((e) => toast(e.message)));
    $("u-csv").addEventListener("click", exportCsv);
    $("c-form").addEventListener("submit", addCred);
    $("c-reencrypt").addEventListener("click", reencrypt);
    $("p-form").addEventListener("submit", play);
    $("p-stop").addEventListener("click", () => playAbort && playAbort.abort());
    $("k-scope").addEventListener("change", () => loadCache());
    $("k-form").addEventListener("submit", purge);
    $("token").focus();
  });
})();
