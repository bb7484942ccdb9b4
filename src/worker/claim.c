/*-------------------------------------------------------------------------
 * claim.c
 *	  What paperclip_worker asks of the queue: it LISTENs on the live-event
 *	  channel, whose content-free notifications say when a run was queued
 *	  (heartbeat.run.queued, or a status turned queued: a retry promoted)
 *	  or cancelled; it claims runs with paperclip.worker_claim_runs when told
 *	  of new ones, when a run of its own ends, and every CLAIM_POLL_MS as a
 *	  safety net (a notification lost with a connection, live events turned
 *	  off). It renews the leases of all its runs in one statement every
 *	  third of paperclip.worker_lease (read from the server, which may
 *	  change it), and stops the runs the database says it no longer holds
 *	  or that were cancelled. A notification is only a hint (any login may
 *	  NOTIFY the channel): told that one of its runs was cancelled, it
 *	  renews at once, and the database's answer decides.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

#define LEASE_DEFAULT_S 30.0

double		lease_seconds = LEASE_DEFAULT_S;

static bool claim_wanted = true;
static bool claim_in_flight = false;
static int	claim_asked = 0;
static long long next_claim = 0;	/* the safety net's next claim */
static bool renew_in_flight = false;
static long long next_renew = 0;
static char *last_claim_error = NULL;

static DbStatement stmt_claim = DB_STATEMENT("paperclip_worker_claim", 2,
											 "SELECT run_id, spec FROM paperclip.worker_claim_runs($1, $2::int)");
static DbStatement stmt_renew = DB_STATEMENT("paperclip_worker_renew", 2,
											 "SELECT run_id, status, held FROM paperclip.worker_renew_leases($1, $2::uuid[])");
static DbStatement stmt_lease = DB_STATEMENT("paperclip_worker_lease", 0,
											 "SELECT extract(epoch FROM pg_catalog.current_setting('paperclip.worker_lease', true)::interval)::float8");

/* ----------------------------------------------------------------------
 * The lease's length
 * ----------------------------------------------------------------------
 */

static void
lease_read(const DbReply *reply, void *arg)
{
	double		s;

	if (reply->conn_lost)
		return;
	if (reply->failed || PQntuples(reply->result) != 1 || PQgetisnull(reply->result, 0, 0))
	{
		if (reply->failed)
			wlog(LOG_WARNING, "could not read paperclip.worker_lease: %s", reply->message);
		return;
	}
	s = atof(PQgetvalue(reply->result, 0, 0));
	if (s > 0 && s != lease_seconds)
	{
		wlog(LOG_INFO, "runs are leased for %g s: leases renewed every %g s", s, s / 3);
		lease_seconds = s;
		/* a shorter lease: renew on its new schedule */
		if (next_renew > now_ms() + (long long) (s * 1000 / 3))
			next_renew = now_ms();
	}
}

static void
send_lease_read(void)
{
	db_send_prepared(&stmt_lease, NULL, lease_read, NULL);
}

/* ----------------------------------------------------------------------
 * Leases
 * ----------------------------------------------------------------------
 */

static void
renewed(const DbReply *reply, void *arg)
{
	int			i;

	renew_in_flight = false;
	if (reply->conn_lost)
	{
		next_renew = 0;			/* at once, on the next connection */
		return;
	}
	if (reply->failed)
	{
		wlog(LOG_WARNING, "could not renew leases: %s", reply->message);
		next_renew = now_ms() + 1000;
		return;
	}
	for (i = 0; i < PQntuples(reply->result); i++)
	{
		Run		   *r = run_find(PQgetvalue(reply->result, i, 0));
		const char *status = PQgetvalue(reply->result, i, 1);
		bool		held = strcmp(PQgetvalue(reply->result, i, 2), "t") == 0;

		if (r == NULL || r->lost)
			continue;
		if (!held)
		{
			wlog(LOG_WARNING, "run %s: lease lost (status %s): stopping it, its result will not be recorded",
				 r->id, status[0] ? status : "unknown");
			runner_stop(r, true);
		}
		else if (strcmp(status, "cancelled") == 0)
			runner_stop(r, false);
	}
}

/* Renew the leases of every run held, in one statement. */
static void
send_renew(void)
{
	Buf			ids = {0};
	const char *params[2];
	int			n = 0;
	int			i;

	buf_appendstr(&ids, "{");
	for (i = 0; i < nruns; i++)
	{
		if (!runs[i].in_use || runs[i].lost)
			continue;
		if (n++ > 0)
			buf_appendstr(&ids, ",");
		buf_appendstr(&ids, runs[i].id);
	}
	buf_appendstr(&ids, "}");
	next_renew = now_ms() + (long long) (lease_seconds * 1000 / 3);
	if (n > 0)
	{
		params[0] = settings.name;
		params[1] = ids.data;
		send_lease_read();
		db_send_prepared(&stmt_renew, params, renewed, NULL);
		renew_in_flight = true;
	}
	buf_free(&ids);
}

