/*-------------------------------------------------------------------------
 * adapters/http.c
 *	  The http adapter: posts the run to the agent's url with libcurl and
 *	  turns the answer into an adapter result.
 *
 *	  2xx succeeded (a JSON object body is read as an adapter result);
 *	  202 {"async":true} keeps the run running until the agent calls
 *	  paperclip.finalize_run (the launcher then stops us) or the timeout
 *	  comes; 429, 5xx and failures to connect fail with transient codes
 *	  (the scheduler retries them); other 4xx, a status past 599, and
 *	  response headers too large or unreadable fail for good; a timeout is
 *	  timed_out. A redirect to another scheme than http(s), or from https
 *	  to http, is refused (http_redirect_refused). Only http and https, no
 *	  signals from libcurl, the body capped, every host (also of a redirect)
 *	  checked against paperclip.allowed_http_hosts before a connection is
 *	  made, and every address libcurl is about to connect to (after DNS, at
 *	  every hop) refused when it is the server's own machine or networks
 *	  (netaddr.c: loopback, link-local, private...; http_address_refused)
 *	  unless paperclip.http_allow_private_networks is on or the hop's host
 *	  is named exactly in paperclip.allowed_http_hosts. This runs in the
 *	  runner, never in a backend: a slow agent blocks nobody.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>

/* no type-checking macros: the functions are called through pointers */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "runner.h"
#include "adapters/netaddr.h"

/*
 * libcurl, loaded when an http run needs it: linking it would load its
 * thirty-odd libraries into every runner, a few milliseconds more for each
 * process run's dispatch.
 */
static struct
{
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_url) *url;
	__typeof__(curl_url_set) *url_set;
	__typeof__(curl_url_get) *url_get;
	__typeof__(curl_url_cleanup) *url_cleanup;
	__typeof__(curl_free) *free;
}			lc;

