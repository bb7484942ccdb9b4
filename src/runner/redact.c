/*-------------------------------------------------------------------------
 * redact.c
 *	  Owns the redaction of secrets in what the runner stores or sends: log
 *	  lines, excerpts and live log chunks (runlog.c calls it for every
 *	  chunk), the adapter meta event, the result's messages. Replaced by
 *	  ***REDACTED***:
 *	    - the token of "Bearer <token>" (any case);
 *	    - JWT-shaped values: eyJ... base64url, a dot, base64url, a dot,
 *	      base64url (header.payload.signature);
 *	    - the values of the config's env (and http headers) whose key
 *	      matches key|token|secret|password|passwd|authorization|cookie, any
 *	      case (values shorter than REDACT_MIN_SECRET are left: replacing
 *	      every "1" of a log would hide the log, not a secret).
 *	  Output arrives in pieces: the part of a stream after its last newline
 *	  (or, in a line longer than REDACT_CARRY_MAX, its last token) is held
 *	  back until the next piece, so a secret cut by a read is still found.
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runner.h"

#define REDACTED "***REDACTED***"
#define REDACT_MIN_SECRET 4
#define REDACT_CARRY_MAX (16 * 1024)

static const char *const secret_key_words[] = {
	"key", "token", "secret", "password", "passwd", "authorization", "cookie", NULL
};

static char **secrets = NULL;
static size_t *secret_lens = NULL;
static int	nsecrets = 0;
static bool interesting[256];	/* bytes a match can start with */

/* Whether an env key or header name names a secret. */
bool
redact_key_is_secret(const char *key)
{
	int			i;

	for (i = 0; secret_key_words[i] != NULL; i++)
		if (strcasestr(key, secret_key_words[i]) != NULL)
			return true;
	return false;
}

static void
add_secret(const char *value)
{
	size_t		len = strlen(value);
	int			i;

	if (len < REDACT_MIN_SECRET)
		return;
	for (i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], value) == 0)
			return;
	secrets = realloc(secrets, sizeof(char *) * (nsecrets + 1));
	secret_lens = realloc(secret_lens, sizeof(size_t) * (nsecrets + 1));
	if (secrets == NULL || secret_lens == NULL)
		abort();
	/* longest first: a secret that contains another is replaced whole */
	for (i = nsecrets; i > 0 && secret_lens[i - 1] < len; i--)
	{
		secrets[i] = secrets[i - 1];
		secret_lens[i] = secret_lens[i - 1];
	}
	secrets[i] = strdup(value);
	secret_lens[i] = len;
	nsecrets++;
	interesting[(unsigned char) value[0]] = true;
}

static void
add_secrets_of(const cJSON *object)
{
	const cJSON *e;

	if (!cJSON_IsObject(object))
		return;
	cJSON_ArrayForEach(e, object)
		if (cJSON_IsString(e) && e->string && redact_key_is_secret(e->string))
		add_secret(e->valuestring);
}

/* The secrets of this run: from the adapter config's env and headers. */
void
redact_init(const cJSON *config)
{
	interesting['b'] = interesting['B'] = true;
	interesting['e'] = true;
	if (!cJSON_IsObject(config))
		return;
	add_secrets_of(cJSON_GetObjectItemCaseSensitive(config, "env"));
	add_secrets_of(cJSON_GetObjectItemCaseSensitive(config, "headers"));
}

static bool
is_token_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
		c == '/' || c == '=';
}

