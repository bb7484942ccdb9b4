/*-------------------------------------------------------------------------
 * db.c
 *	  paperclip_worker's one database connection, never blocking the loop:
 *	  connected with PQconnectStartParams/PQconnectPoll, used in libpq's
 *	  pipeline mode, non-blocking. Each statement is sent with its own
 *	  sync, so it is its own transaction and its error costs it alone;
 *	  statements sent together still take one round trip. Their answers
 *	  come back in order to the callback each was sent with. LISTEN's
 *	  notifications go to claim.c.
 *
 *	  A connection that fails, closes, or leaves a statement unanswered for
 *	  too long (a network cut that TCP does not report) is dropped: every
 *	  statement waiting for an answer is told so (conn_lost), and a new
 *	  connection is attempted after a backoff doubling from BACKOFF_MIN_MS
 *	  to BACKOFF_MAX_MS, with jitter so that many workers do not come back
 *	  at the same instant. Meanwhile the runners go on (runner.c) and their
 *	  results wait in the spool (spool.c).
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "worker.h"

typedef enum DbState
{
	DB_DOWN,
	DB_CONNECTING,
	DB_READY
} DbState;

typedef struct Pending
{
	DbCallback	cb;
	void	   *arg;
	long long	sent_at;
	DbStatement *preparing;		/* its first result is this statement's Parse */
	DbReply		reply;
} Pending;

#define MAX_STATEMENTS 16
static DbStatement *statements[MAX_STATEMENTS];	/* prepared ones, to forget at reconnection */
static int	nstatements = 0;

static PGconn *conn = NULL;
static DbState state = DB_DOWN;
static long long retry_at = 0;	/* DB_DOWN: the next attempt */
static long long backoff_ms = 0;
static long long connect_deadline = 0;
static PostgresPollingStatusType connect_wants = PGRES_POLLING_WRITING;
static bool want_write = false; /* output buffered: wait until writable */
static bool ever_connected = false;

static Pending *fifo = NULL;	/* statements waiting for their answer, in order */
static int	fifo_len = 0;
static int	fifo_cap = 0;

static void db_lost(const char *why);

bool
db_ready(void)
{
	return state == DB_READY;
}

int
db_in_flight(void)
{
	return fifo_len;
}

/* A statement unanswered this long means the connection is gone. */
static long long
io_timeout_ms(void)
{
	long long	half_lease = (long long) (lease_seconds * 500);

	return half_lease > MIN_IO_TIMEOUT_MS ? half_lease : MIN_IO_TIMEOUT_MS;
}

static const char *
conn_error(void)
{
	const char *msg = conn ? PQerrorMessage(conn) : "";
	static char buf[512];
	size_t		n;

	/* one line: libpq's messages end with a newline */
	n = strcspn(msg, "\n");
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return n > 0 ? buf : "connection closed";
}

/* ----------------------------------------------------------------------
 * Connecting
 * ----------------------------------------------------------------------
 */

static void
schedule_retry(void)
{
	long long	jitter;

	backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS : backoff_ms * 2;
	if (backoff_ms > BACKOFF_MAX_MS)
		backoff_ms = BACKOFF_MAX_MS;
	/* +-20 % */
	jitter = backoff_ms / 5 > 0 ? (random() % (2 * (backoff_ms / 5) + 1)) - backoff_ms / 5 : 0;
	retry_at = now_ms() + backoff_ms + jitter;
}

static void
connect_start(void)
{
	/*
	 * Before dbname: defaults the connection string may override; after it:
	 * what the worker needs (its texts are UTF-8).
	 */
	const char *keys[] = {"fallback_application_name", "keepalives", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "dbname", "client_encoding", NULL};
	const char *values[] = {WORKER_NAME, "1", "10", "5", "3", settings.dsn, "UTF8", NULL};

	conn = PQconnectStartParams(keys, values, 1);
	if (conn == NULL)
		fatal("out of memory");
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		wlog(LOG_WARNING, "could not connect to the database: %s", conn_error());
		PQfinish(conn);
		conn = NULL;
		schedule_retry();
		return;
	}
	state = DB_CONNECTING;
	connect_wants = PGRES_POLLING_WRITING;
	connect_deadline = now_ms() + CONNECT_TIMEOUT_MS;
}

static void
connected(void)
{
	if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1)
	{
		db_lost("could not enter pipeline mode");
		return;
	}
	state = DB_READY;
	backoff_ms = 0;
	want_write = false;
	wlog(LOG_INFO, "%sconnected to database \"%s\" on %s as \"%s\"",
		 ever_connected ? "re" : "", PQdb(conn),
		 PQhost(conn) && PQhost(conn)[0] == '/' ? "its local socket" : PQhost(conn),
		 PQuser(conn));
	ever_connected = true;
	claim_on_connect();
}

