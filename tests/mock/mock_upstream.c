/*
 * mock_upstream.c - fake LLM provider for llm-relay tests and benchmarks.
 *
 * Speaks the documented wire formats of:
 *   - OpenAI Chat Completions  POST .../chat/completions  (also Azure
 *     /openai/deployments/{dep}/chat/completions?api-version=...)
 *   - Anthropic Messages       POST .../v1/messages
 *   - Google Gemini            POST .../models/{m}:generateContent
 *                              POST .../models/{m}:streamGenerateContent[?alt=sse]
 *   - token counting           POST .../v1/messages/count_tokens
 *                              POST .../models/{m}:countTokens
 *   - OpenAI model list        GET  .../models
 *   - control                  GET /_mock/requests, GET /_mock/stats,
 *                              POST /_mock/reset, POST /_mock/keys
 * and misbehaves on demand via "[[mock k=v ...]]" in the request body or
 * "x-mock-<k>: v" request headers (header wins).  See tests/mock/README.md.
 *
 * Design: one thread, epoll (edge triggered), non-blocking sockets, HTTP/1.1
 * keep-alive, a per-connection output queue, a min-heap of per-connection
 * timers (delays, gaps, drip).  A response is a "plan": a header block plus
 * a list of body segments (SSE events) that a small state machine emits on
 * schedule.  Only libc and jansson are used.
 *
 * Usage: mock_upstream -l 127.0.0.1:PORT [-p PORTFILE] [-k KEY] [-q]
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* limits                                                              */
/* ------------------------------------------------------------------ */
#define HDR_MAX (64 * 1024)
#define BODY_MAX (64LL * 1024 * 1024)
#define IN_MAX ((size_t)(HDR_MAX + BODY_MAX + 16 * 1024 * 1024))
#define MAX_HDRS 128
#define IN_CHUNK 16384
#define OUT_HIGH (256 * 1024)
#define LOG_MAX 256
#define LOG_BODY_MAX (64 * 1024)
#define FAIL_KEYS_MAX 1024
#define SNIPPET_MAX 200

enum { P_OPENAI, P_AZURE, P_ANTH, P_GEMINI, P_RESP }; /* P_RESP: /v1/responses */
enum { END_ABORT, END_FIN, END_RESET }; /* how a connection is closed */
enum { KILL_NONE, KILL_RESET, KILL_FIN };

/* ------------------------------------------------------------------ */
/* small utilities                                                     */
/* ------------------------------------------------------------------ */
typedef struct {
	char *p;
	size_t len, cap;
} sb_t;

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("mock_upstream: out of memory\n", stderr);
		abort();
	}
	return q;
}

static void
sb_reserve(sb_t *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t nc = b->cap ? b->cap : 256;
	while (nc < b->len + extra + 1)
		nc *= 2;
	b->p = xrealloc(b->p, nc);
	b->cap = nc;
}

