/*-------------------------------------------------------------------------
 * spool.c
 *	  Results on local disk until the database has them. A run's result is
 *	  written to <dir>/spool/<run>.json (temp file, rename) before the
 *	  runner is acknowledged, then delivered with
 *	  paperclip.worker_finalize_run and removed once it answered: recorded,
 *	  or refused for good (PC001: the lease lapsed and the run was failed
 *	  and retried; the run gone; no access). A database that is away or
 *	  busy gets the result again later; a worker that stops first finds it
 *	  when it starts again, and delivers it under its --name.
 *
 *	  Results the runner reports as cancelled because the worker stopped
 *	  it (a second SIGTERM, or its runner's parent died: stopWithParent)
 *	  are process_lost instead, so the run is retried: the control plane did
 *	  not cancel it. A run the control plane did cancel stays cancelled
 *	  whatever its result says (finalize_run).
 *
 *	  Also here: a runner gone without a result (its own spool file, else
 *	  process_lost, its agent's group killed), and a result finalize_run
 *	  refuses as malformed (reported as bad_result, as the launcher does).
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#define RESULT_FILE_MAX (16 * 1024 * 1024)

typedef struct Delivery
{
	char		id[UUID_STR_LEN + 1];
	Run		   *run;			/* NULL: left by an earlier worker process */
	char	   *result;			/* the result, JSON */
	bool		in_flight;
	bool		replaced;		/* refused as malformed: bad_result sent instead */
	long long	next_try;
} Delivery;

static Delivery **deliveries = NULL;
static int	ndeliveries = 0;
static int	deliveries_cap = 0;
static long long next_scan = 0;

static DbStatement stmt_finalize = DB_STATEMENT("paperclip_worker_finalize", 3,
												"SELECT status FROM paperclip.worker_finalize_run($1, $2::uuid, $3::jsonb)");

char *
spool_path(const char *id, const char *suffix)
{
	return xasprintf("%s/%s%s", settings.spool_dir, id, suffix);
}

cJSON *
make_error_result(const char *code, const char *fmt,...)
{
	cJSON	   *r = cJSON_CreateObject();
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r == NULL || !cJSON_AddNullToObject(r, "exitCode") ||
		!cJSON_AddStringToObject(r, "errorCode", code) ||
		!cJSON_AddStringToObject(r, "errorMessage", msg))
		fatal("out of memory");
	return r;
}

static bool
is_run_id(const char *s, size_t len)
{
	size_t		i;

	if (len != UUID_STR_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Write a file whole (temp file, then rename); false on error, said. */
static bool
write_atomically(const char *path, const char *text)
{
	char	   *tmp = xasprintf("%s.tmp", path);
	size_t		len = strlen(text);
	size_t		done = 0;
	int			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool		ok = fd >= 0;

	while (ok && done < len)
	{
		ssize_t		n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = false;
		else
			done += n;
	}
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok)
	{
		wlog(LOG_WARNING, "could not write \"%s\": %m (the result is kept in memory only)", path);
		(void) unlink(tmp);
	}
	free(tmp);
	return ok;
}

/* A result file, parsed; NULL when absent or unreadable (said). */
static cJSON *
read_result_file(const char *path)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char	   *text;
	ssize_t		n;
	cJSON	   *result;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > RESULT_FILE_MAX)
	{
		close(fd);
		wlog(LOG_WARNING, "spool file \"%s\" is not a regular file of at most %d bytes",
			 path, RESULT_FILE_MAX);
		return NULL;
	}
	text = xmalloc(st.st_size + 1);
	n = read(fd, text, st.st_size);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	result = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsObject(result))
	{
		wlog(LOG_WARNING, "spool file \"%s\" does not hold a JSON object", path);
		cJSON_Delete(result);
		return NULL;
	}
	return result;
}

void
spool_remove_run_files(const char *id)
{
	static const char *const suffixes[] = {".json", ".json.tmp", ".result", NULL};
	int			i;

	for (i = 0; suffixes[i] != NULL; i++)
	{
		char	   *path = spool_path(id, suffixes[i]);

		if (unlink(path) != 0 && errno != ENOENT)
			wlog(LOG_WARNING, "could not remove \"%s\": %m", path);
		free(path);
	}
}

static Delivery *
find_delivery(const char *id)
{
	int			i;

	for (i = 0; i < ndeliveries; i++)
		if (strcmp(deliveries[i]->id, id) == 0)
			return deliveries[i];
	return NULL;
}

static void
add_delivery(const char *id, Run *run, char *result)
{
	Delivery   *d = xmalloc(sizeof(Delivery));

	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->run = run;
	d->result = result;
	if (ndeliveries == deliveries_cap)
	{
		deliveries_cap = deliveries_cap ? deliveries_cap * 2 : 16;
		deliveries = xrealloc(deliveries, sizeof(Delivery *) * deliveries_cap);
	}
	deliveries[ndeliveries++] = d;
}