/* Renew at the next step (a reconnection: renewals may have been missed). */
void
renew_now(void)
{
	next_renew = 0;
}

/* ----------------------------------------------------------------------
 * Claims
 * ----------------------------------------------------------------------
 */

static void
claimed(const DbReply *reply, void *arg)
{
	int			n;
	int			i;

	claim_in_flight = false;
	next_claim = now_ms() + CLAIM_POLL_MS;
	if (reply->conn_lost)
		return;
	if (reply->failed)
	{
		/* said once until it changes: the safety net retries every few seconds */
		if (last_claim_error == NULL || strcmp(last_claim_error, reply->message) != 0)
			wlog(LOG_WARNING, "could not claim runs: %s%s", reply->message,
				 strcmp(reply->sqlstate, "42883") == 0 || strcmp(reply->sqlstate, "3F000") == 0 ?
				 " (is the paperclip extension, version 0.2 or later, in this database?)" : "");
		free(last_claim_error);
		last_claim_error = xstrdup(reply->message);
		return;
	}
	if (last_claim_error)
	{
		wlog(LOG_INFO, "claiming runs again");
		free(last_claim_error);
		last_claim_error = NULL;
	}
	n = PQntuples(reply->result);
	for (i = 0; i < n; i++)
		runner_start(PQgetvalue(reply->result, i, 0), PQgetvalue(reply->result, i, 1));
	/* as many as asked: more may be waiting */
	if (n > 0 && n == claim_asked)
		claim_wanted = true;
}

static void
send_claim(int free_slots)
{
	char		max[16];
	const char *params[2];

	snprintf(max, sizeof(max), "%d", free_slots);
	params[0] = settings.name;
	params[1] = max;
	claim_wanted = false;
	claim_in_flight = true;
	claim_asked = free_slots;
	db_send_prepared(&stmt_claim, params, claimed, NULL);
}

/* ----------------------------------------------------------------------
 * Notifications and the loop's side
 * ----------------------------------------------------------------------
 */

static void
listened(const DbReply *reply, void *arg)
{
	if (reply->failed)
		wlog(LOG_WARNING, "could not LISTEN for new runs: %s (claiming every %d ms instead)",
			 reply->message, CLAIM_POLL_MS);
}

/* A new connection: listen first (no queued run missed), then catch up. */
void
claim_on_connect(void)
{
	db_send("LISTEN paperclip_events", 0, NULL, listened, NULL);
	send_lease_read();
	claim_in_flight = renew_in_flight = false;
	claim_wanted = true;
	renew_now();
}

/*
 * A live event (sql-api.md): {"companyId", "type", "payload"}, content-free.
 * Most are run logs and events: looked at only when their type matters.
 */
void
claim_notified(const char *payload)
{
	cJSON	   *event;
	cJSON	   *body;
	const char *type;

	if (strstr(payload, "\"heartbeat.run.queued\"") != NULL)
	{
		claim_wanted = true;
		return;
	}
	if (strstr(payload, "\"heartbeat.run.status\"") == NULL)
		return;
	event = cJSON_Parse(payload);
	type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "type"));
	body = cJSON_GetObjectItemCaseSensitive(event, "payload");
	if (type && strcmp(type, "heartbeat.run.status") == 0 && cJSON_IsObject(body))
	{
		const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "status"));
		const char *run_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "runId"));

		if (status && strcmp(status, "queued") == 0)
			claim_wanted = true;	/* a retry promoted */
		else if (status && run_id && strcmp(status, "cancelled") == 0)
		{
			Run		   *r = run_find(run_id);

			/*
			 * A hint only: any login may NOTIFY this channel. The renewal
			 * asks the database, which stops the run if it was cancelled.
			 */
			if (r != NULL)
				renew_now();
		}
	}
	cJSON_Delete(event);
}

void
claim_step(void)
{
	long long	now = now_ms();
	int			free_slots = settings.concurrency - runs_busy();

	if (!db_ready())
		return;
	if (!renew_in_flight && now >= next_renew)
		send_renew();
	if (!claim_in_flight && !draining && free_slots > 0 && (claim_wanted || now >= next_claim))
		send_claim(free_slots);
}

long long
claim_next_wake(void)
{
	long long	now = now_ms();
	long long	wake = now + 60000;
	int			i;

	if (!db_ready())
		return wake;
	for (i = 0; i < nruns; i++)
		if (runs[i].in_use && !runs[i].lost && !renew_in_flight && next_renew < wake)
			wake = next_renew;
	if (!claim_in_flight && !draining && settings.concurrency - runs_busy() > 0)
	{
		if (claim_wanted)
			wake = now;
		else if (next_claim < wake)
			wake = next_claim;
	}
	return wake;
}

/* A run ended: its slot may take another. */
void
claim_slot_freed(void)
{
	claim_wanted = true;
}
