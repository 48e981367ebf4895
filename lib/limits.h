/* SPDX-License-Identifier: MIT */
/* limits.h - every hard bound of the relay, with its unit and its answer. */
#ifndef RELAY_LIMITS_H
#define RELAY_LIMITS_H

/* Request body ceiling when the config sets none: bytes, over it 413. */
#define RELAY_BODY_MAX_DEFAULT (16u * 1024 * 1024)
/* Absolute request body ceiling a config may set: bytes. */
#define RELAY_BODY_MAX_CEILING (256u * 1024 * 1024)
/* Blocks of this size and more get a mapping of their own, unmapped when
 * freed (glibc's M_MMAP_THRESHOLD, fixed): bytes. */
#define RELAY_MMAP_THRESHOLD (1024u * 1024)
/* A request whose body reached this size gives the free pages of every
 * malloc arena back to the system when it ends (malloc_trim): bytes. */
#define RELAY_TRIM_AFTER_BODY (1024u * 1024)
/* Buffered (non-stream) upstream response: bytes, over it 502. */
#define RELAY_UPSTREAM_BODY_MAX (64u * 1024 * 1024)
/* One SSE event from upstream: bytes, over it the stream fails with 502. */
#define RELAY_SSE_EVENT_MAX (4u * 1024 * 1024)
/* One upstream response header line: bytes; longer lines are ignored. */
#define RELAY_UPSTREAM_HEADER_MAX 8192
/* Config file: bytes, over it the file is refused. */
#define RELAY_CONFIG_MAX (4u * 1024 * 1024)
/* pii_protection.detector: the call's time limit, ms, and the score
 * below which a finding is ignored, unless configured. */
#define RELAY_PII_DETECT_MS_DEFAULT 500
#define RELAY_PII_DETECT_SCORE_DEFAULT 0.5
/* Findings of one detector answer that are read; more fail the answer. */
#define RELAY_PII_DETECT_MAX 4096
/* The detector's answer: bytes; a longer one fails the call. */
#define RELAY_PII_DETECT_ANSWER_MAX (8u * 1024 * 1024)
/* Names (providers, models, headers): bytes. */
#define RELAY_NAME_MAX 256
/* The names of a Responses request's custom tools, "\n"-separated, that a
 * translated answer remembers (Codex sends one or two). */
#define RELAY_RS_CUSTOM_MAX 1024
/* The smallest max_output_tokens OpenAI's Responses API accepts: a smaller
 * limit a client of another dialect sets is raised to it. */
#define RELAY_RS_MAX_OUTPUT_MIN 16
/* The longest upstream response id a relay response id wraps (OpenAI's
 * are "resp_" and 48 hex digits; room for other vendors'). */
#define RELAY_RS_UPSTREAM_ID_MAX 256
/* A URL we build for an upstream: bytes. */
#define RELAY_URL_MAX 4096
/* A header value we send upstream (the client's anthropic-beta, content
 * type, accept): bytes, over it 400. */
#define RELAY_UPSTREAM_HEADER_VALUE_MAX 1024
/* Client-supplied x-request-id accepted as is: bytes of [A-Za-z0-9._-]. */
#define RELAY_REQID_MAX 64
/* Responder threads per process: count. */
#define RELAY_THREADS_DEFAULT 128
#define RELAY_THREADS_MAX 8192
/* Thread stack: bytes. Streams are handled without deep recursion. */
#define RELAY_THREAD_STACK (256u * 1024)
/* SSE comment heartbeat while the upstream is silent: milliseconds. */
#define RELAY_HEARTBEAT_MS_DEFAULT 500
/* Upstream timeouts when a provider sets none: milliseconds, over them 504.
 * Streams have no total cap by default: a healthy long stream never ends
 * because of its length. */
#define RELAY_CONNECT_MS_DEFAULT 10000
#define RELAY_FIRST_BYTE_MS_DEFAULT 300000
#define RELAY_IDLE_MS_DEFAULT 300000
#define RELAY_TOTAL_MS_DEFAULT 0
/* The keys file is looked at (one stat; a reload only when it changed)
 * at most this often per responder: milliseconds. 0: at every request, so
 * that a key is usable the moment the admin answers and a disabled,
 * rotated or deleted one is refused at once by every responder on the
 * host; a stat costs about a microsecond (measured: keys_acquire() with
 * an unchanged file, see tests/unit/test_keys.c). */
#define RELAY_KEYS_CHECK_MS 0
/* Wrong admin tokens from one client address a relay-admin process lets
 * through before slowing that address down: count, within
 * RELAY_ADMIN_FAIL_WINDOW_S seconds. Past it every admin request from the
 * address, right token or not, is answered 429 with Retry-After for a
 * pause that doubles with each further failure, up to
 * RELAY_ADMIN_LOCK_MAX_S seconds. Addresses remembered per process. */