static void
sb_add(sb_t *b, const void *d, size_t n)
{
	sb_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void
sb_adds(sb_t *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_free(sb_t *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

__attribute__((format(printf, 2, 3))) static void
sb_printf(sb_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	sb_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Append compact JSON of j (consumed) to b. */
static void
sb_json(sb_t *b, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	sb_adds(b, s ? s : "null");
	free(s);
	json_decref(j);
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && memcmp(s + a - b, suf, b) == 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static int
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	int len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Copy s to out replacing invalid UTF-8 bytes with '?'. */
static void
utf8_clean(sb_t *out, const char *s, size_t n)
{
	size_t i = 0;
	sb_reserve(out, n);
	while (i < n) {
		int k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0) {
			sb_add(out, "?", 1);
			i++;
		} else {
			sb_add(out, s + i, (size_t)k);
			i += (size_t)k;
		}
	}
}

/* A JSON string from arbitrary bytes (never NULL). */
static json_t *
jstr(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	sb_t b = {0};
	utf8_clean(&b, s, n);
	j = json_stringn(b.p ? b.p : "", b.len);
	sb_free(&b);
	return j ? j : json_string("");
}

/* ------------------------------------------------------------------ */
/* data structures                                                     */
/* ------------------------------------------------------------------ */
typedef struct {
	char *name, *value;
} hdr_t;

typedef struct {
	char *hbuf; /* private copy of the header block, NUL-split in place */
	char *method, *path, *query;
	int minor;
	hdr_t h[MAX_HDRS];
	int nh;
	size_t hdr_len; /* bytes of input taken by the header block */
	int chunked, expect100, sent100;
	long long clen;
	size_t ck_pos, ck_end; /* chunked body scanner state */
	long long ck_total;
	int ck_trailers;
	const char *body;
	size_t blen, consumed;
	char *body_own;
} req_t;

typedef struct {
	char *p;
	size_t n;
} seg_t;

typedef struct {
	int active, done, timer_pending, head_sent, is_stream, counted;
	int chunked, next;
	size_t drip_off;
	int gap_ms, first_ms, drip_ms, kill_after, kill;
	sb_t head;
	seg_t *segs;
	int nseg, cap;
} plan_t;

typedef struct conn {
	int fd;
	struct conn *prev, *next;
	sb_t in, out;
	size_t out_off;
	req_t req;
	plan_t plan;
	int hidx;
	long long t_due;
	unsigned peer_eof : 1, in_dead : 1, rd_blocked : 1, hang : 1,
	    close_after : 1;
} conn_t;

typedef struct {
	int status, retry_after, delay_ms, hang, events, gap_ms, first_ms;
	int reset_after, close_after, drip_ms, garbage, size, error_after;
	int tool, thinking, usage, fail_first, split_ph;
	int tool_once; /* tool, unless the last turn carries a tool result */
	/* reasoning_content=1 (OpenAI chat): answer as DeepSeek, Kimi, GLM
	 * and Qwen do in thinking mode - the thinking as reasoning_content
	 * (message field; a stream delta before the answer) - and refuse,
	 * as DeepSeek does, an assistant tool-call message that lacks it. */
	int reasoning_content;
	char key[64];
	/* call=NAME arg=VALUE: a call to the request's own tool NAME (any
	 * case) with its first required property set to VALUE; once the
	 * conversation ends in that tool's result, a text answer quoting it
	 * ("Tool said: ..."): an agent's tool round trip. */
	char call[64], arg[64];
} dir_t;

typedef struct {
	sb_t text;
	size_t *st; /* piece i = text[st[i] .. st[i+1] or len) */
	int n, cap;
} pieces_t;

typedef struct {
	conn_t *c;
	req_t *r;
	int prov, stream, include_usage, sse;
	json_t *root;
	const char *tool;
	sb_t said; /* call=: the tool result the conversation ended in */
	sb_t model, extra, last_user, prefix;
	dir_t d;
	pieces_t pc;
	long long P;
	long long cached; /* prompt tokens served from the mock's prompt
			     cache (same key saw the same prefix before) */
	int C;
	unsigned long long id;
	long long created;
	char idstr[64];
	/* the tool call's arguments, whole and in NFRAGS stream pieces
	 * (NULL: TOOL_ARGS): call= sets them, and split_ph=1 with tool=1
	 * echoes the prompt ({"said": ...}) cut inside a placeholder. */
	char *targs, *tfrag[3];
	int reasoning, enc; /* Responses: "reasoning" asked; its
			       encrypted_content included */
	long long seq; /* Responses: the next sequence_number */
} gen_t;

/* ------------------------------------------------------------------ */
/* globals                                                             */
/* ------------------------------------------------------------------ */
static int g_ep = -1, g_lfd = -1, g_sfd = -1, g_spare = -1;
static int g_quiet;
static char g_key_buf[4096]; /* accepted keys, comma-separated */
static const char *g_key; /* NULL: any key (no checks) */
static char g_det_mode[16] = "ok"; /* the detector route: ok, status, hang, garbage, offsets */
/* prompt_cache(): the (key, first message) hashes seen. */
#define PCACHE_MAX 1024
static unsigned long long g_pcache[PCACHE_MAX];
static int g_pcache_n, g_pcache_pos;
static conn_t *g_conns;
static conn_t **g_heap;
static int g_heap_n, g_heap_cap;
static unsigned long long g_idseq;
static int g_tag_listen, g_tag_signal;

static struct {
	unsigned long long requests, streams_started, streams_completed,
	    streams_aborted;
	unsigned long long streams_killed, gemini_query_keys, hung;
	unsigned long long counts; /* count_tokens / countTokens calls */
	long long open_streams, open_connections, open_hung;
} st;

static json_t *g_log[LOG_MAX];
static int g_log_pos, g_log_n;
static unsigned long long g_log_seq;

static struct {
	char key[64];
	int count;
} g_fail[FAIL_KEYS_MAX];
static int g_fail_n;

/* ------------------------------------------------------------------ */
/* timer heap (one timer per connection)                               */
/* ------------------------------------------------------------------ */
static void
heap_swap(int a, int b)
{
	conn_t *t = g_heap[a];
	g_heap[a] = g_heap[b];
	g_heap[b] = t;
	g_heap[a]->hidx = a;
	g_heap[b]->hidx = b;
}

static void
heap_up(int i)
{
	while (i > 0) {
		int p = (i - 1) / 2;
		if (g_heap[p]->t_due <= g_heap[i]->t_due)
			break;
		heap_swap(i, p);
		i = p;
	}
}

static void
heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < g_heap_n && g_heap[l]->t_due < g_heap[m]->t_due)
			m = l;
		if (r < g_heap_n && g_heap[r]->t_due < g_heap[m]->t_due)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
}

static void
heap_del(conn_t *c)
{
	int i = c->hidx;
	if (i < 0)
		return;
	c->hidx = -1;
	g_heap_n--;
	if (i == g_heap_n)
		return;
	g_heap[i] = g_heap[g_heap_n];
	g_heap[i]->hidx = i;
	heap_up(i);
	heap_down(g_heap[i]->hidx);
}

static void
heap_set(conn_t *c, long long due)
{
	heap_del(c);
	if (g_heap_n == g_heap_cap) {
		g_heap_cap = g_heap_cap ? g_heap_cap * 2 : 256;
		g_heap = xrealloc(g_heap, (size_t)g_heap_cap * sizeof *g_heap);
	}
	c->t_due = due;
	c->hidx = g_heap_n;
	g_heap[g_heap_n++] = c;
	heap_up(c->hidx);
}

static void
timer_arm(conn_t *c, int ms)
{
	c->plan.timer_pending = 1;
	heap_set(c, now_ms() + ms);
}

/* ------------------------------------------------------------------ */
/* output queue                                                        */
/* ------------------------------------------------------------------ */
static size_t
out_pending(conn_t *c)
{
	return c->out.len - c->out_off;
}

static void
out_add(conn_t *c, const void *d, size_t n)
{
	if (c->out_off && c->out_off >= c->out.len / 2) {
		memmove(
		    c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
	sb_add(&c->out, d, n);
}

static void
out_adds(conn_t *c, const char *s)
{
	out_add(c, s, strlen(s));
}

/* Queue one body piece, chunk-framed if the response is chunked. */
static void
out_piece(conn_t *c, const char *d, size_t n)
{
	if (c->plan.chunked) {
		char h[32];
		int k = snprintf(h, sizeof h, "%zx\r\n", n);
		out_add(c, h, (size_t)k);
		out_add(c, d, n);
		out_add(c, "\r\n", 2);
	} else
		out_add(c, d, n);
}

/* 1 = all written, 0 = would block, -1 = connection error */
static int
out_flush(conn_t *c)
{
	while (c->out_off < c->out.len) {
		ssize_t k = send(c->fd, c->out.p + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL);
		if (k > 0) {
			c->out_off += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	c->out.len = c->out_off = 0;
	if (c->out.cap > 1024 * 1024)
		sb_free(&c->out);
	return 1;
}

/* ------------------------------------------------------------------ */
/* response plans                                                      */
/* ------------------------------------------------------------------ */
static void
plan_reset(plan_t *p)
{
	for (int i = 0; i < p->nseg; i++)
		free(p->segs[i].p);
	free(p->segs);
	sb_free(&p->head);
	memset(p, 0, sizeof *p);
}

/* Append a body segment; takes ownership of s->p. Empty segments dropped. */
static void
plan_seg(conn_t *c, sb_t *s)
{
	plan_t *p = &c->plan;
	if (!s->len) {
		sb_free(s);
		return;
	}
	if (p->nseg == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->segs = xrealloc(p->segs, (size_t)p->cap * sizeof *p->segs);
	}
	p->segs[p->nseg].p = s->p;
	p->segs[p->nseg].n = s->len;
	p->nseg++;
	memset(s, 0, sizeof *s);
}

/* Drop segments from index keep on. */
static void
plan_truncate(conn_t *c, int keep)
{
	plan_t *p = &c->plan;
	while (p->nseg > keep && p->nseg > 0)
		free(p->segs[--p->nseg].p);
}

static const char *
reason(int s)
{
	switch (s) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

/* Build the header block. clen < 0 means a streamed (chunked) body. */
static void
plan_head(
    conn_t *c, int status, const char *ctype, long long clen, const char *extra)
{
	plan_t *p = &c->plan;
	sb_printf(&p->head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status,
	    reason(status), ctype);
	if (clen >= 0)
		sb_printf(&p->head, "Content-Length: %lld\r\n", clen);
	else if (c->req.minor >= 1) {
		sb_adds(&p->head, "Transfer-Encoding: chunked\r\n");
		p->chunked = 1;
	} else
		c->close_after = 1; /* HTTP/1.0: close-delimited */
	if (clen < 0 || strcmp(ctype, "text/event-stream") == 0)
		sb_adds(&p->head, "Cache-Control: no-cache\r\n");
	sb_adds(&p->head,
	    c->close_after ? "Connection: close\r\n"
			   : "Connection: keep-alive\r\n");
	if (extra)
		sb_adds(&p->head, extra);
	sb_adds(&p->head, "\r\n");
}

/* Whole non-streamed response; body is consumed. */
static void
plan_body(
    conn_t *c, int status, const char *ctype, sb_t *body, const char *extra)
{
	plan_head(c, status, ctype, (long long)body->len, extra);
	plan_seg(c, body);
}

static void
plan_json(conn_t *c, int status, json_t *j, const char *extra)
{
	sb_t b = {0};
	sb_json(&b, j);
	plan_body(c, status, "application/json", &b, extra);
}

/* Activate the plan with the directive timings. */
static void
plan_start(conn_t *c, const dir_t *d, int is_stream)
{
	plan_t *p = &c->plan;
	p->active = 1;
	p->is_stream = is_stream;
	if (d) {
		p->gap_ms = d->gap_ms;
		p->first_ms = d->first_ms;
		p->drip_ms = d->drip_ms;
		if (d->reset_after >= 0) {
			p->kill = KILL_RESET;
			p->kill_after = d->reset_after;
		} else if (d->close_after >= 0) {
			p->kill = KILL_FIN;
			p->kill_after = d->close_after;
		}
		if (d->delay_ms > 0)
			timer_arm(c, d->delay_ms);
	}
	if (is_stream) {
		st.streams_started++;
		st.open_streams++;
	}
}

/* Emit whatever is due now; arms a timer when the next thing is later. */
static void
plan_step(conn_t *c)
{
	plan_t *p = &c->plan;
	if (!p->head_sent) {
		out_add(c, p->head.p, p->head.len);
		p->head_sent = 1;
		if (p->first_ms > 0 && p->nseg > 0)
			timer_arm(c, p->first_ms);
		return;
	}
	if (p->kill && p->next == p->kill_after) {
		p->done = 1;
		return;
	}
	if (p->next >= p->nseg) {
		if (p->chunked)
			out_adds(c, "0\r\n\r\n");
		p->done = 1;
		return;
	}
	seg_t *s = &p->segs[p->next];
	if (p->drip_ms > 0) {
		out_piece(c, s->p + p->drip_off, 1);
		if (++p->drip_off >= s->n) {
			p->drip_off = 0;
			p->next++;
		}
		timer_arm(c, p->drip_ms);
		return;
	}
	out_piece(c, s->p, s->n);
	p->next++;
	if (p->gap_ms > 0 && p->next < p->nseg)
		timer_arm(c, p->gap_ms);
}

static void
plan_stream_end(conn_t *c, int killed)
{
	plan_t *p = &c->plan;
	if (!p->active || !p->is_stream || p->counted)
		return;
	p->counted = 1;
	st.open_streams--;
	if (killed == 1)
		st.streams_killed++;
	else if (killed == 2)
		st.streams_aborted++;
	else
		st.streams_completed++;
}

/* ------------------------------------------------------------------ */
/* connections                                                         */
/* ------------------------------------------------------------------ */
static void
req_reset(req_t *r)
{
	free(r->hbuf);
	free(r->body_own);
	int minor = r->minor;
	memset(r, 0, sizeof *r);
	r->minor = minor;
}

static void
conn_destroy(conn_t *c, int how)
{
	plan_stream_end(c, how == END_ABORT ? 2 : (c->plan.kill ? 1 : 0));
	if (c->hang)
		st.open_hung--;
	heap_del(c);
	if (how == END_RESET) {
		struct linger lg = {1, 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	} else if (how == END_FIN)
		shutdown(c->fd, SHUT_WR);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		g_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	req_reset(&c->req);
	plan_reset(&c->plan);
	sb_free(&c->in);
	sb_free(&c->out);
	free(c);
	st.open_connections--;
}

static void
conn_read(conn_t *c)
{
	for (;;) {
		if (c->in.len >= IN_MAX) {
			c->rd_blocked = 1;
			return;
		}
		sb_reserve(&c->in, IN_CHUNK);
		size_t room = c->in.cap - c->in.len - 1;
		if (room > IN_MAX - c->in.len)
			room = IN_MAX - c->in.len;
		ssize_t k = recv(c->fd, c->in.p + c->in.len, room, 0);
		if (k > 0) {
			c->in.len += (size_t)k;
			c->in.p[c->in.len] = 0;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->peer_eof = 1;
		return;
	}
}

/* ------------------------------------------------------------------ */
/* HTTP request parsing                                                */
/* ------------------------------------------------------------------ */
static const char *
req_hdr(const req_t *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (strcmp(r->h[i].name, name) == 0)
			return r->h[i].value;
	return NULL;
}

static int
is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static char *
trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int
parse_request_line(req_t *r, char *line)
{
	char *sp1 = strchr(line, ' ');
	if (!sp1)
		return -400;
	*sp1 = 0;
	char *target = sp1 + 1;
	char *sp2 = strchr(target, ' ');
	if (!sp2)
		return -400;
	*sp2 = 0;
	const char *ver = sp2 + 1;
	if (strcmp(ver, "HTTP/1.1") == 0)
		r->minor = 1;
	else if (strcmp(ver, "HTTP/1.0") == 0)
		r->minor = 0;
	else
		return -400;
	if (!*line || target[0] != '/')
		return -400;
	for (const char *m = line; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return -400;
	r->method = line;
	r->path = target;
	char *q = strchr(target, '?');
	if (q) {
		*q = 0;
		r->query = q + 1;
	} else
		r->query = "";
	return 0;
}

static int
parse_header_line(req_t *r, char *line)
{
	char *colon = strchr(line, ':');
	if (!colon || colon == line || r->nh >= MAX_HDRS)
		return r->nh >= MAX_HDRS ? -431 : -400;
	*colon = 0;
	for (char *n = line; *n; n++) {
		if (!is_tchar((unsigned char)*n))
			return -400;
		*n = (char)tolower((unsigned char)*n);
	}
	r->h[r->nh].name = line;
	r->h[r->nh].value = trim(colon + 1);
	r->nh++;
	return 0;
}

/* Parse framing headers; returns 0 or a negative status. */
static int
parse_framing(req_t *r)
{
	const char *te = req_hdr(r, "transfer-encoding");
	const char *cl = NULL;
	for (int i = 0; i < r->nh; i++) {
		if (strcmp(r->h[i].name, "content-length"))
			continue;
		if (cl && strcmp(cl, r->h[i].value))
			return -400;
		cl = r->h[i].value;
	}
	if (te) {
		if (!strcasestr(te, "chunked"))
			return -400;
		r->chunked = 1;
	} else if (cl) {
		if (!*cl || strlen(cl) > 18)
			return *cl && strspn(cl, "0123456789") == strlen(cl)
			    ? -413
			    : -400;
		for (const char *d = cl; *d; d++)
			if (*d < '0' || *d > '9')
				return -400;
		r->clen = atoll(cl);
		if (r->clen > BODY_MAX)
			return -413;
	}
	const char *ex = req_hdr(r, "expect");
	r->expect100 = ex && strcasecmp(ex, "100-continue") == 0;
	return 0;
}

/* 1 = header block parsed, 0 = need more, <0 = fatal status */
static int
parse_head(conn_t *c)
{
	req_t *r = &c->req;
	size_t lim = c->in.len < HDR_MAX + 4 ? c->in.len : HDR_MAX + 4;
	size_t s = 0;
	while (s < lim && (c->in.p[s] == '\r' || c->in.p[s] == '\n'))
		s++;
	char *e = s < lim ? memmem(c->in.p + s, lim - s, "\r\n\r\n", 4) : NULL;
	if (!e)
		return c->in.len > HDR_MAX ? -431 : 0;
	size_t hl = (size_t)(e - c->in.p) + 4;
	if (memchr(c->in.p + s, 0, hl - s))
		return -400;
	r->hdr_len = hl;
	r->hbuf = xrealloc(NULL, hl - s + 1);
	memcpy(r->hbuf, c->in.p + s, hl - s);
	r->hbuf[hl - s - 2] = 0; /* drop final CRLF */
	char *line = r->hbuf, *next;
	int first = 1;
	for (; line && *line; line = next) {
		char *crlf = strstr(line, "\r\n");
		next = crlf ? crlf + 2 : NULL;
		if (crlf)
			*crlf = 0;
		int rc = first ? parse_request_line(r, line)
			       : parse_header_line(r, line);
		if (rc < 0)
			return rc;
		first = 0;
	}
	if (first)
		return -400;
	int rc = parse_framing(r);
	return rc < 0 ? rc : 1;
}

/* Parse "hex[;ext]" up to end. Returns size or -1. */
static long long
parse_hex(const char *s, const char *end)
{
	long long v = 0;
	int digits = 0;
	for (; s < end && isxdigit((unsigned char)*s); s++, digits++) {
		if (v > BODY_MAX)
			return BODY_MAX + 1;
		int d = isdigit((unsigned char)*s)
		    ? *s - '0'
		    : (tolower((unsigned char)*s) - 'a' + 10);
		v = v * 16 + d;
	}
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (!digits || (s < end && *s != ';'))
		return -1;
	return v;
}

/* Resumable validation of a chunked body. 1 = complete, 0 = more, <0 fatal */
static int
chunk_scan(conn_t *c)
{
	req_t *r = &c->req;
	const char *b = c->in.p;
	size_t n = c->in.len;
	if (!r->ck_pos)
		r->ck_pos = r->hdr_len;
	for (;;) {
		size_t p = r->ck_pos;
		const char *le = p < n ? memmem(b + p, n - p, "\r\n", 2) : NULL;
		if (r->ck_trailers) {
			if (!le)
				return n - p > HDR_MAX ? -431 : 0;
			r->ck_pos = (size_t)(le - b) + 2;
			if (le == b + p) {
				r->ck_end = r->ck_pos;
				return 1;
			}
			continue;
		}
		if (!le)
			return n - p > 1024 ? -400 : 0;
		long long sz = parse_hex(b + p, le);
		if (sz < 0)
			return -400;
		if (sz > BODY_MAX - r->ck_total)
			return -413;
		size_t ds = (size_t)(le - b) + 2;
		if (sz == 0) {
			r->ck_pos = ds;
			r->ck_trailers = 1;
			continue;
		}
		if (n < ds + (size_t)sz + 2)
			return 0;
		if (b[ds + sz] != '\r' || b[ds + sz + 1] != '\n')
			return -400;
		r->ck_total += sz;
		r->ck_pos = ds + (size_t)sz + 2;
	}
}

/* Copy the (validated) chunked body out of the input buffer. */
static void
chunk_decode(conn_t *c)
{
	req_t *r = &c->req;
	const char *b = c->in.p;
	size_t p = r->hdr_len, o = 0;
	r->body_own = xrealloc(NULL, (size_t)r->ck_total + 1);
	for (;;) {
		const char *le = memmem(b + p, c->in.len - p, "\r\n", 2);
		long long sz = parse_hex(b + p, le);
		p = (size_t)(le - b) + 2;
		if (sz <= 0)
			break;
		memcpy(r->body_own + o, b + p, (size_t)sz);
		o += (size_t)sz;
		p += (size_t)sz + 2;
	}
	r->body_own[o] = 0;
	r->body = r->body_own;
	r->blen = o;
	r->consumed = r->ck_end;
}

static void
send_continue(conn_t *c)
{
	req_t *r = &c->req;
	if (!r->expect100 || r->sent100)
		return;
	r->sent100 = 1;
	out_adds(c, "HTTP/1.1 100 Continue\r\n\r\n");
	out_flush(c);
}

/* 1 = complete request, 0 = need more, <0 = fatal status */
static int
parse_request(conn_t *c)
{
	req_t *r = &c->req;
	if (!r->hbuf) {
		int rc = parse_head(c);
		if (rc <= 0)
			return rc;
	}
	if (r->chunked) {
		int rc = chunk_scan(c);
		if (rc == 0)
			send_continue(c);
		if (rc <= 0)
			return rc;
		chunk_decode(c);
		return 1;
	}
	if ((long long)(c->in.len - r->hdr_len) < r->clen) {
		send_continue(c);
		return 0;
	}
	r->body = c->in.p + r->hdr_len;
	r->blen = (size_t)r->clen;
	r->consumed = r->hdr_len + (size_t)r->clen;
	return 1;
}

/* Remove the handled request from the input buffer. */
static void
req_consume(conn_t *c)
{
	size_t k = c->req.consumed;
	if (k > c->in.len)
		k = c->in.len;
	memmove(c->in.p, c->in.p + k, c->in.len - k);
	c->in.len -= k;
	if (c->in.p)
		c->in.p[c->in.len] = 0;
	if (!c->in.len)
		sb_free(&c->in); /* idle connections keep no buffers */
	req_reset(&c->req);
}

static int
want_keepalive(const req_t *r)
{
	const char *v = req_hdr(r, "connection");
	if (r->minor >= 1)
		return !(v && strcasestr(v, "close"));
	return v && strcasestr(v, "keep-alive");
}

static int
query_param(const char *q, const char *name, char *val, size_t vsz)
{
	size_t nl = strlen(name);
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		if (len >= nl && memcmp(q, name, nl) == 0 &&
		    (len == nl || q[nl] == '=')) {
			if (val && vsz) {
				size_t vl = len > nl ? len - nl - 1 : 0;
				if (vl >= vsz)
					vl = vsz - 1;
				memcpy(val, q + nl + (len > nl), vl);
				val[vl] = 0;
			}
			return 1;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* request log, stats, control routes                                  */
/* ------------------------------------------------------------------ */
static void
log_request(const req_t *r)
{
	json_t *h = json_object();
	for (int i = 0; i < r->nh; i++) {
		json_t *old = json_object_get(h, r->h[i].name);
		if (old) {
			sb_t b = {0};
			sb_printf(&b, "%s, %s", json_string_value(old),
			    r->h[i].value);
			json_object_set_new(h, r->h[i].name, jstr(b.p, b.len));
			sb_free(&b);
		} else
			json_object_set_new(h, r->h[i].name,
			    jstr(r->h[i].value, strlen(r->h[i].value)));
	}
	size_t bl = r->blen < LOG_BODY_MAX ? r->blen : LOG_BODY_MAX;
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)++g_log_seq));
	json_object_set_new(o, "method", jstr(r->method, strlen(r->method)));
	json_object_set_new(o, "path", jstr(r->path, strlen(r->path)));
	json_object_set_new(o, "query", jstr(r->query, strlen(r->query)));
	json_object_set_new(o, "headers", h);
	json_object_set_new(o, "body", jstr(r->body ? r->body : "", bl));
	json_decref(g_log[g_log_pos]);
	g_log[g_log_pos] = o;
	g_log_pos = (g_log_pos + 1) % LOG_MAX;
	if (g_log_n < LOG_MAX)
		g_log_n++;
}

static void
log_clear(void)
{
	for (int i = 0; i < LOG_MAX; i++) {
		json_decref(g_log[i]);
		g_log[i] = NULL;
	}
	g_log_pos = g_log_n = 0;
	g_log_seq = 0;
}

static json_t *
stats_json(void)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "requests", (json_int_t)st.requests, "streams_started",
	    (json_int_t)st.streams_started, "streams_completed",
	    (json_int_t)st.streams_completed, "streams_aborted",
	    (json_int_t)st.streams_aborted, "open_streams",
	    (json_int_t)st.open_streams, "open_connections",
	    (json_int_t)st.open_connections, "gemini_query_keys",
	    (json_int_t)st.gemini_query_keys, "streams_killed",
	    (json_int_t)st.streams_killed, "hung", (json_int_t)st.hung,
	    "open_hung", (json_int_t)st.open_hung, "counts",
	    (json_int_t)st.counts);
}

static void
control_reset(void)
{
	log_clear();
	st.requests = st.streams_started = st.streams_completed = 0;
	st.counts = 0;
	st.streams_aborted = st.streams_killed = st.gemini_query_keys =
	    st.hung = 0;
	g_fail_n = 0;
	g_pcache_n = g_pcache_pos = 0;
}

/* Returns 1 if the request was a control route (and was answered). */
static int
handle_control(conn_t *c)
{
	const char *p = c->req.path;
	if (strncmp(p, "/_mock/", 7) != 0)
		return 0;
	json_t *j;
	int status = 200;
	if (strcmp(p, "/_mock/stats") == 0)
		j = stats_json();
	else if (strcmp(p, "/_mock/requests") == 0) {
		j = json_array();
		for (int i = 0; i < g_log_n; i++) {
			int k = (g_log_pos - g_log_n + i + LOG_MAX) % LOG_MAX;
			json_array_append(j, g_log[k]);
		}
	} else if (strcmp(p, "/_mock/reset") == 0) {
		control_reset();
		j = json_pack("{s:b}", "ok", 1);
	} else if (strcmp(p, "/_mock/detector") == 0 &&
	    query_param(c->req.query, "mode", g_det_mode, sizeof g_det_mode)) {
		j = json_pack("{s:b}", "ok", 1);
	} else if (strcmp(p, "/_mock/keys") == 0 &&
	    query_param(c->req.query, "accept", g_key_buf, sizeof g_key_buf)) {
		/* The keys accepted from now on (a key revoked, or made good
		 * again); empty: any key. */
		g_key = g_key_buf[0] ? g_key_buf : NULL;
		j = json_pack("{s:b}", "ok", 1);
	} else {
		status = 404;
		j = json_pack("{s:s}", "error", "unknown control route");
	}
	plan_json(c, status, j, NULL);
	plan_start(c, NULL, 0);
	return 1;
}

/* ------------------------------------------------------------------ */
/* misbehaviour directives                                             */
/* ------------------------------------------------------------------ */
#define MS_MAX 3600000
static const struct {
	const char *name;
	size_t off;
	int lo, hi;
} dir_tab[] = {
    {"status", offsetof(dir_t, status), 100, 999},
    {"retry_after", offsetof(dir_t, retry_after), 0, 1000000},
    {"delay_ms", offsetof(dir_t, delay_ms), 0, MS_MAX},
    {"hang", offsetof(dir_t, hang), 0, 1},
    {"events", offsetof(dir_t, events), 0, 1000000},
    {"gap_ms", offsetof(dir_t, gap_ms), 0, MS_MAX},
    {"first_ms", offsetof(dir_t, first_ms), 0, MS_MAX},
    {"reset_after", offsetof(dir_t, reset_after), 0, 1000000},
    {"close_after", offsetof(dir_t, close_after), 0, 1000000},
    {"drip_ms", offsetof(dir_t, drip_ms), 0, MS_MAX},
    {"garbage", offsetof(dir_t, garbage), 0, 1},
    {"size", offsetof(dir_t, size), 0, (int)BODY_MAX},
    {"error_after", offsetof(dir_t, error_after), 0, 1000000},
    {"tool", offsetof(dir_t, tool), 0, 1},
    {"tool_once", offsetof(dir_t, tool_once), 0, 1},
    {"thinking", offsetof(dir_t, thinking), 0, 1},
    {"reasoning_content", offsetof(dir_t, reasoning_content), 0, 1},
    {"usage", offsetof(dir_t, usage), 0, 1},
    {"fail_first", offsetof(dir_t, fail_first), 0, 1000000},
    {"split_ph", offsetof(dir_t, split_ph), 0, 1},
};

static void
dir_init(dir_t *d)
{
	memset(d, 0, sizeof *d);
	d->retry_after = d->events = d->reset_after = d->close_after =
	    d->error_after = -1;
	d->usage = 1;
}

static void
dir_set(dir_t *d, const char *k, size_t kl, const char *v, size_t vl)
{
	char key[32], val[24];
	if (!kl || kl >= sizeof key)
		return;
	for (size_t i = 0; i < kl; i++)
		key[i] = k[i] == '-' ? '_' : (char)tolower((unsigned char)k[i]);
	key[kl] = 0;
	if (strcmp(key, "key") == 0 || strcmp(key, "call") == 0 ||
	    strcmp(key, "arg") == 0) {
		char *dst = key[0] == 'k' ? d->key
		    : key[0] == 'c'       ? d->call
					  : d->arg;
		size_t n = vl < 63 ? vl : 63;
		memcpy(dst, v, n);
		dst[n] = 0;
		return;
	}
	if (!vl || vl >= sizeof val)
		return;
	memcpy(val, v, vl);
	val[vl] = 0;
	char *end;
	long long x = strtoll(val, &end, 10);
	if (*end)
		return;
	for (size_t i = 0; i < sizeof dir_tab / sizeof dir_tab[0]; i++) {
		if (strcmp(key, dir_tab[i].name))
			continue;
		if (x < dir_tab[i].lo)
			x = dir_tab[i].lo;
		if (x > dir_tab[i].hi)
			x = dir_tab[i].hi;
		*(int *)((char *)d + dir_tab[i].off) = (int)x;
	}
}

/* "[[mock k=v k=v]]" anywhere in the raw body (first occurrence). */
static void
dir_from_body(dir_t *d, const char *b, size_t n)
{
	const char *p = b ? memmem(b, n, "[[mock", 6) : NULL;
	if (!p)
		return;
	const char *end = b + n, *lim = p + 1024 < end ? p + 1024 : end;
	p += 6;
	while (p < lim) {
		while (p < lim && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= lim || *p == '"' || *p == '\\' ||
		    (*p == ']' && p + 1 < lim && p[1] == ']'))
			break;
		const char *t = p;
		while (p < lim && !is_ws(*p) && *p != '"' && *p != '\\' &&
		    !(*p == ']' && p + 1 < lim && p[1] == ']'))
			p++;
		const char *eq = memchr(t, '=', (size_t)(p - t));
		if (eq)
			dir_set(d, t, (size_t)(eq - t), eq + 1,
			    (size_t)(p - eq - 1));
		if (p == t)
			p++;
	}
}

static void
dir_from_headers(dir_t *d, const req_t *r)
{
	for (int i = 0; i < r->nh; i++)
		if (strncmp(r->h[i].name, "x-mock-", 7) == 0)
			dir_set(d, r->h[i].name + 7, strlen(r->h[i].name + 7),
			    r->h[i].value, strlen(r->h[i].value));
}

/* Status forced by the directives (0 = none). Implements fail_first. */
static int
dir_status(const dir_t *d)
{
	if (d->fail_first > 0) {
		int i;
		for (i = 0; i < g_fail_n; i++)
			if (strcmp(g_fail[i].key, d->key) == 0)
				break;
		if (i == g_fail_n) {
			if (g_fail_n == FAIL_KEYS_MAX)
				return 0;
			snprintf(
			    g_fail[i].key, sizeof g_fail[i].key, "%s", d->key);
			g_fail[i].count = 0;
			g_fail_n++;
		}
		if (++g_fail[i].count <= d->fail_first)
			return d->status >= 300 ? d->status : 500;
		return 0;
	}
	return d->status >= 300 ? d->status : 0;
}

/* ------------------------------------------------------------------ */
/* reply text, pieces and token counts                                 */
/* ------------------------------------------------------------------ */
static void
pc_push(pieces_t *p, size_t start)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->st = xrealloc(p->st, (size_t)p->cap * sizeof *p->st);
	}
	p->st[p->n++] = start;
}

static size_t
pc_end(const pieces_t *p, int i)
{
	return i + 1 < p->n ? p->st[i + 1] : p->text.len;
}

/* Split text into ~1 word pieces: each piece = leading spaces + word. */
static void
pc_split(pieces_t *p)
{
	const char *s = p->text.p;
	size_t n = p->text.len, last = 0;
	for (size_t i = 0; i < n; i++)
		if (!is_ws(s[i]))
			last = i;
	if (!n)
		return;
	pc_push(p, 0);
	for (size_t i = 1; i < last; i++)
		if (is_ws(s[i]) && !is_ws(s[i - 1]))
			pc_push(p, i);
}

static int
cmp_sz(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* split_ph=1: every relay placeholder (U+27E6 ... U+27E7) of the reply
 * is cut into three events: "...U+27E6", two letters, the rest. (A JSON
 * string cannot hold part of a code point; drip_ms=1 cuts the bytes of
 * U+27E6 apart in transport.) A run of 11 digits or more (a relay
 * surrogate, pii_protection.surrogates) is cut after its 3rd and 7th
 * digit. */
static void
pc_split_ph(pieces_t *p)
{
	const char *s = p->text.p, *o;
	size_t n = p->text.len, at = 0, j;
	int i, k;

	while (at < n && (o = memmem(s + at, n - at, "\xE2\x9F\xA6", 3))) {
		size_t off = (size_t)(o - s);
		pc_push(p, off + 3);
		if (off + 5 < n)
			pc_push(p, off + 5);
		at = off + 3;
	}
	for (at = 0; at < n; at = j > at ? j : at + 1) {
		for (j = at; j < n && s[j] >= '0' && s[j] <= '9'; j++)
			;
		if (j - at >= 11) {
			pc_push(p, at + 3);
			pc_push(p, at + 7);
		}
	}
	qsort(p->st, (size_t)p->n, sizeof *p->st, cmp_sz);
	for (i = k = 0; i < p->n; i++)
		if (k == 0 || p->st[i] != p->st[k - 1])
			p->st[k++] = p->st[i];
	p->n = k;
}

/* Append one filler piece of at least min_bytes. */
static void
pc_filler(pieces_t *p, int *k, size_t min_bytes)
{
	size_t start = p->text.len;
	pc_push(p, start);
	do
		sb_printf(&p->text, " tok%d", (*k)++);
	while (p->text.len - start < min_bytes);
}

static void
pc_apply(pieces_t *p, const dir_t *d)
{
	int k = 0;
	if (d->size > 0 && p->text.len < (size_t)d->size) {
		size_t per = (size_t)d->size / 1000;
		while (p->text.len < (size_t)d->size)
			pc_filler(p, &k, per);
	}
	if (d->events >= 0) {
		if (d->events == 0)
			p->text.len = 0;
		if (p->n > d->events)
			p->n = d->events;
		while (p->n < d->events)
			pc_filler(p, &k, 0);
	}
}

static void
pc_free(pieces_t *p)
{
	sb_free(&p->text);
	free(p->st);
}

static long long
count_words(const char *s, size_t n)
{
	long long w = 0;
	int in = 0;
	for (size_t i = 0; i < n; i++) {
		int sp = is_ws(s[i]);
		if (!sp && !in)
			w++;
		in = !sp;
	}
	return w;
}

static void
add_str(gen_t *g, const char *s, size_t n, int user)
{
	g->P += count_words(s, n);
	if (!user)
		return;
	if (g->last_user.len)
		sb_add(&g->last_user, " ", 1);
	sb_add(&g->last_user, s, n);
}

/* String or array of {text:...} blocks / parts. */
static void
add_text(gen_t *g, json_t *v, int user)
{
	if (json_is_string(v)) {
		add_str(g, json_string_value(v), json_string_length(v), user);
		return;
	}
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return;
	json_array_foreach (v, i, e) {
		json_t *t = json_is_string(e) ? e : json_object_get(e, "text");
		if (json_is_string(t))
			add_str(g, json_string_value(t), json_string_length(t),
			    user);
	}
}

/* messages[] for OpenAI and Anthropic; contents[] for Gemini. */
static void
add_messages(
    gen_t *g, json_t *arr, const char *content_key, const char *user_role)
{
	size_t i;
	json_t *m;
	json_array_foreach (arr, i, m) {
		json_t *role = json_object_get(m, "role");
		int user = json_is_string(role)
		    ? strcmp(json_string_value(role), user_role) == 0
		    : g->prov == P_GEMINI;
		if (user)
			g->last_user.len = 0;
		add_text(g, json_object_get(m, content_key), user);
	}
}

/* Build the reply text and pieces from g->last_user and directives. */
static void
make_reply(gen_t *g)
{
	size_t n = g->last_user.len;
	if (n > SNIPPET_MAX) {
		n = SNIPPET_MAX;
		while (n && (g->last_user.p[n] & 0xC0) == 0x80)
			n--;
	}
	if (g->said.len) {
		n = g->said.len > SNIPPET_MAX ? SNIPPET_MAX : g->said.len;
		while (n && n < g->said.len && (g->said.p[n] & 0xC0) == 0x80)
			n--;
		sb_adds(&g->pc.text, "Hello from mock. Tool said: ");
		sb_add(&g->pc.text, g->said.p, n);
	} else {
		sb_adds(&g->pc.text, "Hello from mock. You said: ");
		sb_add(&g->pc.text, g->last_user.p ? g->last_user.p : "", n);
	}
	pc_split(&g->pc);
	if (g->d.split_ph)
		pc_split_ph(&g->pc);
	pc_apply(&g->pc, &g->d);
	g->C = g->pc.n;
	if (g->P < 1)
		g->P = 1;
}

static json_t *
piece_json(const gen_t *g, int i)
{
	size_t a = g->pc.st[i], b = pc_end(&g->pc, i);
	return jstr(g->pc.text.p + a, b - a);
}

static const char *TOOL_ARGS = "{\"city\":\"Paris\"}";
static const char *TOOL_FRAGS[] = {"{\"city\"", ":\"Par", "is\"}"};
#define NFRAGS 3

/* The echoed arguments: {"said": <the reply text>}, fragments cut after
 * the first placeholder's bracket and two letters into it. */
static void
tool_echo(gen_t *g)
{
	json_t *o = json_pack("{s:o}", "said", jstr(g->pc.text.p, g->pc.text.len));
	char *a = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t n = a ? strlen(a) : 0, c1 = n / 3, c2 = 2 * n / 3;
	const char *ph = a ? strstr(a, "\xE2\x9F\xA6") : NULL;

	json_decref(o);
	if (!a)
		return;
	free(g->targs);
	for (int i = 0; i < NFRAGS; i++)
		free(g->tfrag[i]);
	if (ph && (size_t)(ph - a) + 5 < n) {
		c1 = (size_t)(ph - a) + 3;
		c2 = c1 + 2;
	}
	g->targs = a;
	g->tfrag[0] = strndup(a, c1);
	g->tfrag[1] = strndup(a + c1, c2 - c1);
	g->tfrag[2] = strdup(a + c2);
}

static const char *
targs(const gen_t *g)
{
	return g->targs ? g->targs : TOOL_ARGS;
}

static const char *
tfrag(const gen_t *g, int i)
{
	return g->targs ? g->tfrag[i] : TOOL_FRAGS[i];
}

static json_t *
targs_obj(const gen_t *g)
{
	return json_loads(targs(g), 0, NULL);
}
static const char *THINK_PIECES[] = {"The", " user", " greeted", " me.", " I",
    " should", " reply", " politely."};
#define NTHINK 8
static const char *THINK_TEXT = "The user greeted me. I should reply politely.";
static const char *THINK_SIG =
    "EqQBCkYIBRgCKkBtb2NrLXNpZ25hdHVyZS1tb2NrLXNpZ25hdHVyZS1tb2Nr";

/* ------------------------------------------------------------------ */
/* error bodies                                                        */
/* ------------------------------------------------------------------ */
static const char *
default_msg(int status)
{
	switch (status) {
	case 400: return "Invalid request (mock).";
	case 401: return "Invalid API key (mock).";
	case 403: return "Permission denied (mock).";
	case 404: return "Not found (mock).";
	case 413: return "Request too large (mock).";
	case 429: return "Rate limit reached for requests (mock).";
	case 500:
		return "The server had an error while processing your request "
		       "(mock).";
	case 503: return "The service is temporarily unavailable (mock).";
	case 529: return "Overloaded";
	default: return "Mock error.";
	}
}

static json_t *
oa_error(int status, const char *msg)
{
	const char *type =
	    status >= 500 ? "server_error" : "invalid_request_error";
	const char *code = NULL;
	if (status == 401)
		code = "invalid_api_key";
	if (status == 404)
		code = "model_not_found";
	if (status == 429) {
		type = "requests";
		code = "rate_limit_exceeded";
	}
	return json_pack("{s:{s:s,s:s,s:n,s:o}}", "error", "message", msg,
	    "type", type, "param", "code",
	    code ? json_string(code) : json_null());
}

static const char *
anth_type(int status)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	default: return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

static const char *
gem_status(int status)
{
	switch (status) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 409: return "ABORTED";
	case 429: return "RESOURCE_EXHAUSTED";
	case 500: return "INTERNAL";
	case 501: return "UNIMPLEMENTED";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
	}
}

static json_t *
error_json(int prov, int status, const char *msg, unsigned long long id)
{
	if (!msg)
		msg = default_msg(status);
	char rid[48];
	snprintf(rid, sizeof rid, "req_mock%llu", id);
	switch (prov) {
	case P_ANTH:
		return json_pack("{s:s,s:{s:s,s:s},s:s}", "type", "error",
		    "error", "type", anth_type(status), "message", msg,
		    "request_id", rid);
	case P_GEMINI:
		return json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status,
		    "message", msg, "status", gem_status(status));
	default: return oa_error(status, msg);
	}
}

static void
send_error(conn_t *c, gen_t *g, int status, const char *msg)
{
	plan_json(
	    c, status, error_json(g->prov, status, msg, g->id), g->extra.p);
}

/* ------------------------------------------------------------------ */
/* SSE helpers                                                         */
/* ------------------------------------------------------------------ */
static void
sse_data(conn_t *c, json_t *j, const char *eol)
{
	sb_t b = {0};
	sb_adds(&b, "data: ");
	sb_json(&b, j);
	sb_adds(&b, eol);
	plan_seg(c, &b);
}

static void
sse_event(conn_t *c, const char *name, json_t *j)
{
	sb_t b = {0};
	sb_printf(&b, "event: %s\ndata: ", name);
	sb_json(&b, j);
	sb_adds(&b, "\n\n");
	plan_seg(c, &b);
}

static void
sse_raw(conn_t *c, const char *s)
{
	sb_t b = {0};
	sb_adds(&b, s);
	plan_seg(c, &b);
}

static void
stream_head(conn_t *c, gen_t *g, const char *ctype)
{
	plan_head(c, 200, ctype, -1, g->extra.p);
}

/* keep at most error_after events (always before the final one) */
static int
error_cut(conn_t *c, gen_t *g)
{
	if (g->d.error_after < 0)
		return -1;
	int keep = c->plan.nseg - 1;
	if (g->d.error_after < keep)
		keep = g->d.error_after;
	if (keep < 0)
		keep = 0;
	plan_truncate(c, keep);
	return keep;
}

/* ------------------------------------------------------------------ */
/* OpenAI / Azure chat completions                                     */
/* ------------------------------------------------------------------ */
static json_t *
oa_base(gen_t *g, const char *object)
{
	return json_pack("{s:s,s:s,s:I,s:s%,s:s}", "id", g->idstr, "object",
	    object, "created", (json_int_t)g->created, "model", g->model.p,
	    g->model.len, "system_fingerprint", "fp_mock");
}

static json_t *
oa_usage(gen_t *g)
{
	return json_pack("{s:I,s:I,s:I,s:{s:i},s:{s:i}}", "prompt_tokens",
	    (json_int_t)g->P, "completion_tokens", (json_int_t)g->C,
	    "total_tokens", (json_int_t)(g->P + g->C), "prompt_tokens_details",
	    "cached_tokens", (json_int_t)g->cached, "completion_tokens_details",
	    "reasoning_tokens",
	    0);
}

static void
oa_nonstream(conn_t *c, gen_t *g)
{
	json_t *msg;
	const char *fin = g->tool ? "tool_calls" : "stop";
	if (g->tool)
		msg = json_pack("{s:s,s:n,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}",
		    "role", "assistant", "content", "refusal", "tool_calls",
		    "id", "call_mock1", "type", "function", "function", "name",
		    g->tool, "arguments", targs(g));
	else
		msg = json_pack("{s:s,s:o,s:n}", "role", "assistant", "content",
		    jstr(g->pc.text.p, g->pc.text.len), "refusal");
	if (g->d.reasoning_content)
		json_object_set_new(
		    msg, "reasoning_content", json_string(THINK_TEXT));
	json_t *o = oa_base(g, "chat.completion");
	json_object_set_new(o, "choices",
	    json_pack("[{s:i,s:o,s:n,s:s}]", "index", 0, "message", msg,
		"logprobs", "finish_reason", fin));
	if (g->d.usage)
		json_object_set_new(o, "usage", oa_usage(g));
	plan_json(c, 200, o, g->extra.p);
}

/* "data: {id..fingerprint,"choices":[{"index":0,"delta":" built once per stream */
static void
oa_chunk_prefix(gen_t *g)
{
	sb_adds(&g->prefix, "data: ");
	sb_json(&g->prefix, oa_base(g, "chat.completion.chunk"));
	if (g->prefix.len && g->prefix.p[g->prefix.len - 1] == '}')
		g->prefix.len--;
	sb_adds(&g->prefix, ",\"choices\":[{\"index\":0,\"delta\":");
}

static void
oa_chunk(conn_t *c, gen_t *g, json_t *delta, const char *fin)
{
	sb_t b = {0};
	if (!g->prefix.len)
		oa_chunk_prefix(g);
	sb_add(&b, g->prefix.p, g->prefix.len);
	sb_json(&b, delta);
	sb_adds(&b, ",\"logprobs\":null,\"finish_reason\":");
	if (fin)
		sb_printf(&b, "\"%s\"}]", fin);
	else
		sb_adds(&b, "null}]");
	sb_adds(&b,
	    g->include_usage && g->d.usage ? ",\"usage\":null}\n\n" : "}\n\n");
	plan_seg(c, &b);
}

static void
oa_stream_tool(conn_t *c, gen_t *g)
{
	oa_chunk(c, g,
	    json_pack("{s:s,s:n,s:[{s:i,s:s,s:s,s:{s:s,s:s}}],s:n}", "role",
		"assistant", "content", "tool_calls", "index", 0, "id",
		"call_mock1", "type", "function", "function", "name", g->tool,
		"arguments", "", "refusal"),
	    NULL);
	for (int i = 0; i < NFRAGS; i++)
		oa_chunk(c, g,
		    json_pack("{s:[{s:i,s:{s:s}}]}", "tool_calls", "index", 0,
			"function", "arguments", tfrag(g, i)),
		    NULL);
}

static void
oa_stream(conn_t *c, gen_t *g)
{
	stream_head(c, g, "text/event-stream");
	if (g->d.reasoning_content)
		oa_chunk(c, g,
		    json_pack("{s:s,s:s,s:s}", "role", "assistant", "content", "",
			"reasoning_content", THINK_TEXT),
		    NULL);
	if (g->tool)
		oa_stream_tool(c, g);
	else {
		oa_chunk(c, g,
		    json_pack("{s:s,s:s}", "role", "assistant", "content", ""),
		    NULL);
		for (int i = 0; i < g->pc.n; i++)
			oa_chunk(c, g,
			    json_pack("{s:o}", "content", piece_json(g, i)),
			    NULL);
	}
	oa_chunk(c, g, json_object(), g->tool ? "tool_calls" : "stop");
	if (g->include_usage && g->d.usage) {
		json_t *o = oa_base(g, "chat.completion.chunk");
		json_object_set_new(o, "choices", json_array());
		json_object_set_new(o, "usage", oa_usage(g));
		sse_data(c, o, "\n\n");
	}
	sse_raw(c, "data: [DONE]\n\n");
	if (error_cut(c, g) >= 0)
		sse_data(c,
		    oa_error(500,
			"The server had an error while processing your "
			"request."),
		    "\n\n");
}

/* ------------------------------------------------------------------ */
/* Anthropic messages                                                  */
/* ------------------------------------------------------------------ */
static json_t *
an_usage(gen_t *g, int out)
{
	return json_pack("{s:I,s:I,s:i,s:i}", "input_tokens", (json_int_t)g->P,
	    "output_tokens", (json_int_t)out, "cache_creation_input_tokens", 0,
	    "cache_read_input_tokens", 0);
}

static json_t *
an_message(gen_t *g, json_t *content, const char *stop, int out)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s%,s:o,s:o,s:n}", "id", g->idstr,
	    "type", "message", "role", "assistant", "model", g->model.p,
	    g->model.len, "content", content, "stop_reason",
	    stop ? json_string(stop) : json_null(), "stop_sequence");
	if (g->d.usage)
		json_object_set_new(o, "usage", an_usage(g, out));
	return o;
}

static void
an_nonstream(conn_t *c, gen_t *g)
{
	json_t *content = json_array();
	if (g->d.thinking)
		json_array_append_new(content,
		    json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking",
			THINK_TEXT, "signature", THINK_SIG));
	if (g->tool)
		json_array_append_new(content,
		    json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id",
			"toolu_mock1", "name", g->tool, "input", targs_obj(g)));
	else
		json_array_append_new(content,
		    json_pack("{s:s,s:o}", "type", "text", "text",
			jstr(g->pc.text.p, g->pc.text.len)));
	plan_json(c, 200,
	    an_message(g, content, g->tool ? "tool_use" : "end_turn", g->C),
	    g->extra.p);
}

