/*-------------------------------------------------------------------------
 * result.c
 *	  The adapter result the agents claim: the keys of the protocol an agent
 *	  may report (a process agent's result line or file, an http agent's
 *	  response body), copied only when their types are right; and the
 *	  reading of a result file, which never follows a link or blocks.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

/*
 * Copy the claimed keys the protocol takes into result, checking their
 * types; NULL, or why the claim is refused.
 */
const char *
result_take_claimed(cJSON *result, cJSON *claimed)
{
	static const struct
	{
		const char *key;
		int			type;
	}			keys[] = {
		{"usage", cJSON_Object}, {"costUsd", cJSON_Number}, {"sessionId", cJSON_String},
		{"clearSession", cJSON_True | cJSON_False}, {"provider", cJSON_String},
		{"model", cJSON_String}, {"resultJson", -1}, {"errorMessage", cJSON_String},
		{"errorCode", cJSON_String}, {"transient", cJSON_True | cJSON_False},
	};
	static char why[128];
	size_t		i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		cJSON	   *v = cJSON_GetObjectItemCaseSensitive(claimed, keys[i].key);

		if (v == NULL || cJSON_IsNull(v))
			continue;
		if (keys[i].type != -1 && !(v->type & keys[i].type))
		{
			snprintf(why, sizeof(why), "the agent's result has the wrong type for \"%s\"", keys[i].key);
			return why;
		}
		if (keys[i].type == cJSON_Number && (!isfinite(v->valuedouble) || v->valuedouble < 0))
		{
			snprintf(why, sizeof(why), "the agent's result has a bad number for \"%s\"", keys[i].key);
			return why;
		}
		cJSON_AddItemToObject(result, keys[i].key, cJSON_Duplicate(v, 1));
	}
	return NULL;
}


/*
 * An agent's result file, read so that nothing the agent makes can stall
 * or feed the reader: opened without following a symbolic link and without
 * blocking (a FIFO or device would), then only a regular file of at most
 * max bytes is read. Returns its content (malloc'd, NUL-terminated); NULL
 * with why empty when there is no such file, or with why saying what was
 * refused.
 */
char *
result_file_read(const char *path, size_t max, char *why, size_t whylen)
{
	struct stat st;
	char	   *buf;
	size_t		len = 0;
	int			fd;

	why[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
	{
		if (errno == ELOOP)
			snprintf(why, whylen, "the result file is a symbolic link: ignored");
		else if (errno != ENOENT)
			snprintf(why, whylen, "the result file cannot be read: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(why, whylen, "the result file is not a regular file (a FIFO, device or socket): ignored");
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t) max)
	{
		snprintf(why, whylen, "the result file is larger than %zu bytes: ignored", max);
		close(fd);
		return NULL;
	}
	buf = malloc(max + 2);
	if (buf == NULL)
	{
		snprintf(why, whylen, "the result file cannot be read: out of memory");
		close(fd);
		return NULL;
	}
	for (;;)
	{
		ssize_t		n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (len > max)
			break;
	}
	close(fd);
	if (len > max)
	{
		snprintf(why, whylen, "the result file is larger than %zu bytes: ignored", max);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}
