/*
 * runner_loop: the runner alone, without the database. Starts
 * paperclip_runner N times one after the other as the launcher does
 * (runner_io.c: a socket pair as its stdin and stdout, its own session,
 * the clean environment), sends the spec and "start", reads the frames
 * until the result and acknowledges it, then reaps the runner. Prints runs
 * per second on stdout and the CPU time of all the runs' processes (runner,
 * init, agent: reaped, so counted) per run on stderr. Run it as the
 * server's OS user, against an installed runner (with its file
 * capabilities):
 *
 *   runuser -u postgres -- ./runner_loop 500 $(pg_config --pkglibdir)/paperclip_runner \
 *     '{"runId":"r","companyId":"<uuid>","adapterType":"process",
 *       "config":{"command":"/bin/true"},"spoolPath":"/tmp/x/r.json"}'
 *
 * (a spool directory the server's OS user may write; "agentIsolation":
 * false for the runs without isolation).
 */
#define _GNU_SOURCE				/* POSIX_SPAWN_SETSID */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
seconds(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char	   *argv_runner[2];
	char	   *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", NULL};
	struct timespec t0,
				t1;
	struct rusage ru;
	int			n,
				i;

	if (argc != 4 || (n = atoi(argv[1])) <= 0)
	{
		fprintf(stderr, "usage: %s N RUNNER SPEC-JSON\n", argv[0]);
		return 2;
	}
	argv_runner[0] = argv[2];
	argv_runner[1] = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
	{
		posix_spawn_file_actions_t fa;
		posix_spawnattr_t attr;
		char		buf[65536];
		size_t		len = 0;
		ssize_t		r;
		int			sv[2],
					status,
					acked = 0;
		pid_t		pid;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		{
			perror("socketpair");
			return 1;
		}
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
		posix_spawnattr_init(&attr);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
		if (posix_spawn(&pid, argv[2], &fa, &attr, argv_runner, envp) != 0)
		{
			perror("posix_spawn");
			return 1;
		}
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
		close(sv[1]);
		dprintf(sv[0], "%s\nstart\n", argv[3]);
		/* frames until the result, then the ack; EOF when the runner exits */
		while ((r = read(sv[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		{
			len += r;
			buf[len] = '\0';
			if (!acked && strstr(buf, "\"type\":\"result\"") != NULL)
			{
				acked = 1;
				if (write(sv[0], "ack\n", 4) != 4)
					break;
			}
			if (len > sizeof(buf) / 2)
				len = 0;
		}
		close(sv[0]);
		if (waitpid(pid, &status, 0) != pid || !acked)
		{
			fprintf(stderr, "run %d: the runner sent no result\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_CHILDREN, &ru);
	fprintf(stderr, "%.1f us of CPU per run\n",
			(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 / n +
			(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / (double) n);
	printf("%.1f\n", n / (seconds(&t1) - seconds(&t0)));
	return 0;
}
