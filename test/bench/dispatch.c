/*
 * dispatch: enqueue commit -> agent process started, over N sequential runs
 * of one agent whose process adapter runs bench_agent. The enqueue is one
 * autocommit statement; "sent" is taken before it is sent (an upper bound
 * on the latency), "acked" when its result arrived (a lower bound).
 * Prints p50 and p99 of both, in milliseconds; with a third argument "raw",
 * one line per run instead: its id and both latencies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp(const void *a, const void *b)
{
	long long	x = *(const long long *) a,
				y = *(const long long *) b;

	return (x > y) - (x < y);
}

static PGresult *
exec_ok(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult   *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "dispatch: %s", PQerrorMessage(c));
		exit(1);
	}
	return r;
}

int
main(int argc, char **argv)
{
	const char *agent = argv[1];
	int			n = argc > 2 ? atoi(argv[2]) : 1000;
	int			raw = argc > 3 && strcmp(argv[3], "raw") == 0;
	PGconn	   *c = PQconnectdb("");
	long long  *sent = calloc(n, sizeof(long long));
	long long  *acked = calloc(n, sizeof(long long));
	long long  *lat_sent = calloc(n, sizeof(long long));
	long long  *lat_acked = calloc(n, sizeof(long long));
	char	  **runs = calloc(n, sizeof(char *));
	int			i;

	if (PQstatus(c) != CONNECTION_OK)
	{
		fprintf(stderr, "dispatch: %s", PQerrorMessage(c));
		return 1;
	}
	for (i = 0; i < n; i++)
	{
		const char *p[1] = {agent};
		PGresult   *r;

		sent[i] = now_us();
		r = exec_ok(c, "SELECT id FROM paperclip.enqueue_wakeup($1::uuid)", 1, p);
		acked[i] = now_us();
		runs[i] = strdup(PQgetvalue(r, 0, 0));
		PQclear(r);
		/* wait for it to finish before the next one: one agent, one run at a time */
		for (;;)
		{
			const char *q[1] = {runs[i]};

			r = exec_ok(c, "SELECT status NOT IN ('queued', 'running') FROM paperclip.heartbeat_runs WHERE id = $1", 1, q);
			if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
			{
				PQclear(r);
				break;
			}
			PQclear(r);
			usleep(500);
		}
	}
	for (i = 0; i < n; i++)
	{
		const char *q[1] = {runs[i]};
		PGresult   *r = exec_ok(c, "SELECT (result_json->>'startedUs')::bigint FROM paperclip.heartbeat_runs WHERE id = $1 AND status = 'succeeded'", 1, q);
		long long	started;

		if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		{
			fprintf(stderr, "dispatch: run %s did not succeed\n", runs[i]);
			return 1;
		}
		started = atoll(PQgetvalue(r, 0, 0));
		lat_sent[i] = started - sent[i];
		lat_acked[i] = started - acked[i];
		PQclear(r);
		if (raw)
			printf("%s %.3f %.3f\n", runs[i], lat_sent[i] / 1000.0, lat_acked[i] / 1000.0);
	}
	if (raw)
	{
		PQfinish(c);
		return 0;
	}
	qsort(lat_sent, n, sizeof(long long), cmp);
	qsort(lat_acked, n, sizeof(long long), cmp);
	printf("%.2f %.2f %.2f %.2f\n",
		   lat_sent[n / 2] / 1000.0, lat_sent[(n * 99) / 100] / 1000.0,
		   lat_acked[n / 2] / 1000.0, lat_acked[(n * 99) / 100] / 1000.0);
	PQfinish(c);
	return 0;
}