static void
an_block_start(conn_t *c, int idx, json_t *block)
{
	sse_event(c, "content_block_start",
	    json_pack("{s:s,s:i,s:o}", "type", "content_block_start", "index",
		idx, "content_block", block));
	if (idx == 0)
		sse_event(c, "ping", json_pack("{s:s}", "type", "ping"));
}

static void
an_delta(conn_t *c, int idx, json_t *delta)
{
	sse_event(c, "content_block_delta",
	    json_pack("{s:s,s:i,s:o}", "type", "content_block_delta", "index",
		idx, "delta", delta));
}

static void
an_block_stop(conn_t *c, int idx)
{
	sse_event(c, "content_block_stop",
	    json_pack("{s:s,s:i}", "type", "content_block_stop", "index", idx));
}

static void
an_stream_thinking(conn_t *c, int idx)
{
	an_block_start(c, idx,
	    json_pack("{s:s,s:s,s:s}", "type", "thinking", "thinking", "",
		"signature", ""));
	for (int i = 0; i < NTHINK; i++)
		an_delta(c, idx,
		    json_pack("{s:s,s:s}", "type", "thinking_delta", "thinking",
			THINK_PIECES[i]));
	an_delta(c, idx,
	    json_pack("{s:s,s:s}", "type", "signature_delta", "signature",
		THINK_SIG));
	an_block_stop(c, idx);
}