#define RELAY_ADMIN_FAIL_FREE 20
#define RELAY_ADMIN_FAIL_WINDOW_S 60
#define RELAY_ADMIN_LOCK_MAX_S 60
#define RELAY_ADMIN_FAIL_SLOTS 256
/* The end of the access log /admin/logs reads: bytes (about a thousand
 * lines); lines it returns at most: count. */
#define RELAY_ADMIN_LOG_TAIL (256u * 1024)
#define RELAY_ADMIN_LOG_LINES_MAX 200
/* Responder processes /admin/processes lists at most: count. */
#define RELAY_ADMIN_PROCS_MAX 256
/* Config file is looked at for changes at most this often: milliseconds. */
#define RELAY_CONFIG_CHECK_MS 1000
/* Graceful drain on SIGTERM before in-flight requests are cut: ms. */
#define RELAY_DRAIN_MS_DEFAULT 30000
/* memcached: per-operation timeout, milliseconds. */
#define RELAY_KV_TIMEOUT_MS_DEFAULT 250
/* memcached: the largest value read or written, bytes (memcached's own
 * item limit is 1 MB unless raised with -I). */
#define RELAY_KV_VALUE_MAX (8u * 1024 * 1024)
/* memcached: bytes one read of an answer asks for. */
#define RELAY_KV_READ (16u * 1024)
/* memcached: servers kv_ping() asks, count. */
#define RELAY_KV_SERVERS_MAX 64
/* An egress proxy's URL (providers[].proxy), credentials included: bytes. */
#define RELAY_EGRESS_URL_MAX 1024
/* memcached when the config names none and RELAY_MEMCACHED is unset. */
#define RELAY_KV_SERVER_DEFAULT "127.0.0.1:11211"
/* memcached: keys of one multi-get, count. */
#define RELAY_KV_MGET_MAX 64
/* kv_nudge() batches a connection may leave unanswered before its next
 * user reads their "MN" marks first. */
#define RELAY_KV_OWED_MAX 32
/* Sockets one transfer may ask upstream.c to poll (a connection; two
 * while happy eyeballs races IPv6 against IPv4). */
#define RELAY_UPSTREAM_SOCKS 4
/* On a loop's hub: bytes of one transfer queued for its coroutine before
 * curl is told to pause it (the coroutine waits on a slow client). */
#define RELAY_UPSTREAM_QUEUE (64u * 1024)
/* libcurl's receive buffer per upstream handle (CURLOPT_BUFFERSIZE):
 * bytes. It lives as long as the handle, so a parked stream holds it for
 * minutes; an SSE event is a few hundred bytes, and a large answer takes
 * a few more reads. curl's default is 16 KiB. */
#define RELAY_UPSTREAM_RECV_BUFFER 4096
/* On a loop's hub: idle upstream connections kept for reuse, count (all
 * the loop's calls share them). */
#define RELAY_UPSTREAM_HUB_CONNS 256
/* On a loop's hub: how long the timer coroutine sleeps when curl set no
 * timeout, ms (it is woken anyway when curl sets one). */
#define RELAY_UPSTREAM_HUB_NAP_MS 1000
/* FastCGI params of one request (the CGI environment the web server
 * sends): bytes. lighttpd and Caddy send 1-3 KiB; more is refused. */
#define RELAY_FCGI_PARAMS_MAX (64u * 1024)
/* The largest FastCGI record: header, content and padding, bytes; a read
 * buffer this big always holds a whole record. */
#define RELAY_FCGI_RECORD_MAX (8u + 65535u + 255u)
/* FastCGI connections one process says it takes (FCGI_MAX_CONNS,
 * FCGI_MAX_REQS in answer to FCGI_GET_VALUES). */
#define RELAY_FCGI_CONNS_MAX 10000
/* The loop runtime's ceiling on requests in flight per process, past
 * which a 503 answers at once: count. ~30 KB each (a coroutine's stack
 * pages, an upstream handle, buffers): 4096 fit a small host. */
#define RELAY_MAX_INFLIGHT_DEFAULT 4096
/* The listening socket's backlog (the kernel caps it at
 * net.core.somaxconn): connections. A web server opening thousands of
 * streams at once must not be refused while a loop is busy. */
#define RELAY_LISTEN_BACKLOG 4096
/* accept(2) out of fds or memory: wait this long before the next: ms. */
#define RELAY_ACCEPT_BACKOFF_MS 100
/* Coroutine stacks (mapped; only the pages touched count in RSS): a
 * request's, and a small one for listeners. */
#define RELAY_CORO_STACK (256u * 1024)
#define RELAY_CORO_STACK_SMALL (32u * 1024)
/* A request answered before its body was read: how long its FastCGI
 * connection waits for the web server to close first (a close with bytes
 * unread resets the peer, which may cost it the answer): ms. */