static void
connect_step(void)
{
	connect_wants = PQconnectPoll(conn);
	if (connect_wants == PGRES_POLLING_OK)
		connected();
	else if (connect_wants == PGRES_POLLING_FAILED)
	{
		wlog(LOG_WARNING, "could not connect to the database: %s", conn_error());
		PQfinish(conn);
		conn = NULL;
		state = DB_DOWN;
		schedule_retry();
	}
}

/* ----------------------------------------------------------------------
 * Statements
 * ----------------------------------------------------------------------
 */

static Pending *
push_pending(DbCallback cb, void *arg)
{
	Pending    *p;

	if (fifo_len == fifo_cap)
	{
		fifo_cap = fifo_cap ? fifo_cap * 2 : 16;
		fifo = xrealloc(fifo, sizeof(Pending) * fifo_cap);
	}
	p = &fifo[fifo_len++];
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	p->sent_at = now_ms();
	return p;
}

/* A statement could not even be queued: the connection is unusable. */
static void
send_failed(DbCallback cb, void *arg)
{
	/* answered as lost: the callback sees what the others waiting see */
	DbReply		reply = {.conn_lost = true};

	db_lost(conn_error());
	if (cb)
		cb(&reply, arg);
}

static void
flush_output(void)
{
	int			rc = PQflush(conn);

	if (rc < 0)
		db_lost(conn_error());
	else
		want_write = (rc == 1);
}

/*
 * Send one statement (text parameters) in its own transaction; cb gets
 * its answer. Only when db_ready().
 */
void
db_send(const char *sql, int nparams, const char *const *values, DbCallback cb, void *arg)
{
	if (state != DB_READY)
		fatal("internal error: statement sent without a connection");
	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0) ||
		!PQpipelineSync(conn))
	{
		send_failed(cb, arg);
		return;
	}
	push_pending(cb, arg);
	flush_output();
}

/*
 * The same for a statement run often: parsed and planned once per
 * connection (its Parse goes with its first execution, in the same
 * transaction: an error there is the execution's error).
 */
void
db_send_prepared(DbStatement *st, const char *const *values, DbCallback cb, void *arg)
{
	bool		prepare = !st->prepared;

	if (state != DB_READY)
		fatal("internal error: statement sent without a connection");
	if (!st->registered)
	{
		if (nstatements == MAX_STATEMENTS)
			fatal("internal error: too many prepared statements");
		statements[nstatements++] = st;
		st->registered = true;
	}
	if ((prepare && !PQsendPrepare(conn, st->name, st->sql, st->nparams, NULL)) ||
		!PQsendQueryPrepared(conn, st->name, st->nparams, values, NULL, NULL, 0) ||
		!PQpipelineSync(conn))
	{
		send_failed(cb, arg);
		return;
	}
	/* prepared from now on for what follows in the pipeline; if the Parse fails, again */
	st->prepared = true;
	push_pending(cb, arg)->preparing = prepare ? st : NULL;
	flush_output();
}

static void
reply_free(DbReply *r)
{
	if (r->result)
		PQclear(r->result);
	free((char *) r->message);
	memset(r, 0, sizeof(*r));
}

/* The oldest statement has its answer: hand it over. */
static void
complete_head(void)
{
	Pending		p = fifo[0];

	memmove(fifo, fifo + 1, sizeof(Pending) * (fifo_len - 1));
	fifo_len--;
	if (p.cb)
		p.cb(&p.reply, p.arg);
	reply_free(&p.reply);
}

/* An error that says the server or the connection is going away. */
static bool
connection_error(const char *sqlstate)
{
	return sqlstate[0] == '\0' || strncmp(sqlstate, "08", 2) == 0 ||
		strncmp(sqlstate, "57P", 3) == 0;
}