static void
an_stream(conn_t *c, gen_t *g)
{
	int idx = 0;
	stream_head(c, g, "text/event-stream");
	sse_event(c, "message_start",
	    json_pack("{s:s,s:o}", "type", "message_start", "message",
		an_message(g, json_array(), NULL, 1)));
	if (g->d.thinking)
		an_stream_thinking(c, idx++);
	if (g->tool) {
		an_block_start(c, idx,
		    json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id",
			"toolu_mock1", "name", g->tool, "input"));
		for (int i = 0; i < NFRAGS; i++)
			an_delta(c, idx,
			    json_pack("{s:s,s:s}", "type", "input_json_delta",
				"partial_json", tfrag(g, i)));
	} else {
		an_block_start(
		    c, idx, json_pack("{s:s,s:s}", "type", "text", "text", ""));
		for (int i = 0; i < g->pc.n; i++)
			an_delta(c, idx,
			    json_pack("{s:s,s:o}", "type", "text_delta", "text",
				piece_json(g, i)));
	}
	an_block_stop(c, idx);
	json_t *md = json_pack("{s:s,s:{s:s,s:n}}", "type", "message_delta",
	    "delta", "stop_reason", g->tool ? "tool_use" : "end_turn",
	    "stop_sequence");
	if (g->d.usage)
		json_object_set_new(md, "usage",
		    json_pack("{s:I}", "output_tokens", (json_int_t)g->C));
	sse_event(c, "message_delta", md);
	sse_event(
	    c, "message_stop", json_pack("{s:s}", "type", "message_stop"));
	if (error_cut(c, g) >= 0)
		sse_event(c, "error",
		    json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error",
			"type", "overloaded_error", "message", "Overloaded"));
}

/* ------------------------------------------------------------------ */
/* Gemini generateContent / streamGenerateContent                      */
/* ------------------------------------------------------------------ */
static json_t *
gm_obj(gen_t *g, json_t *parts, int last)
{
	json_t *cand = json_pack(
	    "{s:{s:o,s:s}}", "content", "parts", parts, "role", "model");
	if (last)
		json_object_set_new(cand, "finishReason", json_string("STOP"));
	json_object_set_new(cand, "index", json_integer(0));
	json_t *o = json_pack("{s:[o]}", "candidates", cand);
	if (g->d.usage) {
		json_t *u =
		    json_pack("{s:I}", "promptTokenCount", (json_int_t)g->P);
		if (last) {
			json_object_set_new(
			    u, "candidatesTokenCount", json_integer(g->C));
			json_object_set_new(
			    u, "totalTokenCount", json_integer(g->P + g->C));
		}
		json_object_set_new(o, "usageMetadata", u);
	}
	json_object_set_new(o, "modelVersion", jstr(g->model.p, g->model.len));
	json_object_set_new(o, "responseId", json_string(g->idstr));
	return o;
}