/* The delivery is over (recorded, or refused for good): its files go. */
static void
finish(Delivery *d)
{
	int			i;
	Run		   *run = d->run;

	spool_remove_run_files(d->id);
	for (i = 0; i < ndeliveries; i++)
		if (deliveries[i] == d)
		{
			memmove(deliveries + i, deliveries + i + 1, sizeof(Delivery *) * (ndeliveries - i - 1));
			ndeliveries--;
			break;
		}
	free(d->result);
	free(d);
	if (run != NULL)
	{
		run->result_spooled = false;
		run_release_if_done(run);
	}
}

/*
 * What a result says for the database: a cancel the worker made is a lost
 * run; the run log's figures are this machine's file (the database keeps
 * its own copy), so they go.
 */
static void
prepare_result(cJSON *result, const char *why_stopped)
{
	static const char *const local_keys[] = {"logBytes", "logSha256", "logStore", "logRef",
	"logCompressed", NULL};
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "errorCode"));
	int			i;

	if (why_stopped != NULL && code != NULL && strcmp(code, PC_ERR_CANCELLED) == 0)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(result, "errorCode");
		cJSON_DeleteItemFromObjectCaseSensitive(result, "errorMessage");
		if (!cJSON_AddStringToObject(result, "errorCode", PC_ERR_PROCESS_LOST) ||
			!cJSON_AddStringToObject(result, "errorMessage", why_stopped))
			fatal("out of memory");
	}
	for (i = 0; local_keys[i] != NULL; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(result, local_keys[i]);
}

/* A run's result (taken over): kept in the spool, then delivered. */
void
spool_result(Run *r, cJSON *result)
{
	char	   *path;
	char	   *text;
	char	   *why = NULL;

	r->result_received = true;
	if (r->lost)
	{
		wlog(LOG_INFO, "run %s: result dropped: the worker lost the run's lease", r->id);
		cJSON_Delete(result);
		spool_remove_run_files(r->id);
		return;
	}
	if (r->stopped_by_worker)
		why = xasprintf("paperclip_worker \"%s\" stopped the run when it was told to stop at once",
						settings.name);
	prepare_result(result, why);
	free(why);
	text = cJSON_PrintUnformatted(result);
	cJSON_Delete(result);
	if (text == NULL)
		fatal("out of memory");
	path = spool_path(r->id, ".json");
	(void) write_atomically(path, text);
	free(path);
	r->result_spooled = true;
	add_delivery(r->id, r, text);
}

/*
 * The runner is gone without sending a result: the one it spooled itself
 * (not acknowledged in time), else the run is lost and its agent's group
 * killed.
 */
void
spool_runner_gone(Run *r)
{
	char	   *path = spool_path(r->id, ".json");
	cJSON	   *result = read_result_file(path);

	free(path);
	if (result != NULL)
	{
		spool_result(r, result);
		return;
	}
	if (r->agent_pid > 1 && getpgid(r->agent_pid) == r->agent_pid)
	{
		wlog(LOG_WARNING, "run %s: killing process group %d of a lost runner", r->id, (int) r->agent_pid);
		(void) kill(-r->agent_pid, SIGKILL);
	}
	spool_result(r, make_error_result(PC_ERR_PROCESS_LOST, "runner exited without a result"));
}

/* ----------------------------------------------------------------------
 * Delivery
 * ----------------------------------------------------------------------
 */

static void
delivered(const DbReply *reply, void *arg)
{
	Delivery   *d = arg;
	const char *state = reply->sqlstate;

	d->in_flight = false;
	if (reply->conn_lost)
		return;					/* again on the next connection */
	if (!reply->failed)
	{
		wlog(LOG_DEBUG, "run %s: finalized, %s", d->id, PQgetvalue(reply->result, 0, 0));
		finish(d);
	}
	else if (strcmp(state, PC_SQLSTATE_LEASE_LOST) == 0)
	{
		wlog(LOG_WARNING, "run %s: result refused: %s", d->id, reply->message);
		finish(d);
	}
	else if (strcmp(state, "P0002") == 0 || strcmp(state, "42501") == 0)
	{
		wlog(LOG_WARNING, "run %s: result dropped: %s", d->id, reply->message);
		finish(d);
	}
	else if ((strncmp(state, "22", 2) == 0 || strncmp(state, "54", 2) == 0) && !d->replaced)
	{
		cJSON	   *bad = make_error_result(PC_ERR_BAD_RESULT, "%s", reply->message);
		char	   *path = spool_path(d->id, ".json");

		wlog(LOG_WARNING, "run %s: result refused (%s), reported as %s", d->id, reply->message,
			 PC_ERR_BAD_RESULT);
		free(d->result);
		d->result = cJSON_PrintUnformatted(bad);
		cJSON_Delete(bad);
		if (d->result == NULL)
			fatal("out of memory");
		(void) write_atomically(path, d->result);
		free(path);
		d->replaced = true;
		d->next_try = 0;
	}
	else
	{
		wlog(LOG_WARNING, "run %s: could not deliver the result: %s%s%s (trying again in %d ms)",
			 d->id, reply->message, state[0] ? "; SQLSTATE " : "", state, RETRY_DELIVERY_MS);
		d->next_try = now_ms() + RETRY_DELIVERY_MS;
	}
}

