/*-------------------------------------------------------------------------
 * relay.c
 *	  A run's log and events, from its runner to the database, through
 *	  paperclip.append_run_log and paperclip.append_run_event.
 *
 *	  The log is read from the run log file the runner writes on this
 *	  machine (one JSON line per chunk, whole up to paperclip.max_log_bytes);
 *	  the runner's live log frames only say that it grew, for the runner
 *	  drops them when its pipe is full or past its live cap. Adjacent chunks
 *	  of one stream are merged, and a run has at most one statement of each
 *	  kind in flight: when output comes fast, what accumulates meanwhile goes
 *	  in the next one, so a run costs a round trip per batch, not per chunk,
 *	  and the statements of all runs share the pipeline. A batch whose
 *	  answer was lost with the connection is sent again (its lines may then
 *	  be logged twice: never lost); one the database refuses is dropped,
 *	  said in the worker's log.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

#define SEGMENT_MAX (256 * 1024)	/* merged text sent as one log record */

static DbStatement stmt_logs = DB_STATEMENT("paperclip_worker_logs", 2,
											"SELECT pg_catalog.count(paperclip.append_run_log($1::uuid, e ->> 0, e ->> 1)) "
											"FROM pg_catalog.jsonb_array_elements($2::jsonb) AS e");

static DbStatement stmt_events = DB_STATEMENT("paperclip_worker_events", 2,
											  "SELECT pg_catalog.count(paperclip.append_run_event($1::uuid, e ->> 'type', "
											  "  e ->> 'message', nullif(e -> 'payload', 'null'), 'system', e ->> 'level')) "
											  "FROM pg_catalog.jsonb_array_elements($2::jsonb) AS e");

static char *
log_path(const Run *r)
{
	return xasprintf("%s/%s.ndjson", settings.log_dir, r->id);
}

static void
add_item(Buf *batch, int *items, cJSON *item)
{
	char	   *text = cJSON_PrintUnformatted(item);

	if (text == NULL)
		fatal("out of memory");
	if (batch->len > 0)
		buf_appendstr(batch, ",");
	buf_appendstr(batch, text);
	(*items)++;
	free(text);
}

/* The merged chunks become one item of the batch. */
static void
close_segment(Run *r)
{
	cJSON	   *item;

	if (r->seg_text.len == 0)
		return;
	item = cJSON_CreateArray();
	if (item == NULL ||
		!cJSON_AddItemToArray(item, cJSON_CreateString(r->seg_stream)) ||
		!cJSON_AddItemToArray(item, cJSON_CreateString(r->seg_text.data)))
		fatal("out of memory");
	add_item(&r->log_batch, &r->log_items, item);
	cJSON_Delete(item);
	buf_reset(&r->seg_text);
}

/* One line of the run log: {"ts":...,"stream":...,"chunk":...} */
static void
log_line(Run *r, const char *line)
{
	cJSON	   *rec = cJSON_Parse(line);
	const char *stream = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "stream"));
	const char *chunk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "chunk"));

	if (stream == NULL || chunk == NULL || strlen(stream) >= sizeof(r->seg_stream))
	{
		wlog(LOG_WARNING, "run %s: unreadable line in the run log skipped", r->id);
		cJSON_Delete(rec);
		return;
	}
	if (strcmp(stream, r->seg_stream) != 0 || r->seg_text.len >= SEGMENT_MAX)
	{
		close_segment(r);
		strcpy(r->seg_stream, stream);
	}
	buf_appendstr(&r->seg_text, chunk);
	cJSON_Delete(rec);
}

/* Read what the runner added to the run log, up to a batch's worth. */
void
relay_read_log(Run *r)
{
	char		buf[65536];

	if (r->log_fd < 0)
	{
		char	   *path = log_path(r);

		r->log_fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		if (r->log_fd < 0)
		{
			r->log_at_end = true;	/* nothing written yet */
			return;
		}
	}
	r->log_at_end = false;
	while (r->log_batch.len + r->seg_text.len < LOG_BATCH_MAX)
	{
		ssize_t		n = pread(r->log_fd, buf, sizeof(buf), (off_t) r->log_offset);
		char	   *line;
		char	   *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			r->log_at_end = true;
			break;
		}
		r->log_offset += n;
		buf_append(&r->log_partial, buf, n);
		line = r->log_partial.data;
		while ((nl = memchr(line, '\n', r->log_partial.len - (line - r->log_partial.data))) != NULL)
		{
			*nl = '\0';
			log_line(r, line);
			line = nl + 1;
		}
		buf_consume(&r->log_partial, line - r->log_partial.data);
	}
}

/* Every running run's log, even without a frame saying it grew. */
void
relay_read_all_logs(void)
{
	int			i;

	for (i = 0; i < nruns; i++)
		if (runs[i].in_use && runs[i].out_fd >= 0)
			relay_read_log(&runs[i]);
}