static bool
is_b64url(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/*
 * A match at text[i]: the span [*start, *end) to replace, or false. For
 * "Bearer <token>" only the token is replaced.
 */
static bool
match_at(const char *text, size_t len, size_t i, size_t *start, size_t *end)
{
	int			k;

	for (k = 0; k < nsecrets; k++)
		if (len - i >= secret_lens[k] && memcmp(text + i, secrets[k], secret_lens[k]) == 0)
		{
			*start = i;
			*end = i + secret_lens[k];
			return true;
		}
	if (len - i > 7 && strncasecmp(text + i, "bearer", 6) == 0 &&
		(i == 0 || !isalnum((unsigned char) text[i - 1])))
	{
		size_t		j = i + 6;
		size_t		t;

		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		for (t = j; t < len && is_token_char(text[t]); t++)
			;
		if (j > i + 6 && t > j)
		{
			*start = j;
			*end = t;
			return true;
		}
	}
	if (len - i > 3 && memcmp(text + i, "eyJ", 3) == 0 &&
		(i == 0 || !is_b64url(text[i - 1])))
	{
		size_t		j = i;
		int			seg;

		for (seg = 0; seg < 3; seg++)
		{
			size_t		from = j;

			while (j < len && is_b64url(text[j]))
				j++;
			if (seg < 2 && (j == from || j >= len || text[j] != '.'))
				return false;
			if (seg < 2)
				j++;
		}
		*start = i;
		*end = j;
		return true;
	}
	return false;
}

/* The text with every secret replaced; malloc'd, NUL-terminated. */
char *
redact_text(const char *text, size_t len, size_t *out_len)
{
	size_t		cap = len + 1;
	char	   *out = malloc(cap);
	size_t		o = 0;
	size_t		i = 0;
	size_t		copied = 0;

	if (out == NULL)
		abort();
	while (i < len)
	{
		size_t		start,
					end;

		if (!interesting[(unsigned char) text[i]] || !match_at(text, len, i, &start, &end))
		{
			i++;
			continue;
		}
		/* copy up to the match, then the marker */
		if (o + (start - copied) + sizeof(REDACTED) > cap)
		{
			cap = cap * 2 + (start - copied) + sizeof(REDACTED);
			if ((out = realloc(out, cap)) == NULL)
				abort();
		}
		memcpy(out + o, text + copied, start - copied);
		o += start - copied;
		memcpy(out + o, REDACTED, sizeof(REDACTED) - 1);
		o += sizeof(REDACTED) - 1;
		copied = i = end;
	}
	if (o + (len - copied) + 1 > cap)
	{
		cap = o + (len - copied) + 1;
		if ((out = realloc(out, cap)) == NULL)
			abort();
	}
	memcpy(out + o, text + copied, len - copied);
	o += len - copied;
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* Where to cut text so that a secret at its end waits for the next piece. */
static size_t
hold_back_from(const char *text, size_t len)
{
	size_t		nl = len;
	size_t		p = len;

	while (nl > 0 && text[nl - 1] != '\n')
		nl--;
	if (len - nl <= REDACT_CARRY_MAX)
		return nl;
	/* a long line: hold back its last token, and "bearer " before it */
	while (p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t'))
		p--;
	while (p > 0 && is_token_char(text[p - 1]))
		p--;
	if (p >= 7)
	{
		size_t		q = p;

		while (q > 0 && (text[q - 1] == ' ' || text[q - 1] == '\t'))
			q--;
		if (q >= 6 && q < p && strncasecmp(text + q - 6, "bearer", 6) == 0)
			p = q - 6;
	}
	return len - p <= REDACT_CARRY_MAX ? p : len;
}

/*
 * A piece of a stream, redacted: what can be judged now is returned
 * (malloc'd), the rest is carried to the next call; final returns it all.
 */
char *
redact_stream(RedactCarry *carry, const char *text, size_t len, bool final, size_t *out_len)
{
	size_t		total = carry->len + len;
	char	   *joined = malloc(total + 1);
	size_t		cut;
	char	   *out;

	if (joined == NULL)
		abort();
	if (carry->len > 0)
		memcpy(joined, carry->buf, carry->len);
	memcpy(joined + carry->len, text, len);
	joined[total] = '\0';
	cut = final ? total : hold_back_from(joined, total);
	free(carry->buf);
	carry->buf = NULL;
	carry->len = total - cut;
	if (carry->len > 0)
	{
		if ((carry->buf = malloc(carry->len)) == NULL)
			abort();
		memcpy(carry->buf, joined + cut, carry->len);
	}
	out = redact_text(joined, cut, out_len);
	free(joined);
	return out;
}

/* Every string value in item, recursively, redacted in place. */
void
redact_json(cJSON *item)
{
	cJSON	   *e;

	if (item == NULL)
		return;
	if (cJSON_IsString(item) && item->valuestring != NULL)
	{
		size_t		n;
		char	   *r = redact_text(item->valuestring, strlen(item->valuestring), &n);

		if (strcmp(r, item->valuestring) != 0)
			cJSON_SetValuestring(item, r);
		free(r);
		return;
	}
	cJSON_ArrayForEach(e, item)
		redact_json(e);
}