/* Results left in the spool by an earlier worker process (not runs of ours). */
static void
scan_leftovers(void)
{
	DIR		   *dir = opendir(settings.spool_dir);
	struct dirent *e;
	int			found = 0;

	next_scan = now_ms() + SPOOL_SCAN_MS;
	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL)
	{
		size_t		len = strlen(e->d_name);
		char		id[UUID_STR_LEN + 1];
		char	   *path;
		cJSON	   *result;
		char	   *text;

		if (len != UUID_STR_LEN + 5 || strcmp(e->d_name + UUID_STR_LEN, ".json") != 0 ||
			!is_run_id(e->d_name, UUID_STR_LEN))
			continue;
		memcpy(id, e->d_name, UUID_STR_LEN);
		id[UUID_STR_LEN] = '\0';
		if (run_find(id) != NULL || find_delivery(id) != NULL)
			continue;
		path = spool_path(id, ".json");
		result = read_result_file(path);
		free(path);
		if (result == NULL)
		{
			spool_remove_run_files(id);
			continue;
		}
		prepare_result(result, "its runner stopped when the paperclip_worker that ran it stopped");
		text = cJSON_PrintUnformatted(result);
		cJSON_Delete(result);
		if (text == NULL)
			fatal("out of memory");
		add_delivery(id, NULL, text);
		found++;
	}
	closedir(dir);
	if (found > 0)
		wlog(LOG_INFO, "%d result(s) left in \"%s\" by an earlier worker process, to deliver",
			 found, settings.spool_dir);
}

/* Remove every file of a directory whose name passes keep() false. */
static void
clean_dir(const char *path, bool (*keep) (const char *name))
{
	DIR		   *dir = opendir(path);
	struct dirent *e;

	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL)
	{
		char	   *file;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			(keep && keep(e->d_name)))
			continue;
		file = xasprintf("%s/%s", path, e->d_name);
		if (unlink(file) != 0 && errno != ENOENT)
			wlog(LOG_WARNING, "could not remove \"%s\": %m", file);
		free(file);
	}
	closedir(dir);
}

static bool
is_result_file(const char *name)
{
	size_t		len = strlen(name);

	return len == UUID_STR_LEN + 5 && strcmp(name + UUID_STR_LEN, ".json") == 0 &&
		is_run_id(name, UUID_STR_LEN);
}

/*
 * At start: what an earlier worker process left is a result to deliver or
 * nothing (its temp, result and context files; its run logs, whose tail
 * the database may miss: that worker stopped before relaying it).
 */
void
spool_init(void)
{
	clean_dir(settings.spool_dir, is_result_file);
	clean_dir(settings.log_dir, NULL);
	scan_leftovers();
}

void
spool_step(void)
{
	long long	now = now_ms();
	int			i;

	if (now >= next_scan)
		scan_leftovers();
	for (i = 0; i < ndeliveries && db_ready(); i++)
	{
		Delivery   *d = deliveries[i];
		const char *params[3];

		if (d->in_flight || now < d->next_try)
			continue;
		if (d->run != NULL && d->run->lost)
		{
			wlog(LOG_INFO, "run %s: result dropped: the worker lost the run's lease", d->id);
			finish(d);
			i--;
			continue;
		}
		/* its log first: the result's statement follows it in the pipeline */
		if (d->run != NULL && !relay_drain(d->run))
			continue;
		params[0] = settings.name;
		params[1] = d->id;
		params[2] = d->result;
		d->in_flight = true;
		db_send_prepared(&stmt_finalize, params, delivered, d);
	}
}

long long
spool_next_wake(void)
{
	long long	wake = next_scan;
	int			i;

	if (!db_ready())
		return wake;
	for (i = 0; i < ndeliveries; i++)
	{
		Delivery   *d = deliveries[i];

		/* one waiting for its run's log in flight is woken by the answer */
		if (d->in_flight || (d->run != NULL && (d->run->log_in_flight || d->run->events_in_flight)))
			continue;
		if (d->next_try < wake)
			wake = d->next_try;
	}
	return wake;
}

bool
spool_pending(void)
{
	return ndeliveries > 0;
}