static json_t *
gm_tool_parts(gen_t *g)
{
	return json_pack("[{s:{s:s,s:o},s:s}]", "functionCall", "name",
	    g->tool, "args", targs_obj(g), "thoughtSignature",
	    "c2lnLW1vY2s=");
}

static void
gm_nonstream(conn_t *c, gen_t *g)
{
	json_t *parts = g->tool
	    ? gm_tool_parts(g)
	    : json_pack("[{s:o}]", "text", jstr(g->pc.text.p, g->pc.text.len));
	plan_json(c, 200, gm_obj(g, parts, 1), g->extra.p);
}

/* One stream frame: SSE "data: ...\r\n\r\n" or a JSON array element. */
static void
gm_frame(conn_t *c, gen_t *g, json_t *o, int first, int last)
{
	if (g->sse) {
		sse_data(c, o, "\r\n\r\n");
		return;
	}
	sb_t b = {0};
	sb_adds(&b, first ? "[" : "\n,");
	sb_json(&b, o);
	if (last)
		sb_adds(&b, "\n]");
	plan_seg(c, &b);
}

static void
gm_stream(conn_t *c, gen_t *g)
{
	stream_head(c, g, g->sse ? "text/event-stream" : "application/json");
	if (g->tool)
		gm_frame(c, g, gm_obj(g, gm_tool_parts(g), 1), 1, 1);
	else if (g->pc.n == 0)
		gm_frame(
		    c, g, gm_obj(g, json_pack("[{s:s}]", "text", ""), 1), 1, 1);
	for (int i = 0; !g->tool && i < g->pc.n; i++) {
		int last = i == g->pc.n - 1;
		gm_frame(c, g,
		    gm_obj(g, json_pack("[{s:o}]", "text", piece_json(g, i)),
			last),
		    i == 0, last);
	}
	int keep = error_cut(c, g);
	if (keep >= 0) {
		json_t *e = error_json(P_GEMINI, 503,
		    "The model is overloaded. Please try again later.", g->id);
		if (g->sse)
			sse_data(c, e, "\r\n\r\n");
		else {
			sb_t b = {0};
			sb_adds(&b, keep == 0 ? "[" : "\n,");
			sb_json(&b, e);
			sb_adds(&b, "\n]");
			plan_seg(c, &b);
		}
	}
}

/* ------------------------------------------------------------------ */
/* garbage responses                                                   */
/* ------------------------------------------------------------------ */
static void
send_garbage(conn_t *c, gen_t *g)
{
	static const char *bad = "{\"id\": \"mock\", this is not json <<<";
	if (!g->stream) {
		sb_t b = {0};
		sb_adds(&b, bad);
		plan_body(c, 200, "application/json", &b, g->extra.p);
		return;
	}
	stream_head(c, g,
	    g->prov == P_GEMINI && !g->sse ? "application/json"
					   : "text/event-stream");
	for (int i = 0; i < 3; i++) {
		sb_t b = {0};
		if (g->prov == P_ANTH)
			sb_adds(&b, "event: content_block_delta\n");
		sb_printf(&b, "data: %s %d%s", bad, i,
		    g->prov == P_GEMINI ? "\r\n\r\n" : "\n\n");
		plan_seg(c, &b);
	}
	if (g->prov != P_GEMINI && g->prov != P_ANTH)
		sse_raw(c, "data: [DONE]\n\n");
}

/* ------------------------------------------------------------------ */
/* OpenAI Responses API (/v1/responses; Azure /openai/v1/responses)    */
/* ------------------------------------------------------------------ */
/* Stored responses (the API's store: true default), as the real API
 * keeps them: per project, so a response is found only with the API key
 * that made it. A small ring: the tests make few. */
#define RS_STORE_MAX 64
static struct rs_stored {
	char id[64];
	char key[256]; /* the credential header's value that made it */
	json_t *response; /* the completed response object */
	json_t *input; /* its input items, each with an id */
} rs_store[RS_STORE_MAX];
static unsigned rs_store_next;

static int auth_ok(const req_t *r, int prov);

/* The credential a request came with ("" without one). */
static const char *
rs_key(const req_t *r)
{
	const char *v = req_hdr(r, "authorization");
	if (!v)
		v = req_hdr(r, "api-key");
	return v ? v : "";
}

static struct rs_stored *
rs_find(const req_t *r, const char *id)
{
	for (unsigned i = 0; i < RS_STORE_MAX; i++)
		if (rs_store[i].response && strcmp(rs_store[i].id, id) == 0 &&
		    strcmp(rs_store[i].key, rs_key(r)) == 0)
			return &rs_store[i];
	return NULL;
}

static void
rs_forget(struct rs_stored *e)
{
	json_decref(e->response);
	json_decref(e->input);
	memset(e, 0, sizeof *e);
}

/* Keep response (a reference is taken) with the request's input. */
static void
rs_remember(gen_t *g, json_t *response)
{
	struct rs_stored *e = &rs_store[rs_store_next++ % RS_STORE_MAX];
	json_t *in = json_object_get(g->root, "input"), *items, *it;
	size_t i;

	if (json_is_false(json_object_get(g->root, "store")))
		return;
	rs_forget(e);
	snprintf(e->id, sizeof e->id, "%s", g->idstr);
	snprintf(e->key, sizeof e->key, "%s", rs_key(g->r));
	e->response = json_incref(response);
	items = json_array();
	if (json_is_string(in))
		json_array_append_new(items,
		    json_pack("{s:s,s:s,s:[{s:s,s:O}]}", "type", "message",
			"role", "user", "content", "type", "input_text",
			"text", in));
	else
		json_array_extend(items, in);
	json_array_foreach (items, i, it) {
		char iid[96];
		json_t *copy = json_deep_copy(it);
		snprintf(iid, sizeof iid, "msg_%s_%zu", g->idstr, i);
		json_object_set_new(copy, "id", json_string(iid));
		json_array_set_new(items, i, copy);
	}
	e->input = items;
}

/* POST .../responses/compact (unary): the input's user messages kept and
 * one compaction item, as the real API answers; model and input are
 * required. */
static void
handle_compact(conn_t *c)
{
	req_t *r = &c->req;
	json_t *root = json_loadb(r->body ? r->body : "", r->blen, 0, NULL);
	json_t *in = json_object_get(root, "input"), *out, *e;
	size_t i, words = 0;
	char cid[64];

	if (!auth_ok(r, -1)) {
		plan_json(c, 401, oa_error(401, default_msg(401)), NULL);
	} else if (!json_is_string(json_object_get(root, "model"))) {
		plan_json(c, 400,
		    oa_error(400, "Missing required parameter: 'model'."), NULL);
	} else if (!json_is_array(in)) {
		plan_json(c, 400,
		    oa_error(400, "Missing required parameter: 'input'."), NULL);
	} else if (json_object_get(root, "stream")) {
		plan_json(c, 400,
		    oa_error(400, "Unknown parameter: 'stream'."), NULL);
	} else {
		out = json_array();
		json_array_foreach (in, i, e) {
			words += 4; /* a few tokens an item */
			if (json_is_string(json_object_get(e, "role")) &&
			    strcmp(json_string_value(json_object_get(e, "role")),
				"user") == 0)
				json_array_append(out, e);
		}
		snprintf(cid, sizeof cid, "cmp_mock%llu", ++g_idseq);
		json_array_append_new(out,
		    json_pack("{s:s,s:s,s:s}", "type", "compaction", "id", cid,
			"encrypted_content", "bW9jay1jb21wYWN0aW9u"));
		plan_json(c, 200,
		    json_pack("{s:s,s:s,s:I,s:o,s:{s:I,s:{s:i},s:i,s:{s:i},s:I}}",
			"id", cid, "object", "response.compaction",
			"created_at", (json_int_t)time(NULL), "output", out,
			"usage", "input_tokens", (json_int_t)(words + 1),
			"input_tokens_details", "cached_tokens", 0,
			"output_tokens", 7, "output_tokens_details",
			"reasoning_tokens", 0, "total_tokens",
			(json_int_t)(words + 8)),
		    NULL);
	}
	json_decref(root);
	plan_start(c, NULL, 0);
}

/* GET/DELETE .../responses/{id}, POST .../{id}/cancel, GET
 * .../{id}/input_items: 1 when path was one of them (answered). */
static int
handle_stored(conn_t *c)
{
	req_t *r = &c->req;
	const char *at = strstr(r->path, "/responses/");
	char id[64];
	const char *rest, *sl;
	struct rs_stored *e;

	if (!at)
		return 0;
	at += 11;
	sl = strchr(at, '/');
	rest = sl ? sl : "";
	snprintf(id, sizeof id, "%.*s",
	    (int)(sl ? sl - at : (long)strlen(at)), at);
	if (!auth_ok(r, -1)) {
		plan_json(c, 401, oa_error(401, default_msg(401)), NULL);
	} else if (!(e = rs_find(r, id))) {
		char msg[128];
		json_t *err;
		snprintf(msg, sizeof msg, "Response with id '%s' not found.",
		    id);
		err = oa_error(404, msg);
		json_object_set_new(
		    json_object_get(err, "error"), "code", json_null());
		plan_json(c, 404, err, NULL);
	} else if (strcmp(r->method, "GET") == 0 && !*rest) {
		plan_json(c, 200, json_incref(e->response), NULL);
	} else if (strcmp(r->method, "DELETE") == 0 && !*rest) {
		plan_json(c, 200,
		    json_pack("{s:s,s:s,s:b}", "id", e->id, "object",
			"response.deleted", "deleted", 1),
		    NULL);
		rs_forget(e);
	} else if (strcmp(r->method, "POST") == 0 &&
	    strcmp(rest, "/cancel") == 0) {
		plan_json(c, 400,
		    oa_error(400,
			"Only responses created with background=true can be "
			"cancelled."),
		    NULL);
	} else if (strcmp(r->method, "GET") == 0 &&
	    strcmp(rest, "/input_items") == 0) {
		size_t n = json_array_size(e->input);
		plan_json(c, 200,
		    json_pack("{s:s,s:O,s:O,s:O,s:b}", "object", "list",
			"data", e->input, "first_id",
			json_object_get(json_array_get(e->input, 0), "id"),
			"last_id",
			json_object_get(json_array_get(e->input, n - 1), "id"),
			"has_more", 0),
		    NULL);
	} else {
		plan_json(c, 404, oa_error(404, "Unknown request URL."), NULL);
	}
	plan_start(c, NULL, 0);
	return 1;
}

/* Validate like the real API and collect the text; NULL or a 400. */
static const char *
rs_extract(gen_t *g)
{
	static const char *const kinds[] = {"message", "function_call",
	    "function_call_output", "reasoning", "custom_tool_call",
	    "custom_tool_call_output", "item_reference", NULL};
	static char msg[160];
	json_t *root = g->root, *in = json_object_get(root, "input"), *e, *v;
	size_t i;

	if (json_object_get(root, "messages"))
		return "Unrecognized request argument supplied: messages";
	if (!json_is_string(in) && !json_is_array(in))
		return "Missing required parameter: 'input'.";
	v = json_object_get(root, "max_output_tokens");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 16))
		return "Invalid 'max_output_tokens': integer below minimum "
		       "value. Expected a value >= 16.";
	json_array_foreach (json_object_get(root, "tools"), i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		if (!t || (strcmp(t, "function") == 0 &&
			      !json_is_string(json_object_get(e, "name")))) {
			snprintf(msg, sizeof msg,
			    "Missing required parameter: 'tools[%zu].%s'.", i,
			    t ? "name" : "type");
			return msg;
		}
	}
	json_array_foreach (json_is_array(in) ? in : NULL, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		int k = 0;
		if (!json_is_object(e))
			return "Invalid type for 'input': expected an object.";
		while (t && kinds[k] && strcmp(kinds[k], t) != 0)
			k++;
		if (t && !kinds[k]) {
			snprintf(msg, sizeof msg,
			    "Invalid value: '%.40s'. Supported values are: "
			    "'message', 'function_call', ... .", t);
			return msg;
		}
		if ((!t || k == 0) &&
		    !json_is_string(json_object_get(e, "role"))) {
			snprintf(msg, sizeof msg,
			    "Missing required parameter: 'input[%zu].role'.",
			    i);
			return msg;
		}
		if ((k == 1 || k == 2) &&
		    !json_is_string(json_object_get(e, "call_id"))) {
			snprintf(msg, sizeof msg,
			    "Missing required parameter: 'input[%zu].call_id'.",
			    i);
			return msg;
		}
	}
	v = json_object_get(root, "previous_response_id");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) || !rs_find(g->r, json_string_value(v)))) {
		snprintf(msg, sizeof msg,
		    "Previous response with id '%.60s' not found.",
		    json_is_string(v) ? json_string_value(v) : "?");
		return msg;
	}
	add_text(g, json_object_get(root, "instructions"), 0);
	if (json_is_string(in)) {
		g->last_user.len = 0;
		add_text(g, in, 1);
	} else
		add_messages(g, in, "content", "user");
	g->stream = json_is_true(json_object_get(root, "stream"));
	g->include_usage = 1;
	v = json_object_get(root, "reasoning");
	g->reasoning = json_is_object(v) &&
	    json_is_string(json_object_get(v, "effort"));
	json_array_foreach (json_object_get(root, "include"), i, e)
		if (json_is_string(e) &&
		    strcmp(json_string_value(e),
			"reasoning.encrypted_content") == 0)
			g->enc = 1;
	return NULL;
}

static json_t *
rs_usage_json(gen_t *g)
{
	return json_pack("{s:I,s:{s:i},s:I,s:{s:i},s:I}", "input_tokens",
	    (json_int_t)g->P, "input_tokens_details", "cached_tokens", 0,
	    "output_tokens", (json_int_t)g->C, "output_tokens_details",
	    "reasoning_tokens", g->d.thinking && g->reasoning ? NTHINK : 0,
	    "total_tokens", (json_int_t)(g->P + g->C));
}

static json_t *
rs_reasoning_item(gen_t *g, int done)
{
	json_t *o = json_pack("{s:s,s:s,s:o}", "id", "rs_mock1", "type",
	    "reasoning", "summary",
	    done ? json_pack("[{s:s,s:s}]", "type", "summary_text", "text",
		       THINK_TEXT)
		 : json_array());
	if (done && g->enc)
		json_object_set_new(o, "encrypted_content", json_string(THINK_SIG));
	return o;
}

static json_t *
rs_text_item(gen_t *g, int done)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", "msg_mock1", "type",
	    "message", "status", done ? "completed" : "in_progress", "role",
	    "assistant", "content",
	    done ? json_pack("[{s:s,s:o,s:[]}]", "type", "output_text",
		       "text", jstr(g->pc.text.p, g->pc.text.len),
		       "annotations")
		 : json_array());
}