void
relay_event(Run *r, const char *type, const char *level, const char *message, cJSON *payload)
{
	cJSON	   *item = cJSON_CreateObject();

	if (item == NULL ||
		!cJSON_AddStringToObject(item, "type", type) ||
		!cJSON_AddStringToObject(item, "level", level) ||
		!cJSON_AddStringToObject(item, "message", message) ||
		(payload != NULL &&
		 !cJSON_AddItemToObject(item, "payload", cJSON_Duplicate(payload, true))))
		fatal("out of memory");
	add_item(&r->event_batch, &r->event_items, item);
	cJSON_Delete(item);
}

void
relay_log_frame(Run *r)
{
	relay_read_log(r);
}

/* A batch came back: sent, refused (dropped), or lost (sent again). */
static void
batch_answered(Run *r, const DbReply *reply, const char *what, Buf *sending,
			   int *sending_items, Buf *pending, int *pending_items)
{
	if (reply->conn_lost)
	{
		if (pending->len > 0)
			buf_appendstr(sending, ",");
		buf_append(sending, pending->data ? pending->data : "", pending->len);
		buf_reset(pending);
		buf_append(pending, sending->data, sending->len);
		*pending_items += *sending_items;
	}
	else if (reply->failed)
		wlog(LOG_WARNING, "run %s: %d %s dropped: %s", r->id, *sending_items, what, reply->message);
	buf_free(sending);
	*sending_items = 0;
}

static void
logs_sent(const DbReply *reply, void *arg)
{
	Run		   *r = arg;

	r->log_in_flight = false;
	batch_answered(r, reply, "log record(s)", &r->log_sending, &r->log_sending_items,
				   &r->log_batch, &r->log_items);
	run_release_if_done(r);
}

static void
events_sent(const DbReply *reply, void *arg)
{
	Run		   *r = arg;

	r->events_in_flight = false;
	batch_answered(r, reply, "event(s)", &r->event_sending, &r->event_sending_items,
				   &r->event_batch, &r->event_items);
	run_release_if_done(r);
}

static void
send_batch(Run *r, DbStatement *st, Buf *pending, int *pending_items, Buf *sending,
		   int *sending_items, bool *in_flight, DbCallback cb)
{
	const char *params[2];
	char	   *array;

	/* the items move to "sending", kept for a resend until answered */
	*sending = *pending;
	*sending_items = *pending_items;
	memset(pending, 0, sizeof(*pending));
	*pending_items = 0;
	array = xasprintf("[%s]", sending->data);
	params[0] = r->id;
	params[1] = array;
	*in_flight = true;
	db_send_prepared(st, params, cb, r);
	free(array);
}

/* Send what a run has pending, when nothing of it is in flight. */
void
relay_flush(Run *r)
{
	if (!db_ready())
		return;
	close_segment(r);
	if (!r->log_in_flight && r->log_items > 0)
		send_batch(r, &stmt_logs, &r->log_batch, &r->log_items, &r->log_sending,
				   &r->log_sending_items, &r->log_in_flight, logs_sent);
	if (db_ready() && !r->events_in_flight && r->event_items > 0)
		send_batch(r, &stmt_events, &r->event_batch, &r->event_items, &r->event_sending,
				   &r->event_sending_items, &r->events_in_flight, events_sent);
}

void
relay_flush_all(void)
{
	int			i;

	for (i = 0; i < nruns; i++)
		if (runs[i].in_use)
			relay_flush(&runs[i]);
}

/*
 * Before its result: the whole run log read and sent (or in flight: the
 * result's statement follows it in the pipeline). True when done.
 */
bool
relay_drain(Run *r)
{
	relay_read_log(r);
	if (r->log_partial.len > 0 && r->log_at_end)
	{
		/* a last line without its newline: the runner is gone, take it */
		buf_appendstr(&r->log_partial, "");
		log_line(r, r->log_partial.data);
		buf_reset(&r->log_partial);
	}
	relay_flush(r);
	return r->log_at_end && r->log_items == 0 && r->seg_text.len == 0 && r->event_items == 0;
}

bool
relay_idle(Run *r)
{
	return !r->log_in_flight && !r->events_in_flight && r->log_items == 0 &&
		r->event_items == 0 && r->seg_text.len == 0;
}

/* The run is done: its local log goes (the database has its copy). */
void
relay_close(Run *r)
{
	char	   *path = log_path(r);

	if (r->log_fd >= 0)
		close(r->log_fd);
	r->log_fd = -1;
	if (unlink(path) != 0 && errno != ENOENT)
		wlog(LOG_WARNING, "could not remove \"%s\": %m", path);
	free(path);
	buf_free(&r->log_partial);
	buf_free(&r->seg_text);
	buf_free(&r->log_batch);
	buf_free(&r->log_sending);
	buf_free(&r->event_batch);
	buf_free(&r->event_sending);
	r->log_items = r->event_items = 0;
}