static bool
load_libcurl(void)
{
	static const char *const names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", NULL};
	void	   *h = NULL;
	int			i;

	for (i = 0; names[i] != NULL && h == NULL; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return false;
#define LOAD(field, symbol) \
	if ((*(void **) &lc.field = dlsym(h, #symbol)) == NULL) \
		return false
	LOAD(global_init, curl_global_init);
	LOAD(global_cleanup, curl_global_cleanup);
	LOAD(easy_init, curl_easy_init);
	LOAD(easy_setopt, curl_easy_setopt);
	LOAD(easy_perform, curl_easy_perform);
	LOAD(easy_getinfo, curl_easy_getinfo);
	LOAD(easy_cleanup, curl_easy_cleanup);
	LOAD(easy_strerror, curl_easy_strerror);
	LOAD(slist_append, curl_slist_append);
	LOAD(slist_free_all, curl_slist_free_all);
	LOAD(url, curl_url);
	LOAD(url_set, curl_url_set);
	LOAD(url_get, curl_url_get);
	LOAD(url_cleanup, curl_url_cleanup);
	LOAD(free, curl_free);
#undef LOAD
	return true;
}

typedef struct HttpConfig
{
	const char *url;
	const char *method;
	cJSON	   *headers;
	double		timeout_sec;	/* 0: none */
	long		max_response;
} HttpConfig;

typedef struct Transfer
{
	char	   *body;
	size_t		len;
	long		cap;
	bool		too_large;
	int			sigfd;
	bool		cancelled;
	size_t		header_bytes;	/* of the response being read */
	bool		headers_started;	/* its status line arrived: the server answered */
	bool		headers_done;
	bool		headers_too_large;
	bool		allow_private;	/* this hop may reach special addresses */
	bool		opened;			/* a socket was made for this hop */
	const char *refused_class;	/* the first address refused, its class */
	char		refused_address[HTTP_ADDRESS_TEXT_MAX];
} Transfer;

/* A cancel (SIGTERM, SIGINT), now or before. */
static bool
cancel_pending(int sigfd)
{
	(void) sigfd;
	return runner_poll_signals();
}

static cJSON *
read_config(cJSON *config, HttpConfig *hc)
{
	cJSON	   *v;

	memset(hc, 0, sizeof(*hc));
	hc->method = "POST";
	hc->timeout_sec = PC_HTTP_DEFAULT_TIMEOUT_SEC;
	hc->max_response = PC_HTTP_MAX_RESPONSE;
	if (!cJSON_IsObject(config))
		return make_error_result(PC_ERR_CONFIG, "adapter_config must be an object");
	v = cJSON_GetObjectItemCaseSensitive(config, "url");
	if (!cJSON_IsString(v) || (strncasecmp(v->valuestring, "http://", 7) != 0 &&
							   strncasecmp(v->valuestring, "https://", 8) != 0))
		return make_error_result(PC_ERR_CONFIG, "url must be an http:// or https:// URL");
	hc->url = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(config, "method");
	if (cJSON_IsString(v))
		hc->method = v->valuestring;
	if (strcmp(hc->method, "POST") != 0 && strcmp(hc->method, "PUT") != 0 &&
		strcmp(hc->method, "PATCH") != 0 && strcmp(hc->method, "GET") != 0)
		return make_error_result(PC_ERR_CONFIG, "method must be one of POST, PUT, PATCH, GET");
	v = cJSON_GetObjectItemCaseSensitive(config, "headers");
	if (v != NULL && !cJSON_IsNull(v))
	{
		cJSON	   *h;

		if (!cJSON_IsObject(v))
			return make_error_result(PC_ERR_CONFIG, "headers must be an object of strings");
		cJSON_ArrayForEach(h, v)
			if (!cJSON_IsString(h) || strpbrk(h->string, ":\r\n") != NULL ||
			strpbrk(h->valuestring, "\r\n") != NULL)
			return make_error_result(PC_ERR_CONFIG, "headers must be an object of strings");
		hc->headers = v;
	}
	v = cJSON_GetObjectItemCaseSensitive(config, "timeoutSec");
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0)
		hc->timeout_sec = v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(config, "maxResponseBytes");
	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 64.0 * 1024 * 1024)
		hc->max_response = (long) v->valuedouble;
	return NULL;
}

/* The request body: who the run is and what it is about. */
static char *
request_body(const RunSpec *spec)
{
	cJSON	   *b = cJSON_CreateObject();
	char	   *text;

	cJSON_AddStringToObject(b, "runId", spec->run_id ? spec->run_id : "");
	cJSON_AddStringToObject(b, "agentId", spec->agent_id ? spec->agent_id : "");
	cJSON_AddStringToObject(b, "companyId", spec->company_id ? spec->company_id : "");
	cJSON_AddItemToObject(b, "context", spec->context ? cJSON_Duplicate(spec->context, 1)
						  : cJSON_CreateObject());
	if (spec->session_id)
		cJSON_AddStringToObject(b, "sessionId", spec->session_id);
	else
		cJSON_AddNullToObject(b, "sessionId");
	if (spec->wake_reason)
		cJSON_AddStringToObject(b, "wakeReason", spec->wake_reason);
	else
		cJSON_AddNullToObject(b, "wakeReason");
	text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return text;
}

/* Whether host matches an allowlist entry: the same name, or "*.domain". */
static bool
host_matches(const char *host, const char *entry)
{
	size_t		hl = strlen(host);
	size_t		el = strlen(entry);

	if (strcasecmp(host, entry) == 0)
		return true;
	if (el > 2 && entry[0] == '*' && entry[1] == '.' && hl > el - 1 &&
		strcasecmp(host + hl - (el - 1), entry + 1) == 0)
		return true;
	return false;
}

/*
 * Whether the allowlist names host exactly ("*.domain" entries do not
 * count): the superuser then allowed it wherever it is. An IPv6 literal,
 * which libcurl gives in brackets, may be named with or without them.
 */
static bool
host_named(const RunSpec *spec, const char *host)
{
	size_t		hl = strlen(host);
	cJSON	   *e;

	if (!cJSON_IsArray(spec->allowed_hosts))
		return false;
	cJSON_ArrayForEach(e, spec->allowed_hosts)
	{
		const char *name = cJSON_IsString(e) ? e->valuestring : NULL;

		if (name == NULL)
			continue;
		if (strcasecmp(host, name) == 0)
			return true;
		if (hl > 2 && host[0] == '[' && host[hl - 1] == ']' &&
			strlen(name) == hl - 2 && strncasecmp(host + 1, name, hl - 2) == 0)
			return true;
	}
	return false;
}

/* A URL parsed by libcurl, or NULL when it does not parse (or memory ran out). */
static CURLU *
parse_url(const char *url)
{
	CURLU	   *u = lc.url();

	if (u != NULL && lc.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
	{
		lc.url_cleanup(u);
		u = NULL;
	}
	return u;
}

/*
 * An http(s) URL whose host the allowlist admits, or an error result.
 * Checked for the configured URL and for every redirect, before connecting.
 */
static cJSON *
check_url(const RunSpec *spec, const char *url)
{
	CURLU	   *u = parse_url(url);
	char	   *scheme = NULL;
	char	   *host = NULL;
	cJSON	   *err = NULL;
	cJSON	   *e;
	bool		allowed = false;

	if (u == NULL)
		return make_error_result(PC_ERR_CONFIG, "not a valid URL");
	if (lc.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		lc.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		err = make_error_result(PC_ERR_CONFIG, "not a valid URL");
	else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		err = make_error_result(PC_ERR_HOST_NOT_ALLOWED, "only http and https are allowed, not %s", scheme);
	else if (cJSON_IsArray(spec->allowed_hosts) && cJSON_GetArraySize(spec->allowed_hosts) > 0)
	{
		cJSON_ArrayForEach(e, spec->allowed_hosts)
			if (cJSON_IsString(e) && host_matches(host, e->valuestring))
			allowed = true;
		if (!allowed)
			err = make_error_result(PC_ERR_HOST_NOT_ALLOWED,
									"host %s is not in paperclip.allowed_http_hosts", host);
	}
	lc.free(scheme);
	lc.free(host);
	lc.url_cleanup(u);
	return err;
}

/*
 * A redirect's target: only http or https (never file: or another scheme),
 * never from https down to http (http_redirect_refused), and a host the
 * allowlist admits (http_host_not_allowed).
 */
static cJSON *
check_redirect(const RunSpec *spec, const char *from, const char *to)
{
	CURLU	   *u = parse_url(to);
	char	   *scheme = NULL;
	cJSON	   *err = NULL;

	if (u == NULL || lc.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		err = make_error_result(PC_ERR_HTTP_REDIRECT_REFUSED, "a redirect to an invalid URL is refused");
	else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		err = make_error_result(PC_ERR_HTTP_REDIRECT_REFUSED,
								"a redirect to a %.20s: URL is refused", scheme);
	else if (strncasecmp(from, "https:", 6) == 0 && strcasecmp(scheme, "https") != 0)
		err = make_error_result(PC_ERR_HTTP_REDIRECT_REFUSED,
								"a redirect from https to http is refused");
	lc.free(scheme);
	if (u != NULL)
		lc.url_cleanup(u);
	return err ? err : check_url(spec, to);
}

/*
 * The URL as logs and messages show it: without user, password or query,
 * where secrets travel. Freed by the caller.
 */
static char *
shown_url(const char *url)
{
	CURLU	   *u = parse_url(url);
	char	   *out = NULL;
	char	   *copy;

	if (u != NULL &&
		lc.url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
		lc.url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
		lc.url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK)
		lc.url_get(u, CURLUPART_URL, &out, 0);
	copy = xstrdup(out ? out : "(unparsable URL)");
	lc.free(out);
	if (u != NULL)
		lc.url_cleanup(u);
	return copy;
}

/*
 * Whether the hop to url may connect to the server's own machine and
 * networks: paperclip.http_allow_private_networks, or its host named exactly
 * in paperclip.allowed_http_hosts.
 */
static bool
may_reach_private(const RunSpec *spec, const char *url)
{
	CURLU	   *u;
	char	   *host = NULL;
	bool		named = false;

	if (spec->http_allow_private)
		return true;
	u = parse_url(url);
	if (u != NULL && lc.url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		named = host_named(spec, host);
	lc.free(host);
	if (u != NULL)
		lc.url_cleanup(u);
	return named;
}

/* "scheme://host:port" of a URL, to tell where headers may go. Freed by the caller. */
static char *
origin_of(const char *url)
{
	CURLU	   *u = parse_url(url);
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *origin;

	if (u != NULL)
	{
		lc.url_get(u, CURLUPART_SCHEME, &scheme, 0);
		lc.url_get(u, CURLUPART_HOST, &host, 0);
		lc.url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	}
	origin = xmalloc(strlen(scheme ? scheme : "") + strlen(host ? host : "") +
					 strlen(port ? port : "") + 5);
	sprintf(origin, "%s://%s:%s", scheme ? scheme : "", host ? host : "", port ? port : "");
	lc.free(scheme);
	lc.free(host);
	lc.free(port);
	if (u != NULL)
		lc.url_cleanup(u);
	return origin;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = (Transfer *) arg;
	size_t		n = size * nmemb;

	if (t->len + n > (size_t) t->cap)
	{
		t->too_large = true;
		return 0;				/* aborts the transfer */
	}
	{
		char	   *grown = realloc(t->body, t->len + n + 1);

		if (grown == NULL)
			return 0;			/* aborts the transfer */
		t->body = grown;
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	t->body[t->len] = '\0';
	return n;
}

/*
 * Each response header line: counted, so that headers past
 * PC_HTTP_MAX_HEADER_BYTES abort the transfer, and so that an error while
 * they arrive is told from a failure to connect.
 */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = (Transfer *) arg;
	size_t		n = size * nmemb;

	t->headers_started = true;
	t->header_bytes += n;
	if (t->header_bytes > PC_HTTP_MAX_HEADER_BYTES)
	{
		t->headers_too_large = true;
		return 0;				/* aborts the transfer */
	}
	if (n <= 2 && (data[0] == '\r' || data[0] == '\n'))
		t->headers_done = true;
	return n;
}

/* libcurl calls this often during a transfer: a cancel aborts it. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	Transfer   *t = (Transfer *) arg;

	(void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
	if (!t->cancelled && cancel_pending(t->sigfd))
		t->cancelled = true;
	return t->cancelled ? 1 : 0;
}

/*
 * libcurl's socket for each address it is about to connect to, after DNS:
 * the address checked is the one connected to, so a name resolving (or
 * rebound) to a refused address is caught. A refusal makes libcurl try the
 * name's next address, if any.
 */
static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	Transfer   *t = (Transfer *) arg;
	const char *class = http_address_class(&a->addr, a->addrlen);
	curl_socket_t s;

	(void) purpose;
	if (class != NULL && !t->allow_private)
	{
		if (t->refused_class == NULL)
		{
			t->refused_class = class;
			http_address_text(&a->addr, a->addrlen, t->refused_address);
		}
		return CURL_SOCKET_BAD;
	}
	s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (s >= 0)
		t->opened = true;
	return s >= 0 ? s : CURL_SOCKET_BAD;
}

static bool
is_connect_error(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SEND_ERROR ||
		rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_SSL_CONNECT_ERROR ||
		rc == CURLE_PARTIAL_FILE;
}

/* One request; its status in *status, or a curl error code. */
static CURLcode
perform(const HttpConfig *hc, const char *url, const char *method, const char *body,
		bool send_headers, long long deadline_ms, Transfer *t, long *status, char **redirect)
{
	CURL	   *c = lc.easy_init();
	struct curl_slist *hdrs = NULL;
	cJSON	   *h;
	CURLcode	rc;
	char	   *location = NULL;

	*status = 0;
	*redirect = NULL;
	if (c == NULL)
		return CURLE_OUT_OF_MEMORY;
	hdrs = lc.slist_append(hdrs, "Content-Type: application/json");
	hdrs = lc.slist_append(hdrs, "Accept: application/json");
	/* the configured headers (credentials, often) go to the configured origin only */
	if (hc->headers && send_headers)
		cJSON_ArrayForEach(h, hc->headers)
		{
			char	   *line = xmalloc(strlen(h->string) + strlen(h->valuestring) + 3);

			sprintf(line, "%s: %s", h->string, h->valuestring);
			hdrs = lc.slist_append(hdrs, line);
			free(line);
		}
	lc.easy_setopt(c, CURLOPT_URL, url);
	lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	lc.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);	/* we follow, after checking */
	lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	lc.easy_setopt(c, CURLOPT_USERAGENT, "paperclip_runner");
	lc.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->cap);
	lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	lc.easy_setopt(c, CURLOPT_WRITEDATA, t);
	lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	lc.easy_setopt(c, CURLOPT_HEADERDATA, t);
	t->header_bytes = 0;
	t->headers_started = t->headers_done = t->headers_too_large = false;
	t->opened = false;
	t->refused_class = NULL;
	lc.easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	lc.easy_setopt(c, CURLOPT_OPENSOCKETDATA, t);
	lc.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	lc.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	lc.easy_setopt(c, CURLOPT_XFERINFODATA, t);
	if (deadline_ms > 0)
		lc.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) (deadline_ms > now_ms() ? deadline_ms - now_ms() : 1));
	if (strcmp(method, "GET") == 0)
		lc.easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else
	{
		lc.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		lc.easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}

	rc = lc.easy_perform(c);
	if (rc == CURLE_OK)
	{
		lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (*status >= 300 && *status < 400 &&
			lc.easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
			*redirect = xstrdup(location);
	}
	lc.slist_free_all(hdrs);
	lc.easy_cleanup(c);
	return rc;
}

static void
send_meta(const HttpConfig *hc, const char *url_shown)
{
	cJSON	   *f = cJSON_CreateObject();
	cJSON	   *m = cJSON_AddObjectToObject(f, "meta");
	cJSON	   *keys = cJSON_CreateArray();
	cJSON	   *h;

	cJSON_AddStringToObject(f, "type", PC_FRAME_META);
	cJSON_AddStringToObject(m, "adapterType", "http");
	cJSON_AddStringToObject(m, "url", url_shown);
	cJSON_AddStringToObject(m, "method", hc->method);
	if (hc->headers)
		cJSON_ArrayForEach(h, hc->headers)
			cJSON_AddItemToArray(keys, cJSON_CreateString(h->string));
	cJSON_AddItemToObject(m, "headerKeys", keys);	/* names only, never values */
	cJSON_AddNumberToObject(m, "timeoutSec", hc->timeout_sec);
	frame_send(f, true);
}

/* The response body into the run log and the stdout excerpt. */
static void
log_body(RunLog *log, StreamState *out, const Transfer *t)
{
	size_t		len;
	char	   *text;

	if (t->len == 0)
		return;
	text = utf8_sanitize(&out->carry, (const unsigned char *) t->body, t->len, true, &len);
	runlog_chunk(log, out, text, len);
	free(text);
}

/*
 * 202 {"async":true}: the agent finalizes the run itself. Wait for the
 * launcher's SIGTERM (sent once the run is no longer running) or the
 * timeout; no result reaches the database before one of them.
 */
static cJSON *
await_async(int sigfd, long long deadline_ms)
{
	struct pollfd p = {.fd = sigfd,.events = POLLIN};

	for (;;)
	{
		int			wait = -1;

		if (deadline_ms > 0)
		{
			long long	left = deadline_ms - now_ms();

			if (left <= 0)
			{
				cJSON	   *r = cJSON_CreateObject();

				cJSON_AddBoolToObject(r, "timedOut", true);
				cJSON_AddStringToObject(r, "errorMessage",
										"Timed out waiting for the agent to finalize an asynchronous run");
				return r;
			}
			wait = left > 60000 ? 60000 : (int) left;
		}
		if (cancel_pending(sigfd))
			return make_error_result(PC_ERR_CANCELLED, "Cancelled");
		(void) poll(&p, 1, wait);
	}
}

static bool
is_async_accept(long status, const Transfer *t)
{
	cJSON	   *j;
	bool		async;

	if (status != 202 || t->body == NULL)
		return false;
	j = cJSON_Parse(t->body);
	async = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "async"));
	cJSON_Delete(j);
	return async;
}