static json_t *
rs_call_item(gen_t *g, int done)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", "fc_mock1", "type",
	    "function_call", "status", done ? "completed" : "in_progress",
	    "call_id", "call_mock1", "name", g->tool, "arguments",
	    done ? TOOL_ARGS : "");
}

static json_t *
rs_response(gen_t *g, const char *status, int done)
{
	json_t *out = json_array();
	if (done && g->d.thinking && g->reasoning)
		json_array_append_new(out, rs_reasoning_item(g, 1));
	if (done)
		json_array_append_new(
		    out, g->tool ? rs_call_item(g, 1) : rs_text_item(g, 1));
	return json_pack("{s:s,s:s,s:I,s:s,s:n,s:n,s:s%,s:o,s:o}", "id",
	    g->idstr, "object", "response", "created_at",
	    (json_int_t)g->created, "status", status, "error",
	    "incomplete_details", "model", g->model.p, g->model.len, "output",
	    out, "usage", done ? rs_usage_json(g) : json_null());
}

static void
rs_nonstream(conn_t *c, gen_t *g)
{
	json_t *resp = rs_response(g, "completed", 1);
	rs_remember(g, resp);
	plan_json(c, 200, resp, g->extra.p);
}

/* One event: o gets its type and sequence_number. */
static void
rs_event(conn_t *c, gen_t *g, const char *type, json_t *o)
{
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "sequence_number", json_integer(g->seq++));
	sse_event(c, type, o);
}

static void
rs_stream_reasoning(conn_t *c, gen_t *g, int oi)
{
	rs_event(c, g, "response.output_item.added",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_reasoning_item(g, 0)));
	rs_event(c, g, "response.reasoning_summary_part.added",
	    json_pack("{s:s,s:i,s:i,s:{s:s,s:s}}", "item_id", "rs_mock1",
		"output_index", oi, "summary_index", 0, "part", "type",
		"summary_text", "text", ""));
	for (int i = 0; i < NTHINK; i++)
		rs_event(c, g, "response.reasoning_summary_text.delta",
		    json_pack("{s:s,s:i,s:i,s:s}", "item_id", "rs_mock1",
			"output_index", oi, "summary_index", 0, "delta",
			THINK_PIECES[i]));
	rs_event(c, g, "response.reasoning_summary_text.done",
	    json_pack("{s:s,s:i,s:i,s:s}", "item_id", "rs_mock1",
		"output_index", oi, "summary_index", 0, "text", THINK_TEXT));
	rs_event(c, g, "response.output_item.done",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_reasoning_item(g, 1)));
}

static void
rs_stream_text(conn_t *c, gen_t *g, int oi)
{
	rs_event(c, g, "response.output_item.added",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_text_item(g, 0)));
	rs_event(c, g, "response.content_part.added",
	    json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:[]}}", "item_id",
		"msg_mock1", "output_index", oi, "content_index", 0, "part",
		"type", "output_text", "text", "", "annotations"));
	for (int i = 0; i < g->pc.n; i++)
		rs_event(c, g, "response.output_text.delta",
		    json_pack("{s:s,s:i,s:i,s:o,s:[]}", "item_id", "msg_mock1",
			"output_index", oi, "content_index", 0, "delta",
			piece_json(g, i), "logprobs"));
	rs_event(c, g, "response.output_text.done",
	    json_pack("{s:s,s:i,s:i,s:o,s:[]}", "item_id", "msg_mock1",
		"output_index", oi, "content_index", 0, "text",
		jstr(g->pc.text.p, g->pc.text.len), "logprobs"));
	rs_event(c, g, "response.content_part.done",
	    json_pack("{s:s,s:i,s:i,s:{s:s,s:o,s:[]}}", "item_id",
		"msg_mock1", "output_index", oi, "content_index", 0, "part",
		"type", "output_text", "text",
		jstr(g->pc.text.p, g->pc.text.len), "annotations"));
	rs_event(c, g, "response.output_item.done",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_text_item(g, 1)));
}

static void
rs_stream_call(conn_t *c, gen_t *g, int oi)
{
	rs_event(c, g, "response.output_item.added",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_call_item(g, 0)));
	for (int i = 0; i < NFRAGS; i++)
		rs_event(c, g, "response.function_call_arguments.delta",
		    json_pack("{s:s,s:i,s:s}", "item_id", "fc_mock1",
			"output_index", oi, "delta", TOOL_FRAGS[i]));
	rs_event(c, g, "response.function_call_arguments.done",
	    json_pack("{s:s,s:i,s:s,s:s}", "item_id", "fc_mock1",
		"output_index", oi, "name", g->tool, "arguments", TOOL_ARGS));
	rs_event(c, g, "response.output_item.done",
	    json_pack("{s:i,s:o}", "output_index", oi, "item",
		rs_call_item(g, 1)));
}

static void
rs_stream(conn_t *c, gen_t *g)
{
	int oi = 0;
	stream_head(c, g, "text/event-stream");
	rs_event(c, g, "response.created",
	    json_pack("{s:o}", "response", rs_response(g, "in_progress", 0)));
	rs_event(c, g, "response.in_progress",
	    json_pack("{s:o}", "response", rs_response(g, "in_progress", 0)));
	if (g->d.thinking && g->reasoning)
		rs_stream_reasoning(c, g, oi++);
	(g->tool ? rs_stream_call : rs_stream_text)(c, g, oi);
	json_t *done = rs_response(g, "completed", 1);
	rs_remember(g, done);
	rs_event(c, g, "response.completed",
	    json_pack("{s:o}", "response", done));
	if (error_cut(c, g) >= 0)
		rs_event(c, g, "error",
		    json_pack("{s:s,s:s,s:n}", "code", "server_error", "message",
			"The server had an error while processing your "
			"request.",
			"param"));
}

/* ------------------------------------------------------------------ */
/* API request handling                                                */
/* ------------------------------------------------------------------ */
/* 1 when v is one of g_key's comma-separated keys. */
static int
key_listed(const char *v)
{
	size_t n = strlen(v);
	const char *k = g_key;

	while (k && *k) {
		const char *comma = strchr(k, ',');
		size_t len = comma ? (size_t)(comma - k) : strlen(k);
		if (len == n && memcmp(k, v, n) == 0)
			return 1;
		k = comma ? comma + 1 : NULL;
	}
	return 0;
}

static int
auth_ok(const req_t *r, int prov)
{
	static const char *hn[] = {
	    "authorization", "api-key", "x-api-key", "x-goog-api-key"};
	if (!g_key)
		return 1;
	for (int p = 0; p < 4; p++) {
		if (prov >= 0 && p != prov)
			continue;
		const char *v = req_hdr(r, hn[p]);
		if (!v)
			continue;
		if (p == P_OPENAI) {
			if (strncasecmp(v, "Bearer ", 7))
				continue;
			v = trim((char *)v + 7);
		}
		if (key_listed(v))
			return 1;
	}
	return 0;
}

/* First tool name for the provider, or NULL. */
static const char *
find_tool(gen_t *g)
{
	json_t *tools = json_object_get(g->root, "tools"), *t;
	size_t i;
	json_array_foreach (tools, i, t) {
		json_t *n = NULL;
		if (g->prov == P_ANTH || g->prov == P_RESP)
			n = json_object_get(t, "name");
		else if (g->prov == P_GEMINI) {
			json_t *fd = json_object_get(t, "functionDeclarations");
			if (!fd)
				fd =
				    json_object_get(t, "function_declarations");
			n = json_object_get(json_array_get(fd, 0), "name");
		} else
			n = json_object_get(
			    json_object_get(t, "function"), "name");
		if (json_is_string(n))
			return json_string_value(n);
	}
	return NULL;
}

/* 1 when the request's last turn carries a tool result (the model has
 * called its tool: tool_once answers in text then). */
static int
after_tool_result(gen_t *g)
{
	json_t *root = g->root, *last, *c, *e;
	size_t i;
	const char *t;

	switch (g->prov) {
	case P_RESP:
		last = json_object_get(root, "input");
		t = json_string_value(json_object_get(
		    json_array_get(last, json_array_size(last) - 1), "type"));
		return t && (strcmp(t, "function_call_output") == 0 ||
				strcmp(t, "custom_tool_call_output") == 0);
	case P_GEMINI:
		last = json_object_get(root, "contents");
		c = json_object_get(
		    json_array_get(last, json_array_size(last) - 1), "parts");
		json_array_foreach (c, i, e)
			if (json_object_get(e, "functionResponse"))
				return 1;
		return 0;
	case P_ANTH:
		last = json_object_get(root, "messages");
		c = json_object_get(
		    json_array_get(last, json_array_size(last) - 1), "content");
		json_array_foreach (c, i, e) {
			t = json_string_value(json_object_get(e, "type"));
			if (t && strcmp(t, "tool_result") == 0)
				return 1;
		}
		return 0;
	default:
		last = json_object_get(root, "messages");
		t = json_string_value(json_object_get(
		    json_array_get(last, json_array_size(last) - 1), "role"));
		return t && strcmp(t, "tool") == 0;
	}
}

static void
set_model(gen_t *g, const char *s, size_t n)
{
	g->model.len = 0;
	utf8_clean(&g->model, s, n);
}

/* Validate body and collect text; returns NULL or a 400 message. */
/*
 * A tool's parameters must be JSON Schema where the provider says so
 * (OpenAI, Azure: function.parameters; Anthropic: input_schema, whose
 * type must be "object"): a "type" that is not one of JSON Schema's
 * lower-case names ("OBJECT", Gemini's spelling) is refused, as OpenAI
 * does ("Invalid schema for function"). Walks properties, items, anyOf.
 */
static int
schema_type_ok(json_t *t)
{
	static const char *const names[] = {"object", "string", "number",
	    "integer", "boolean", "array", "null"};
	size_t i, j;
	json_t *e;

	if (t == NULL)
		return 1;
	if (json_is_array(t)) {
		json_array_foreach (t, j, e)
			if (!schema_type_ok(e))
				return 0;
		return 1;
	}
	for (i = 0; json_is_string(t) && i < sizeof names / sizeof names[0];
	    i++)
		if (strcmp(json_string_value(t), names[i]) == 0)
			return 1;
	return 0;
}

static int
schema_ok(json_t *s, int depth)
{
	const char *k;
	json_t *v, *e;
	size_t i;

	if (!json_is_object(s) || depth > 64)
		return 1;
	if (!schema_type_ok(json_object_get(s, "type")))
		return 0;
	json_object_foreach (json_object_get(s, "properties"), k, v)
		if (!schema_ok(v, depth + 1))
			return 0;
	json_array_foreach (json_object_get(s, "anyOf"), i, e)
		if (!schema_ok(e, depth + 1))
			return 0;
	return schema_ok(json_object_get(s, "items"), depth + 1);
}

static const char *
tools_check(gen_t *g)
{
	json_t *tools = json_object_get(g->root, "tools"), *t, *schema;
	size_t i;

	if (g->prov == P_GEMINI)
		return NULL;
	json_array_foreach (tools, i, t) {
		if (g->prov == P_ANTH) {
			const char *ty =
			    json_string_value(json_object_get(t, "type"));
			if (ty && strcmp(ty, "custom") != 0)
				continue; /* Anthropic's own server tools */
			schema = json_object_get(t, "input_schema");
			if (!json_is_object(schema) ||
			    !json_is_string(json_object_get(schema, "type")) ||
			    strcmp(json_string_value(
				       json_object_get(schema, "type")),
				"object") != 0)
				return "tools.0.custom.input_schema.type: Input "
				       "should be 'object'";
		} else
			schema = json_object_get(
			    json_object_get(t, "function"), "parameters");
		if (!schema_ok(schema, 0))
			return g->prov == P_ANTH
			    ? "tools.0.custom.input_schema: JSON schema is "
			      "invalid"
			    : "Invalid schema for function: a 'type' is not "
			      "valid under any of the given schemas";
	}
	return NULL;
}

static const char *
extract(gen_t *g)
{
	json_t *root = g->root, *m = json_object_get(root, "model");
	if (json_is_string(m))
		set_model(g, json_string_value(m), json_string_length(m));
	else if (g->prov == P_OPENAI || g->prov == P_ANTH ||
	    g->prov == P_RESP)
		return g->prov == P_ANTH ? "model: Field required"
					 : "you must provide a model parameter";
	if (g->prov == P_RESP)
		return rs_extract(g);
	if (g->prov == P_GEMINI) {
		json_t *ct = json_object_get(root, "contents");
		if (!json_is_array(ct))
			return "* GenerateContentRequest.contents: contents is "
			       "not specified";
		json_t *si = json_object_get(root, "systemInstruction");
		if (!si)
			si = json_object_get(root, "system_instruction");
		add_text(g,
		    json_is_object(si) ? json_object_get(si, "parts") : si, 0);
		add_messages(g, ct, "parts", "user");
		return NULL;
	}
	json_t *msgs = json_object_get(root, "messages");
	if (!json_is_array(msgs))
		return g->prov == P_ANTH
		    ? "messages: Field required"
		    : "Missing required parameter: 'messages'.";
	if (g->prov == P_ANTH)
		add_text(g, json_object_get(root, "system"), 0);
	add_messages(g, msgs, "content", "user");
	const char *bad = tools_check(g);
	if (bad)
		return bad;
	json_t *s = json_object_get(root, "stream");
	g->stream = json_is_true(s);
	json_t *so = json_object_get(root, "stream_options");
	g->include_usage = json_is_true(json_object_get(so, "include_usage"));
	return NULL;
}

static void
gen_ids(gen_t *g)
{
	static const char *pfx[] = {
	    "chatcmpl-mock", "chatcmpl-mock", "msg_mock", "mock", "resp_mock"};
	g->id = ++g_idseq;
	g->created = (long long)time(NULL);
	snprintf(g->idstr, sizeof g->idstr, "%s%llu", pfx[g->prov], g->id);
	if (g->prov == P_ANTH)
		sb_printf(&g->extra, "request-id: req_mock%llu\r\n", g->id);
	else if (g->prov != P_GEMINI)
		sb_printf(&g->extra, "x-request-id: req_mock%llu\r\n", g->id);
	if (g->d.retry_after >= 0)
		sb_printf(&g->extra, "Retry-After: %d\r\n", g->d.retry_after);
}

static void
gen_free(gen_t *g)
{
	json_decref(g->root);
	sb_free(&g->model);
	sb_free(&g->extra);
	sb_free(&g->last_user);
	sb_free(&g->prefix);
	sb_free(&g->said);
	pc_free(&g->pc);
	free(g->targs);
	for (int i = 0; i < NFRAGS; i++)
		free(g->tfrag[i]);
}