#define RELAY_FCGI_LINGER_MS 2000
/* A broken answer (req_cut): from its last bytes to the torn record that
 * tells the web server, so that it forwards the head first: ms. */
#define RELAY_FCGI_TEAR_AFTER_MS 10
/* Upstream handles a loop thread keeps idle for its next requests (each
 * keeps its connections alive): count. */
#define RELAY_LOOP_UPSTREAMS_KEPT 64
/* Coroutine stacks of the usual size a loop keeps for reuse (a mapping
 * and its guard page each, with the pages they touched): count. */
#define RELAY_CORO_STACKS_KEPT 64
/* memcached servers in a config: count. */
#define RELAY_KV_SERVERS_MAX 64
/* JSON nesting accepted from clients and upstreams: levels (jansson's own
 * cap is 2048; ours is checked after parsing, before any walk). */
#define RELAY_JSON_DEPTH_MAX 128

/* Output tokens reserved for a request that sets no max_tokens: tokens. */
#define RELAY_DEFAULT_MAX_TOKENS 4096
/* The largest count a quota works with: tokens, requests or micro-USD. A
 * limit above it counts as it (2^50 micro-USD is $1.1 billion, above the
 * admin API's $1e9 budget cap); a reservation above its limit counts as
 * that limit plus one (refused all the same), a settled use above it as
 * it plus one. memcached's counters are 64 bits and wrap: 2^14 such
 * amounts would have to be in flight on one counter at once to wrap it. */
#define RELAY_QUOTA_MAX (1ull << 50)
/* Provider API versions when the config names none. */
#define RELAY_AZURE_API_VERSION "2024-10-21"
/* Access log day files kept (access_log.retention_days): a network log
 * is kept at least six months (网络安全法 art. 21). */
#define RELAY_ACCESS_LOG_DAYS_DEFAULT 180
/* Base URLs of one provider (providers[].base_urls). */
#define RELAY_BASE_URLS_MAX 16
/* One access log line at most, "prev" included: bytes. */
#define RELAY_ACCESS_LINE_MAX 8272
/* Ours, as every upstream sees it (the Makefile may set the version). */
#ifndef RELAY_VERSION
#define RELAY_VERSION "0.9"
#endif
#define RELAY_USER_AGENT "llm-relay/" RELAY_VERSION
#define RELAY_ANTHROPIC_VERSION "2023-06-01"
/* Response cache: an entry's lifetime (seconds), the largest answer kept
 * (bytes), and how much of it one memcached item holds (bytes; memcached's
 * default item limit is 1 MiB, key and item header included). */
#define RELAY_CACHE_TTL_DEFAULT 3600
#define RELAY_CACHE_MAX_BYTES_DEFAULT (8u * 1024 * 1024)
#define RELAY_CACHE_MAX_BYTES_CEILING (64u * 1024 * 1024)
#define RELAY_CACHE_PART_BYTES_DEFAULT (1000u * 1000)
/* The longest a request waits for an identical one's answer: ms. */
#define RELAY_CACHE_FOLLOW_MS_MAX 120000
/* Parts of one cache entry: count (max_bytes / part_bytes, rounded up). */
#define RELAY_CACHE_PARTS_MAX 1024

/* Prompt log: hours a logged prompt is kept; how often each responder
 * looks for files past that, seconds. */
#define RELAY_PROMPT_LOG_HOURS_DEFAULT 24
#define RELAY_PROMPT_LOG_SWEEP_S 60
/* Content filter: word list files in a config, count. */
#define RELAY_FILTER_FILES_MAX 64

/* A provider key the provider refused (401/403) while another key served:
 * out of rotation this long at most (config keypool.auth_bench_s), and
 * re-checked by one call after (keypool.auth_recheck_s): seconds. A
 * revoked key costs one extra call per re-check; a key wrongly benched is
 * back within the re-check. */
#define RELAY_KEY_AUTH_BENCH_S 600
#define RELAY_KEY_AUTH_RECHECK_S 30
/* Prompt-cache affinity: how long a session stays on its target and key
 * after its last request (providers keep a prompt cache minutes to an
 * hour); the longest session id taken (longer ones are hashed whole, this
 * only bounds what is read). */
#define RELAY_AFFINITY_TTL_S 3600
#define RELAY_AFFINITY_ID_MAX 512

/* Token counting (count_tokens.c): the longest counting answer an
 * upstream may send, bytes; what the relay's own estimate charges for one
 * image, tokens (Anthropic's ceiling for an image: 1.15 megapixels at 750
 * pixels a token), and for each message's framing. */
#define RELAY_COUNT_ANSWER_MAX (64 * 1024)
#define RELAY_COUNT_IMAGE_TOKENS 1600
#define RELAY_COUNT_MSG_TOKENS 4

/* Where keys and stored credentials live when nothing else says. */
#define RELAY_DATA_DIR_DEFAULT "/var/lib/llm-relay"

#endif