/* What the final status and body mean (see the header comment). */
static cJSON *
interpret(const char *url, long status, const Transfer *t)
{
	cJSON	   *result;
	cJSON	   *j;
	const char *bad;

	if (status == 429)
		return make_error_result(PC_ERR_HTTP_429, "HTTP 429 from %s", url);
	if (status >= 600)
		return make_error_result(PC_ERR_HTTP, "HTTP %ld (not a valid status) from %s", status, url);
	if (status >= 500)
		return make_error_result(PC_ERR_HTTP_5XX, "HTTP %ld from %s", status, url);
	if (status >= 400)
		return make_error_result(PC_ERR_HTTP_4XX, "HTTP %ld from %s", status, url);
	if (status < 200 || status >= 300)
		return make_error_result(PC_ERR_HTTP, "HTTP %ld from %s", status, url);

	result = cJSON_CreateObject();
	cJSON_AddNumberToObject(result, "exitCode", 0);
	j = t->body ? cJSON_Parse(t->body) : NULL;
	if (cJSON_IsObject(j) && (bad = result_take_claimed(result, j)) != NULL)
	{
		cJSON_Delete(result);
		result = make_error_result(PC_ERR_BAD_RESULT, "%s", bad);
	}
	cJSON_Delete(j);
	return result;
}