/* Produce the plan (response) for a provider request. */
static void
tool_args_set(gen_t *g, const char *args)
{
	size_t n = strlen(args), a = n / 3, b = 2 * n / 3;

	free(g->targs);
	for (int i = 0; i < NFRAGS; i++)
		free(g->tfrag[i]);
	g->targs = strdup(args);
	g->tfrag[0] = strndup(args, a);
	g->tfrag[1] = strndup(args + a, b - a);
	g->tfrag[2] = strdup(args + b);
}

/* A declared tool: its name and its parameters' schema, in any dialect. */
static const char *
tool_decl(gen_t *g, json_t *t, json_t **schema)
{
	json_t *n;

	if (g->prov == P_ANTH) {
		*schema = json_object_get(t, "input_schema");
		n = json_object_get(t, "name");
	} else if (g->prov == P_GEMINI) {
		*schema = json_object_get(t, "parametersJsonSchema");
		if (!*schema)
			*schema = json_object_get(t, "parameters");
		n = json_object_get(t, "name");
	} else {
		json_t *fn = json_object_get(t, "function");
		*schema = json_object_get(fn, "parameters");
		n = json_object_get(fn, "name");
	}
	return json_string_value(n);
}

/* The text of the tool result the conversation ends in, into g->said;
 * 0 when its last turn is not a tool result. */
static int
last_tool_result(gen_t *g)
{
	json_t *arr = json_object_get(g->root,
	    g->prov == P_GEMINI ? "contents" : "messages");
	json_t *last = json_array_get(arr, json_array_size(arr) - 1), *e;
	size_t i;

	if (!json_is_object(last))
		return 0;
	if (g->prov == P_OPENAI || g->prov == P_AZURE) {
		if (!json_is_string(json_object_get(last, "role")) ||
		    strcmp(json_string_value(json_object_get(last, "role")),
			"tool") != 0)
			return 0;
		json_t *c = json_object_get(last, "content");
		if (json_is_string(c))
			sb_add(&g->said, json_string_value(c),
			    json_string_length(c));
		else
			sb_json(&g->said, c);
		return 1;
	}
	json_t *parts = json_object_get(
	    last, g->prov == P_GEMINI ? "parts" : "content");
	json_array_foreach (parts, i, e) {
		json_t *r = g->prov == P_GEMINI
		    ? json_object_get(e, "functionResponse")
		    : (json_is_string(json_object_get(e, "type")) &&
			      strcmp(json_string_value(
					 json_object_get(e, "type")),
				  "tool_result") == 0
			  ? json_object_get(e, "content")
			  : NULL);
		if (!r)
			continue;
		if (g->prov == P_GEMINI)
			r = json_object_get(r, "response");
		if (json_is_string(r))
			sb_add(&g->said, json_string_value(r),
			    json_string_length(r));
		else if (json_is_array(r) && g->prov == P_ANTH) {
			size_t j;
			json_t *b;
			json_array_foreach (r, j, b) {
				json_t *t = json_object_get(b, "text");
				if (json_is_string(t))
					sb_add(&g->said, json_string_value(t),
					    json_string_length(t));
			}
		} else
			sb_json(&g->said, r);
		return 1;
	}
	return 0;
}

/* call=NAME: the agent's own tool called with its first required
 * property set to arg, unless the conversation ends in a tool result. */
static void
agent_call(gen_t *g)
{
	json_t *tools = json_object_get(g->root, "tools"), *t, *schema;
	size_t i, j;

	if (last_tool_result(g))
		return;
	json_array_foreach (tools, i, t) {
		json_t *list = g->prov == P_GEMINI
		    ? json_object_get(t, "functionDeclarations")
		    : NULL;
		json_t *one = NULL;
		size_t n = list ? json_array_size(list) : 1;
		for (j = 0; j < n; j++) {
			one = list ? json_array_get(list, j) : t;
			const char *name = tool_decl(g, one, &schema);
			if (!name || strcasecmp(name, g->d.call) != 0)
				continue;
			json_t *req = json_object_get(schema, "required");
			const char *prop =
			    json_string_value(json_array_get(req, 0));
			json_t *a = json_object();
			json_object_set_new(a, prop ? prop : "pattern",
			    json_string(g->d.arg));
			char *dump = json_dumps(a, JSON_COMPACT);
			json_decref(a);
			if (dump) {
				tool_args_set(g, dump);
				g->tool = name;
			}
			free(dump);
			return;
		}
	}
}

/* A provider's prompt cache, as the mock plays it: a cache lives per API
 * key (prompt caches are per organisation, and a key pool spreads one
 * session over several), keyed by the conversation's first message; a
 * request whose key saw that prefix before gets half its prompt reported
 * as cached_tokens (OpenAI chat's usage; enough to show the share move). */

static unsigned long long
fnv(unsigned long long h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

static long long
prompt_cache(const gen_t *g)
{
	static const char *hn[] = {
	    "authorization", "api-key", "x-api-key", "x-goog-api-key"};
	json_t *first = json_array_get(json_object_get(g->root, "messages"), 0);
	unsigned long long h = 1469598103934665603ULL;
	char *dump;
	int i;

	for (i = 0; i < 4; i++) {
		const char *v = req_hdr(g->r, hn[i]);
		if (v)
			h = fnv(h, v, strlen(v));
	}
	if (first == NULL || (dump = json_dumps(first, JSON_SORT_KEYS)) == NULL)
		return 0;
	h = fnv(h, dump, strlen(dump));
	free(dump);
	for (i = 0; i < g_pcache_n; i++)
		if (g_pcache[i] == h)
			return g->P / 2;
	g_pcache[g_pcache_pos] = h;
	g_pcache_pos = (g_pcache_pos + 1) % PCACHE_MAX;
	if (g_pcache_n < PCACHE_MAX)
		g_pcache_n++;
	return 0;
}

/* Every assistant tool-call message carries its reasoning_content. */
static int
rc_passed(const gen_t *g)
{
	json_t *msgs = json_object_get(g->root, "messages"), *m;
	size_t i;
	json_array_foreach (msgs, i, m) {
		if (json_object_get(m, "tool_calls") &&
		    !json_is_string(json_object_get(m, "reasoning_content")))
			return 0;
	}
	return 1;
}

static int
gen_response(conn_t *c, gen_t *g)
{
	req_t *r = &c->req;
	json_error_t je;
	/* The Responses API: OpenAI's bearer token, or Azure's api-key on
	 * its /openai/v1/responses. */
	int ap = g->prov != P_RESP       ? g->prov
	    : strstr(r->path, "/openai/") ? P_AZURE
					  : P_OPENAI;
	if (!auth_ok(r, ap)) {
		send_error(c, g, 401, NULL);
		return 401;
	}
	g->root = json_loadb(r->body ? r->body : "", r->blen, 0, &je);
	if (!json_is_object(g->root)) {
		send_error(c, g, 400,
		    "We could not parse the JSON body of your request.");
		return 400;
	}
	const char *bad = extract(g);
	if (bad) {
		send_error(c, g, 400, bad);
		return 400;
	}
	int status = dir_status(&g->d);
	if (status) {
		send_error(c, g, status, NULL);
		return status;
	}
	if (g->prov == P_OPENAI && g->d.reasoning_content && !rc_passed(g)) {
		send_error(c, g, 400,
		    "The `reasoning_content` in the thinking mode must be "
		    "passed back to the API.");
		return 400;
	}
	if (g->d.call[0])
		agent_call(g);
	else if (g->d.tool || (g->d.tool_once && !after_tool_result(g)))
		g->tool = find_tool(g);
	make_reply(g);
	g->cached = prompt_cache(g);
	if (g->tool && g->d.split_ph)
		tool_echo(g);
	if (g->tool)
		g->C = NFRAGS;
	if (g->d.garbage)
		send_garbage(c, g);
	else if (g->prov == P_ANTH)
		(g->stream ? an_stream : an_nonstream)(c, g);
	else if (g->prov == P_GEMINI)
		(g->stream ? gm_stream : gm_nonstream)(c, g);
	else if (g->prov == P_RESP)
		(g->stream ? rs_stream : rs_nonstream)(c, g);
	else
		(g->stream ? oa_stream : oa_nonstream)(c, g);
	return 200;
}

static void
handle_api(
    conn_t *c, int prov, const char *model, size_t mlen, int stream, int sse)
{
	gen_t g;
	memset(&g, 0, sizeof g);
	g.c = c;
	g.r = &c->req;
	g.prov = prov;
	g.stream = stream;
	g.sse = sse;
	set_model(&g, model, mlen);
	dir_init(&g.d);
	dir_from_body(&g.d, c->req.body, c->req.blen);
	dir_from_headers(&g.d, &c->req);
	gen_ids(&g);
	if (g.d.hang) {
		c->hang = 1;
		st.hung++;
		st.open_hung++;
		gen_free(&g);
		return;
	}
	int status = gen_response(c, &g);
	plan_start(c, &g.d, status == 200 && g.stream);
	if (!g_quiet)
		fprintf(stderr, "%s %s -> %d%s\n", c->req.method, c->req.path,
		    status, g.stream ? " (stream)" : "");
	gen_free(&g);
}

static void
handle_models(conn_t *c)
{
	if (!auth_ok(&c->req, -1))
		plan_json(c, 401, oa_error(401, default_msg(401)), NULL);
	else
		plan_json(c, 200,
		    json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list",
			"data", "id", "mock-1", "object", "model", "created", 0,
			"owned_by", "mock"),
		    NULL);
	plan_start(c, NULL, 0);
}

/* A deterministic 8-dimension vector for a text: the same text, the
 * same vector, so tests can compare across providers. */
static json_t *
embed_vector(const char *t)
{
	unsigned long h = 5381;
	json_t *v = json_array();
	int i;

	for (; *t != '\0'; t++)
		h = h * 33 + (unsigned char)*t;
	for (i = 0; i < 8; i++) {
		h = h * 6364136223846793005UL + 1442695040888963407UL;
		json_array_append_new(v,
		    json_real((double)(h >> 40) / (double)(1UL << 24) - 0.5));
	}
	return v;
}

/* OpenAI/Azure POST .../embeddings: {"input": string | [string...]}. */
static void
handle_embeddings(conn_t *c, int prov)
{
	req_t *r = &c->req;
	json_t *root = json_loadb(r->body ? r->body : "", r->blen, 0, NULL);
	json_t *in = json_object_get(root, "input"), *data = json_array(), *e;
	size_t i, words = 0;

	if (!auth_ok(r, prov)) {
		plan_json(c, 401, oa_error(401, default_msg(401)), NULL);
	} else if (!json_is_string(in) && !json_is_array(in)) {
		plan_json(c, 400, oa_error(400, "'input' is required"), NULL);
	} else {
		if (json_is_string(in)) {
			json_t *a = json_array();
			json_array_append(a, in);
			in = a;
		} else
			json_incref(in);
		json_array_foreach (in, i, e) {
			const char *t = json_string_value(e);
			words += t ? strlen(t) / 4 + 1 : 1;
			json_array_append_new(data,
			    json_pack("{s:s,s:i,s:o}", "object", "embedding",
				"index", (int)i, "embedding",
				embed_vector(t ? t : "")));
		}
		json_decref(in);
		plan_json(c, 200,
		    json_pack("{s:s,s:O,s:O,s:{s:i,s:i}}", "object", "list",
			"data", data, "model",
			json_object_get(root, "model")
			    ? json_object_get(root, "model")
			    : json_string("mock-embed"),
			"usage", "prompt_tokens", (int)words, "total_tokens",
			(int)words),
		    NULL);
	}
	json_decref(data);
	json_decref(root);
	plan_start(c, NULL, 0);
}

/* Gemini POST .../models/{m}:batchEmbedContents. */
static void
handle_gemini_embed(conn_t *c)
{
	req_t *r = &c->req;
	json_t *root = json_loadb(r->body ? r->body : "", r->blen, 0, NULL);
	json_t *reqs = json_object_get(root, "requests"), *out = json_array();
	json_t *e;
	size_t i;

	if (!auth_ok(r, P_GEMINI))
		plan_json(c, 401,
		    error_json(P_GEMINI, 401, default_msg(401), 0), NULL);
	else if (!json_is_array(reqs))
		plan_json(c, 400,
		    error_json(P_GEMINI, 400, "requests is required", 0), NULL);
	else {
		json_array_foreach (reqs, i, e) {
			json_t *parts = json_object_get(
			    json_object_get(e, "content"), "parts");
			const char *t = json_string_value(
			    json_object_get(json_array_get(parts, 0), "text"));
			json_array_append_new(out,
			    json_pack(
				"{s:o}", "values", embed_vector(t ? t : "")));
		}
		plan_json(c, 200, json_pack("{s:O}", "embeddings", out), NULL);
	}
	json_decref(out);
	json_decref(root);
	plan_start(c, NULL, 0);
}

static void
handle_not_found(conn_t *c, int prov)
{
	sb_t m = {0};
	sb_printf(
	    &m, "Unknown request URL: %s %s.", c->req.method, c->req.path);
	sb_t clean = {0};
	utf8_clean(&clean, m.p, m.len);
	unsigned long long id = ++g_idseq;
	json_t *j = error_json(prov, 404, clean.p, id);
	if (prov == P_OPENAI)
		json_object_set_new(json_object_get(j, "error"), "code",
		    json_string("unknown_url"));
	sb_t extra = {0};
	if (prov == P_ANTH)
		sb_printf(&extra, "request-id: req_mock%llu\r\n", id);
	plan_json(c, 404, j, extra.p);
	sb_free(&extra);
	plan_start(c, NULL, 0);
	sb_free(&m);
	sb_free(&clean);
}

/*
 * Token counting, never a generation:
 *   Anthropic POST .../v1/messages/count_tokens: MessageCountTokensParams
 *     (model and messages required; generation-only members such as
 *     max_tokens, stream, temperature and metadata are refused as the API
 *     does: "Extra inputs are not permitted") -> {"input_tokens": n};
 *   Gemini POST .../models/{m}:countTokens: contents or
 *     generateContentRequest (exactly one; the latter with its "model"
 *     as "models/{m}") -> {"totalTokens": n}.
 * n is the word count the generation routes report as prompt tokens.
 */
static const char *
count_check(gen_t *g)
{
	static const char *const extra[] = {"max_tokens", "stream",
	    "temperature", "top_p", "top_k", "stop_sequences", "metadata",
	    "service_tier"};
	json_t *root = g->root, *gcr;
	size_t i;

	if (g->prov == P_ANTH) {
		for (i = 0; i < sizeof extra / sizeof extra[0]; i++)
			if (json_object_get(root, extra[i]))
				return "Extra inputs are not permitted";
		return extract(g);
	}
	gcr = json_object_get(root, "generateContentRequest");
	if (gcr != NULL && json_object_get(root, "contents") != NULL)
		return "contents and generateContentRequest are mutually "
		       "exclusive";
	if (gcr == NULL)
		return extract(g);
	if (!json_is_object(gcr) ||
	    !json_is_string(json_object_get(gcr, "model")) ||
	    strncmp(json_string_value(json_object_get(gcr, "model")),
		"models/", 7) != 0)
		return "generateContentRequest.model: must be models/{model}";
	g->root = gcr;
	const char *bad = extract(g);
	g->root = root;
	return bad;
}