static void
read_results(void)
{
	int			nulls = 0;

	while (state == DB_READY && fifo_len > 0 && !PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);
		DbReply    *reply = &fifo[0].reply;
		const char *sqlstate;

		if (res == NULL)
		{
			/* the end of one statement's results; twice: nothing more yet */
			if (++nulls > 1)
				break;
			continue;
		}
		nulls = 0;
		switch (PQresultStatus(res))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				complete_head();
				break;
			case PGRES_TUPLES_OK:
			case PGRES_COMMAND_OK:
				if (fifo[0].preparing != NULL)
				{
					/* the Parse of a statement prepared with its first execution */
					fifo[0].preparing = NULL;
					PQclear(res);
				}
				else if (reply->result == NULL && !reply->failed)
					reply->result = res;
				else
					PQclear(res);
				break;
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				if (!reply->failed)
				{
					reply->failed = true;
					reply->message = xstrdup("not run: an earlier statement failed");
				}
				break;
			default:
				sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
				if (sqlstate == NULL)
					sqlstate = "";
				if (connection_error(sqlstate) || PQstatus(conn) == CONNECTION_BAD)
				{
					char	   *why = xstrdup(PQresultErrorMessage(res));

					why[strcspn(why, "\n")] = '\0';
					PQclear(res);
					db_lost(why);
					free(why);
					return;
				}
				if (fifo[0].preparing != NULL)
					fifo[0].preparing->prepared = false;	/* its Parse failed: again next time */
				fifo[0].preparing = NULL;
				if (!reply->failed)
				{
					const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
					const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

					reply->failed = true;
					strncpy(reply->sqlstate, sqlstate, 5);
					reply->message = detail ? xasprintf("%s (%s)", msg ? msg : "error", detail)
						: xstrdup(msg ? msg : "error");
				}
				PQclear(res);
				break;
		}
	}
	if (state == DB_READY && PQstatus(conn) == CONNECTION_BAD)
		db_lost(conn_error());
}

static void
read_notifications(void)
{
	PGnotify   *n;

	while (state == DB_READY && (n = PQnotifies(conn)) != NULL)
	{
		claim_notified(n->extra);
		PQfreemem(n);
	}
}

/*
 * The connection is gone: every statement waiting is answered conn_lost
 * (in order), and the next attempt is scheduled.
 */
static void
db_lost(const char *why)
{
	Pending    *lost;
	int			n;
	int			i;

	if (state == DB_DOWN)
		return;
	wlog(LOG_WARNING, "lost the database connection: %s", why && why[0] ? why : "closed");
	if (conn)
		PQfinish(conn);
	conn = NULL;
	state = DB_DOWN;
	want_write = false;
	for (i = 0; i < nstatements; i++)
		statements[i]->prepared = false;
	schedule_retry();
	wlog(LOG_INFO, "reconnecting in %lld ms; %d run(s) go on meanwhile", backoff_ms, runs_busy());

	/* answered after the state changed: the callbacks see no connection */
	lost = fifo;
	n = fifo_len;
	fifo = NULL;
	fifo_len = fifo_cap = 0;
	for (i = 0; i < n; i++)
	{
		reply_free(&lost[i].reply);
		lost[i].reply.conn_lost = true;
		if (lost[i].cb)
			lost[i].cb(&lost[i].reply, lost[i].arg);
	}
	free(lost);
}

/* ----------------------------------------------------------------------
 * The loop's side
 * ----------------------------------------------------------------------
 */

/* What to poll for: the connection's socket and the events it waits for. */
void
db_poll_fd(int *fd, short *events)
{
	*fd = -1;
	*events = 0;
	if (state == DB_CONNECTING)
	{
		*fd = PQsocket(conn);
		*events = connect_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT;
	}
	else if (state == DB_READY)
	{
		*fd = PQsocket(conn);
		*events = POLLIN | (want_write ? POLLOUT : 0);
	}
}

/* When the loop must come back here even if nothing is readable. */
long long
db_next_wake(void)
{
	switch (state)
	{
		case DB_DOWN:
			return retry_at;
		case DB_CONNECTING:
			return connect_deadline;
		case DB_READY:
			return fifo_len > 0 ? fifo[0].sent_at + io_timeout_ms() : now_ms() + 60000;
	}
	return now_ms() + 1000;
}

/* Progress with what poll() reported (revents of db_poll_fd's socket). */
void
db_step(short revents)
{
	long long	now = now_ms();

	if (state == DB_DOWN)
	{
		if (now >= retry_at)
			connect_start();
		return;
	}
	if (state == DB_CONNECTING)
	{
		if (revents != 0)
			connect_step();
		else if (now >= connect_deadline)
		{
			PQfinish(conn);
			conn = NULL;
			state = DB_DOWN;
			wlog(LOG_WARNING, "could not connect to the database: timed out after %d ms",
				 CONNECT_TIMEOUT_MS);
			schedule_retry();
		}
		return;
	}

	if (want_write || (revents & POLLOUT))
	{
		int			rc = PQflush(conn);

		if (rc < 0)
		{
			db_lost(conn_error());
			return;
		}
		want_write = (rc == 1);
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
	{
		if (!PQconsumeInput(conn))
		{
			db_lost(conn_error());
			return;
		}
	}
	read_results();
	read_notifications();
	if (state == DB_READY && fifo_len > 0 && now - fifo[0].sent_at > io_timeout_ms())
	{
		char		why[128];

		snprintf(why, sizeof(why), "no answer for %lld ms", now - fifo[0].sent_at);
		db_lost(why);
	}
}

void
db_finish(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
	state = DB_DOWN;
}