cJSON *
http_adapter_run(const RunSpec *spec, int sigfd)
{
	HttpConfig	hc;
	Transfer	t;
	RunLog		log;
	StreamState out = {.name = "stdout"};
	StreamState err = {.name = "stderr"};
	cJSON	   *result;
	char	   *body;
	char	   *url;
	char	   *shown;			/* url without credentials or query */
	char	   *origin;
	bool		same_origin = true;
	const char *method;
	long long	deadline_ms;
	long		status = 0;
	CURLcode	rc = CURLE_OK;
	int			hops;

	if ((result = read_config(spec->config, &hc)) != NULL)
		return result;
	if (!load_libcurl())
		return make_error_result(PC_ERR_HTTP, "libcurl is not installed (libcurl.so.4 could not be loaded)");
	if ((result = check_url(spec, hc.url)) != NULL)
		return result;
	if (lc.global_init(CURL_GLOBAL_DEFAULT) != 0)
		return make_error_result(PC_ERR_HTTP, "libcurl could not be initialised");

	deadline_ms = hc.timeout_sec > 0 ? now_ms() + (long long) (hc.timeout_sec * 1000) : 0;
	body = request_body(spec);
	url = xstrdup(hc.url);
	origin = origin_of(hc.url);
	method = hc.method;
	runlog_open(&log, spec->log_path, spec->max_live_log, spec->max_log_bytes);
	shown = shown_url(hc.url);
	send_meta(&hc, shown);

	memset(&t, 0, sizeof(t));
	t.sigfd = sigfd;
	t.cap = hc.max_response;
	for (hops = 0;; hops++)
	{
		char	   *redirect = NULL;
		char	   *next_origin;

		free(t.body);
		t.body = NULL;
		t.len = 0;
		t.allow_private = may_reach_private(spec, url);
		rc = perform(&hc, url, method, body, same_origin, deadline_ms, &t, &status, &redirect);
		if (rc != CURLE_OK || redirect == NULL)
			break;
		if (hops >= PC_HTTP_MAX_REDIRECTS)
		{
			free(redirect);
			result = make_error_result(PC_ERR_HTTP, "more than %d redirects from %s",
									   PC_HTTP_MAX_REDIRECTS, shown);
			break;
		}
		if ((result = check_redirect(spec, url, redirect)) != NULL)
		{
			free(redirect);
			break;
		}
		/* headers go on only while the origin stays the configured one */
		next_origin = origin_of(redirect);
		if (origin == NULL || next_origin == NULL || strcasecmp(origin, next_origin) != 0)
			same_origin = false;
		free(next_origin);
		/* as browsers and curl do: 303 turns into a GET, 301/302 a POST into a GET */
		if (status == 303 || ((status == 301 || status == 302) && strcmp(method, "POST") == 0))
			method = "GET";
		free(url);
		url = redirect;
		free(shown);
		shown = shown_url(url);
	}

	if (result == NULL)
	{
		if (t.cancelled)
			result = make_error_result(PC_ERR_CANCELLED, "Cancelled");
		else if (rc == CURLE_OPERATION_TIMEDOUT)
		{
			result = cJSON_CreateObject();
			cJSON_AddBoolToObject(result, "timedOut", true);
			cJSON_AddStringToObject(result, "errorMessage", "Timed out waiting for the agent's answer");
		}
		else if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
			result = make_error_result(PC_ERR_HTTP_TOO_LARGE,
									   "the response body exceeds %ld bytes", t.cap);
		else if (t.headers_too_large)
			result = make_error_result(PC_ERR_HTTP_TOO_LARGE,
									   "the response headers exceed %d bytes", PC_HTTP_MAX_HEADER_BYTES);
		else if (t.headers_started && !t.headers_done)
			/* the server answered: not a failure to connect */
			result = make_error_result(PC_ERR_HTTP, "the response headers could not be read (%s): %s",
									   lc.easy_strerror(rc), shown);
		else if (t.refused_class != NULL && !t.opened)
			/* every address of the host refused: not a failure to retry */
			result = make_error_result(PC_ERR_HTTP_ADDRESS_REFUSED,
									   "refused to connect to %s (%s) for %s: set "
									   "paperclip.http_allow_private_networks or name the host "
									   "in paperclip.allowed_http_hosts",
									   t.refused_address, t.refused_class, shown);
		else if (is_connect_error(rc))
			result = make_error_result(PC_ERR_HTTP_CONNECT, "%s: %s", lc.easy_strerror(rc), shown);
		else if (rc != CURLE_OK)
			result = make_error_result(PC_ERR_HTTP, "%s: %s", lc.easy_strerror(rc), shown);
		else
		{
			log_body(&log, &out, &t);
			if (is_async_accept(status, &t))
				result = await_async(sigfd, deadline_ms);
			else
				result = interpret(shown, status, &t);
		}
	}
	runlog_finish(&log, result, &out, &err);
	free(t.body);
	free(body);
	free(url);
	free(shown);
	free(origin);
	lc.global_cleanup();
	return result;
}