static void
handle_count(conn_t *c, int prov, const char *model, size_t mlen)
{
	req_t *r = &c->req;
	json_error_t je;
	const char *bad;
	gen_t g;

	memset(&g, 0, sizeof g);
	g.c = c;
	g.r = r;
	g.prov = prov;
	set_model(&g, model, mlen);
	dir_init(&g.d);
	gen_ids(&g);
	st.counts++;
	if (!auth_ok(r, prov)) {
		plan_json(c, 401, error_json(prov, 401, default_msg(401), 0),
		    NULL);
		goto out;
	}
	g.root = json_loadb(r->body ? r->body : "", r->blen, 0, &je);
	bad = json_is_object(g.root) ? count_check(&g)
				     : "We could not parse the JSON body of "
				       "your request.";
	if (bad != NULL) {
		plan_json(c, 400, error_json(prov, 400, bad, 0), NULL);
		goto out;
	}
	if (g.P < 1)
		g.P = 1;
	plan_json(c, 200,
	    prov == P_ANTH
		? json_pack("{s:I}", "input_tokens", (json_int_t)g.P)
		: json_pack("{s:I,s:[{s:s,s:I}]}", "totalTokens",
		      (json_int_t)g.P, "promptTokensDetails", "modality",
		      "TEXT", "tokenCount", (json_int_t)g.P),
	    NULL);
out:
	plan_start(c, NULL, 0);
	gen_free(&g);
}

/* ------------------------------------------------------------------ */
/* a PII detector (Presidio analyzer's POST /analyze)                   */
/* ------------------------------------------------------------------ */
/* What the detector knows: type, value, score. */
static const struct {
	const char *type, *value;
	double score;
} det_known[] = {
    {"PERSON", "张三", 0.85},
    {"PERSON", "Alice Smith", 0.85},
    {"PERSON", "Carol", 0.2}, /* below any sensible threshold */
    {"LOCATION", "北京市海淀区中关村大街27号", 0.85},
    {"LOCATION", "221B Baker Street", 0.85},
};

/* The code points (as Python counts string indices) of s[0, n). */
static size_t
det_cps(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

static int
det_asked(json_t *ents, const char *type)
{
	size_t i;
	json_t *e;
	json_array_foreach (ents, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), type) == 0)
			return 1;
	return 0;
}

/* POST …/_detector/analyze: {text, language, entities[, score_threshold]}
 * -> [{entity_type, start, end, score, analysis_explanation}] in code
 * points, every occurrence of each known value of an asked type. The mode
 * (POST /_mock/detector?mode=) makes it fail: status (503), hang, garbage
 * (not JSON), offsets (an end past the text). */
static void
handle_detector(conn_t *c)
{
	json_error_t je;
	json_t *in = json_loadb(c->req.body ? c->req.body : "", c->req.blen,
	    0, &je);
	json_t *text = json_object_get(in, "text");
	json_t *ents = json_object_get(in, "entities");
	if (strcmp(g_det_mode, "hang") == 0) {
		json_decref(in);
		c->hang = 1;
		st.hung++;
		st.open_hung++;
		return;
	}
	if (!json_is_string(text) ||
	    !json_is_string(json_object_get(in, "language")) ||
	    !json_is_array(ents)) {
		json_decref(in);
		plan_json(c, 422, json_pack("{s:s}", "error",
		    "text, language and entities are required"), NULL);
		plan_start(c, NULL, 0);
		return;
	}
	if (strcmp(g_det_mode, "status") == 0) {
		json_decref(in);
		plan_json(c, 503, json_pack("{s:s}", "error", "down"), NULL);
		plan_start(c, NULL, 0);
		return;
	}
	if (strcmp(g_det_mode, "garbage") == 0) {
		json_decref(in);
		sb_t b = {0};
		sb_adds(&b, "[{\"entity_type\": \"PERSON\", \"start\"");
		plan_body(c, 200, "application/json", &b, NULL);
		plan_start(c, NULL, 0);
		return;
	}
	const char *t = json_string_value(text);
	size_t tn = json_string_length(text);
	json_t *out = json_array();
	for (size_t k = 0; k < sizeof det_known / sizeof det_known[0]; k++) {
		if (!det_asked(ents, det_known[k].type))
			continue;
		size_t vl = strlen(det_known[k].value);
		const char *q = t;
		while ((q = memmem(q, tn - (size_t)(q - t), det_known[k].value,
			    vl)) != NULL) {
			size_t at = det_cps(t, (size_t)(q - t));
			json_array_append_new(out,
			    json_pack("{s:s,s:I,s:I,s:f,s:n}", "entity_type",
				det_known[k].type, "start", (json_int_t)at, "end",
				(json_int_t)(at + det_cps(q, vl)), "score",
				det_known[k].score, "analysis_explanation"));
			q += vl;
		}
	}
	if (strcmp(g_det_mode, "offsets") == 0)
		json_array_append_new(out,
		    json_pack("{s:s,s:I,s:I,s:f}", "entity_type", "PERSON",
			"start", (json_int_t)0,
			"end", (json_int_t)(det_cps(t, tn) + 5), "score", 0.9));
	json_decref(in);
	plan_json(c, 200, out, NULL);
	plan_start(c, NULL, 0);
}

/* Route a complete request. */
static void
dispatch(conn_t *c)
{
	req_t *r = &c->req;
	const char *p = r->path;
	int post = strcmp(r->method, "POST") == 0;
	c->close_after = !want_keepalive(r);
	if (handle_control(c))
		return;
	st.requests++;
	if (query_param(r->query, "key", NULL, 0))
		st.gemini_query_keys++;
	log_request(r);
	const char *mp = strstr(p, "/models/");
	const char *colon = mp ? strchr(mp + 8, ':') : NULL;
	if (post && ends_with(p, "/_detector/analyze"))
		handle_detector(c);
	else if (post && ends_with(p, "/chat/completions")) {
		const char *dep = strstr(p, "/openai/deployments/");
		if (dep) {
			dep += 20;
			const char *sl = strchr(dep, '/');
			handle_api(c, P_AZURE, dep,
			    sl ? (size_t)(sl - dep) : strlen(dep), 0, 0);
		} else
			handle_api(c, P_OPENAI, "", 0, 0, 0);
	} else if (post && ends_with(p, "/responses"))
		handle_api(c, P_RESP, "", 0, 0, 0);
	else if (post && ends_with(p, "/embeddings"))
		handle_embeddings(
		    c, strstr(p, "/openai/deployments/") ? P_AZURE : P_OPENAI);
	else if (post && colon && strcmp(colon, ":batchEmbedContents") == 0)
		handle_gemini_embed(c);
	else if (post && ends_with(p, "/v1/messages"))
		handle_api(c, P_ANTH, "", 0, 0, 0);
	else if (post && ends_with(p, "/v1/messages/count_tokens"))
		handle_count(c, P_ANTH, "", 0);
	else if (post && colon && strcmp(colon, ":countTokens") == 0)
		handle_count(c, P_GEMINI, mp + 8, (size_t)(colon - mp - 8));
	else if (post && colon && strcmp(colon, ":generateContent") == 0)
		handle_api(c, P_GEMINI, mp + 8, (size_t)(colon - mp - 8), 0, 0);
	else if (post && colon &&
	    strcmp(colon, ":streamGenerateContent") == 0) {
		char alt[16];
		int sse = query_param(r->query, "alt", alt, sizeof alt) &&
		    strcmp(alt, "sse") == 0;
		handle_api(
		    c, P_GEMINI, mp + 8, (size_t)(colon - mp - 8), 1, sse);
	} else if (strcmp(r->method, "GET") == 0 && ends_with(p, "/models"))
		handle_models(c);
	else if (post && ends_with(p, "/responses/compact"))
		handle_compact(c);
	else if (handle_stored(c))
		;
	else
		handle_not_found(c,
		    mp || strstr(p, "/v1beta")      ? P_GEMINI
			: strstr(p, "/v1/messages") ? P_ANTH
						    : P_OPENAI);
}

/* Malformed HTTP: answer and close. */
static void
fatal_response(conn_t *c, int status)
{
	const char *msg = status == 413 ? "Request body too large."
	    : status == 431             ? "Request header fields too large."
					: "Malformed HTTP request.";
	req_reset(&c->req);
	plan_reset(&c->plan);
	c->close_after = 1;
	c->in_dead = 1;
	plan_json(c, status, oa_error(status, msg), NULL);
	plan_start(c, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* connection driver                                                   */
/* ------------------------------------------------------------------ */
/* Advance the connection as far as possible. Returns 0 if it was freed. */
static int
conn_drive(conn_t *c)
{
	for (;;) {
		plan_t *p = &c->plan;
		if (c->hang)
			return 1;
		if (p->active) {
			/* queue everything that is due now, then write it in one go */
			while (!p->done && !p->timer_pending &&
			    out_pending(c) <= OUT_HIGH)
				plan_step(c);
			int f = out_flush(c);
			if (f < 0) {
				conn_destroy(c, END_ABORT);
				return 0;
			}
			if (!p->done) {
				if (f == 1 && !p->timer_pending)
					continue; /* drained below the high-water mark */
				return 1;
			}
			if (f == 0)
				return 1;
			if (p->kill) {
				conn_destroy(c,
				    p->kill == KILL_RESET ? END_RESET
							  : END_FIN);
				return 0;
			}
			plan_stream_end(c, 0);
			plan_reset(p);
			if (c->close_after) {
				conn_destroy(c, END_FIN);
				return 0;
			}
			continue;
		}
		if (c->in_dead) {
			conn_destroy(c, END_FIN);
			return 0;
		}
		int r = parse_request(c);
		if (r == 0 && c->rd_blocked) {
			if (c->in.len < IN_MAX) {
				c->rd_blocked = 0;
				conn_read(c);
				continue;
			}
			r = -413;
		}
		if (r == 0)
			return 1;
		if (r < 0) {
			fatal_response(c, -r);
			continue;
		}
		dispatch(c);
		req_consume(c);
	}
}

static void
conn_event(conn_t *c, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		conn_read(c);
	if (ev & (EPOLLHUP | EPOLLERR))
		c->peer_eof = 1;
	if (conn_drive(c) && c->peer_eof)
		conn_destroy(c, END_ABORT);
}

static void
run_timers(void)
{
	long long now = now_ms();
	while (g_heap_n && g_heap[0]->t_due <= now) {
		conn_t *c = g_heap[0];
		heap_del(c);
		c->plan.timer_pending = 0;
		if (conn_drive(c) && c->peer_eof)
			conn_destroy(c, END_ABORT);
	}
}

static void
do_accept(void)
{
	for (;;) {
		int fd =
		    accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) &&
			    g_spare >= 0) {
				close(
				    g_spare); /* accept and drop to avoid a busy loop */
				fd = accept(g_lfd, NULL, NULL);
				if (fd >= 0)
					close(fd);
				g_spare =
				    open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_t *c = xrealloc(NULL, sizeof *c);
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->hidx = -1;
		c->req.minor = 1;
		c->next = g_conns;
		if (g_conns)
			g_conns->prev = c;
		g_conns = c;
		st.open_connections++;
		struct epoll_event e = {
		    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		    .data.ptr = c};
		if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e) < 0)
			conn_destroy(c, END_FIN);
	}
}

/* ------------------------------------------------------------------ */
/* startup                                                             */
/* ------------------------------------------------------------------ */
static void
usage(void)
{
	fputs("usage: mock_upstream -l 127.0.0.1:PORT [-p PORTFILE] [-k KEY] "
	      "[-q]\n",
	    stderr);
	exit(2);
}

static int
open_listener(const char *spec, int *port)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof host)
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = 0;
	struct sockaddr_in a = {.sin_family = AF_INET,
	    .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
	    one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	socklen_t al = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, 65535) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int
write_portfile(const char *path, int port)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
setup_signals(void)
{
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
event_loop(void)
{
	struct epoll_event evs[512];
	for (;;) {
		int timeout = -1;
		if (g_heap_n) {
			long long d = g_heap[0]->t_due - now_ms();
			timeout = d < 0 ? 0 : (int)(d > 60000 ? 60000 : d);
		}
		int n = epoll_wait(g_ep, evs, 512, timeout);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return;
		}
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;
			if (ptr == &g_tag_signal)
				return;
			if (ptr == &g_tag_listen)
				do_accept();
			else
				conn_event(ptr, evs[i].events);
		}
		run_timers();
	}
}

static void
cleanup(void)
{
	while (g_conns)
		conn_destroy(g_conns, END_FIN);
	log_clear();
	free(g_heap);
	close(g_lfd);
	close(g_sfd);
	close(g_ep);
	if (g_spare >= 0)
		close(g_spare);
}

int
main(int argc, char **argv)
{
	const char *listen_spec = NULL, *portfile = NULL;
	int opt, port = 0;
	while ((opt = getopt(argc, argv, "l:p:k:q")) != -1) {
		switch (opt) {
		case 'l': listen_spec = optarg; break;
		case 'p': portfile = optarg; break;
		case 'k':
			snprintf(g_key_buf, sizeof g_key_buf, "%s", optarg);
			g_key = g_key_buf;
			break;
		case 'q': g_quiet = 1; break;
		default: usage();
		}
	}
	if (!listen_spec)
		usage();
	raise_nofile();
	g_sfd = setup_signals();
	g_lfd = open_listener(listen_spec, &port);
	if (g_lfd < 0) {
		fprintf(stderr, "mock_upstream: cannot listen on %s: %s\n",
		    listen_spec, strerror(errno));
		return 1;
	}
	g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &g_tag_listen};
	epoll_ctl(g_ep, EPOLL_CTL_ADD, g_lfd, &e);
	e.data.ptr = &g_tag_signal;
	if (g_sfd >= 0)
		epoll_ctl(g_ep, EPOLL_CTL_ADD, g_sfd, &e);
	if (portfile && write_portfile(portfile, port) < 0) {
		fprintf(stderr, "mock_upstream: cannot write %s: %s\n",
		    portfile, strerror(errno));
		return 1;
	}
	printf("listening %.*s:%d\n",
	    (int)(strrchr(listen_spec, ':') - listen_spec), listen_spec, port);
	fflush(stdout);
	event_loop();
	cleanup();
	return 0;
}
