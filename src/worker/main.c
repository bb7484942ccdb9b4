/*-------------------------------------------------------------------------
 * main.c
 *	  paperclip_worker: options, its directory, signals, and the one poll()
 *	  loop that serves the database connection (db.c), the runners
 *	  (runner.c), the relay of their logs (relay.c), the spool (spool.c) and
 *	  the claims and leases (claim.c). See worker.h.
 *
 *	  SIGTERM or SIGINT: drain (claim nothing more, finish and deliver the
 *	  runs in flight, then exit). A second one: stop the runs now (their
 *	  runners cancel their agents; the runs end process_lost, retried). A
 *	  third: exit at once (the runners stop their runs by themselves, and the
 *	  runs' leases lapse).
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#ifndef PC_RUNNER_DEFAULT
#define PC_RUNNER_DEFAULT "paperclip_runner"
#endif
#define CONCURRENCY_DEFAULT 8
#define CONCURRENCY_MAX 1024
#define NAME_MAX_BYTES 200

Settings	settings;
bool		draining = false;
bool		stopping = false;

static void
usage(FILE *out)
{
	fprintf(out,
			"%s runs the agent runs of a pg_paperclip database on this machine.\n\n"
			"Usage:\n  %s [OPTION]...\n\n"
			"Options:\n"
			"  -d, --dsn=CONNINFO      database to serve (default: libpq's environment, PGHOST...)\n"
			"  -c, --concurrency=N     runs at once (default %d)\n"
			"  -n, --name=NAME         this worker's name, recorded on its runs; unique among\n"
			"                          workers (default: hostname:pid)\n"
			"  -D, --dir=DIR           spool and run logs, in DIR/NAME (default:\n"
			"                          $XDG_STATE_HOME/paperclip_worker or\n"
			"                          ~/.local/state/paperclip_worker)\n"
			"  -r, --runner=PATH       the paperclip_runner executable (default %s)\n"
			"  -v, --verbose           say what happens to each run\n"
			"  -V, --version           print the version and exit\n"
			"  -h, --help              print this help and exit\n\n"
			"The role it connects as needs paperclip_operator and a row in\n"
			"paperclip.company_roles (company_id NULL: every company). SIGTERM drains:\n"
			"no new runs, the runs in flight finish; a second SIGTERM stops them.\n",
			WORKER_NAME, WORKER_NAME, CONCURRENCY_DEFAULT, PC_RUNNER_DEFAULT);
}

static char *
default_name(void)
{
	char		host[HOST_NAME_MAX + 1];

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[HOST_NAME_MAX] = '\0';
	return xasprintf("%s:%d", host, (int) getpid());
}

static char *
default_dir(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (state != NULL && state[0] == '/')
		return xasprintf("%s/paperclip_worker", state);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/paperclip_worker", home);
	return xasprintf("/tmp/paperclip_worker-%d", (int) getuid());
}

/* A directory of ours (created 0700), not one another user could swap. */
static void
make_dir(const char *path)
{
	char	   *p = xstrdup(path);
	char	   *s;
	struct stat st;

	for (s = p + 1; *s; s++)
		if (*s == '/')
		{
			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST)
				fatal("could not create directory \"%s\": %m", p);
			*s = '/';
		}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		fatal("could not create directory \"%s\": %m", p);
	if (lstat(p, &st) != 0)
		fatal("could not stat \"%s\": %m", p);
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022) != 0)
		fatal("\"%s\" must be a directory of this user that no one else may write to", p);
	free(p);
}

/*
 * One live worker per directory: a second one of the same --name would take
 * the first one's spool and logs for leftovers. The lock lives as long as
 * the process (its descriptor is never closed, and not inherited).
 */
static void
lock_dir(void)
{
	char	   *path = xasprintf("%s/lock", settings.dir);
	int			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		fatal("could not open \"%s\": %m", path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		fatal("another paperclip_worker named \"%s\" runs with directory \"%s\": names must be unique",
			  settings.name, settings.dir);
	free(path);
}

/* The worker's name as a directory name: other characters become '_'. */
static char *
dir_name(const char *name)
{
	char	   *d = xstrdup(name);
	char	   *s;

	for (s = d; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			  (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_' || *s == ':'))
			*s = '_';
	if (strcmp(d, ".") == 0 || strcmp(d, "..") == 0)
		d[0] = '_';
	return d;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option options[] = {
		{"dsn", required_argument, NULL, 'd'},
		{"concurrency", required_argument, NULL, 'c'},
		{"name", required_argument, NULL, 'n'},
		{"dir", required_argument, NULL, 'D'},
		{"runner", required_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *dir = NULL;
	char	   *end;
	int			c;
	PQconninfoOption *parsed;
	char	   *err = NULL;
	const char *p;

	settings.dsn = "";
	settings.concurrency = CONCURRENCY_DEFAULT;
	settings.runner_path = PC_RUNNER_DEFAULT;
	while ((c = getopt_long(argc, argv, "d:c:n:D:r:vVh", options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				settings.dsn = optarg;
				break;
			case 'c':
				errno = 0;
				settings.concurrency = (int) strtol(optarg, &end, 10);
				if (errno != 0 || *end != '\0' || settings.concurrency < 1 ||
					settings.concurrency > CONCURRENCY_MAX)
				{
					fprintf(stderr, "%s: --concurrency must be a number from 1 to %d\n",
							WORKER_NAME, CONCURRENCY_MAX);
					exit(2);
				}
				break;
			case 'n':
				settings.name = optarg;
				break;
			case 'D':
				dir = optarg;
				break;
			case 'r':
				settings.runner_path = optarg;
				break;
			case 'v':
				log_verbosity = LOG_DEBUG;
				break;
			case 'V':
				printf("%s (pg_paperclip) %s\n", WORKER_NAME, PC_WORKER_VERSION);
				exit(0);
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", WORKER_NAME);
				exit(2);
		}
	}
	/* as PostgreSQL's own programs: a runner of untrusted agents is no root process */
	if (geteuid() == 0)
	{
		fprintf(stderr, "%s: cannot be run as root\n"
				"Please start it as an unprivileged user: agents run as paperclip.agent_os_user,\n"
				"which the runner's capabilities switch to.\n", WORKER_NAME);
		exit(1);
	}
	if (optind < argc)
	{
		fprintf(stderr, "%s: unexpected argument \"%s\"\nTry \"%s --help\" for more information.\n",
				WORKER_NAME, argv[optind], WORKER_NAME);
		exit(2);
	}

	if (settings.name == NULL)
		settings.name = default_name();
	if (settings.name[0] == '\0' || strlen(settings.name) > NAME_MAX_BYTES)
		fatal("--name must have 1 to %d bytes", NAME_MAX_BYTES);
	for (p = settings.name; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			fatal("--name must not contain control characters");
	/* a connection string that cannot work is said now, not retried forever */
	if (strchr(settings.dsn, '=') != NULL || strncmp(settings.dsn, "postgresql://", 13) == 0 ||
		strncmp(settings.dsn, "postgres://", 11) == 0)
	{
		parsed = PQconninfoParse(settings.dsn, &err);
		if (parsed == NULL)
			fatal("invalid --dsn: %s", err ? err : "out of memory");
		PQconninfoFree(parsed);
	}
	if (access(settings.runner_path, X_OK) != 0)
		fatal("cannot execute the runner \"%s\": %m (see --runner)", settings.runner_path);

	{
		char	   *base = dir ? xstrdup(dir) : default_dir();
		char	   *sub = dir_name(settings.name);

		if (base[0] != '/')
			fatal("--dir must be an absolute path");
		settings.dir = xasprintf("%s/%s", base, sub);
		settings.spool_dir = xasprintf("%s/spool", settings.dir);
		settings.log_dir = xasprintf("%s/logs", settings.dir);
		make_dir(base);
		make_dir(settings.dir);
		lock_dir();
		make_dir(settings.spool_dir);
		make_dir(settings.log_dir);
		free(base);
		free(sub);
	}
}

/*
 * Each run takes three descriptors (the runner's two pipes, its log): the
 * soft limit is raised to the hard one, and the concurrency kept within it
 * (a run that found no descriptor would fail runner_spawn_failed).
 */
static void
fit_descriptors(void)
{
	struct rlimit rl;
	int			fits;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max)
	{
		rl.rlim_cur = rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
		(void) getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 3 * CONCURRENCY_MAX + 64)
		return;
	fits = ((int) rl.rlim_cur - 64) / 3;
	if (fits < 1)
		fits = 1;
	if (settings.concurrency > fits)
	{
		wlog(LOG_WARNING, "--concurrency %d lowered to %d: %d file descriptors allowed (ulimit -n), 3 a run",
			 settings.concurrency, fits, (int) rl.rlim_cur);
		settings.concurrency = fits;
	}
}

/* SIGTERM, SIGINT and SIGCHLD come through a signalfd, read in the loop. */
static int
signals_init(void)
{
	sigset_t	set;
	int			fd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
		(fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("cannot watch signals: %m");
	return fd;
}

static void
handle_signals(int fd)
{
	static int	stop_signals = 0;
	struct signalfd_siginfo si;
	int			i;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
	{
		if (si.ssi_signo == SIGCHLD)
		{
			runners_reap();
			continue;
		}
		switch (++stop_signals)
		{
			case 1:
				draining = true;
				wlog(LOG_INFO, "draining: no new runs; %d run(s) to finish (signal again to stop them now)",
					 runs_busy());
				break;
			case 2:
				stopping = true;
				wlog(LOG_INFO, "stopping %d run(s) now: they end process_lost, to be retried",
					 runners_alive());
				for (i = 0; i < nruns; i++)
					if (runs[i].in_use)
						runner_stop(&runs[i], false);
				break;
			default:
				wlog(LOG_INFO, "exiting at once: the runs' leases lapse, and they are retried");
				exit(1);
		}
	}
}

static bool
finished(void)
{
	if (!draining || runners_alive() > 0)
		return false;
	if (runs_busy() == 0 && !spool_pending())
		return true;
	/* results of runs still to deliver stay in the spool for the next start */
	if (!db_ready())
	{
		wlog(LOG_INFO, "the database is away: results of %d run(s) stay in \"%s\"",
			 runs_busy(), settings.spool_dir);
		return true;
	}
	return false;
}

int
main(int argc, char **argv)
{
	int			sigfd;
	struct pollfd *fds;
	Run		  **owners;
	long long	next_log_scan = 0;

	parse_options(argc, argv);
	fit_descriptors();
	sigfd = signals_init();
	srandom((unsigned) (time(NULL) ^ getpid()));
	cJSON_InitHooks(&(cJSON_Hooks) {.malloc_fn = xmalloc,.free_fn = free});
	nruns = settings.concurrency;
	runs = xmalloc(sizeof(Run) * nruns);
	memset(runs, 0, sizeof(Run) * nruns);
	fds = xmalloc(sizeof(struct pollfd) * (2 + 2 * nruns));
	owners = xmalloc(sizeof(Run *) * (2 + 2 * nruns));
	wlog(LOG_INFO, "worker \"%s\" starting: %d run(s) at once, runner \"%s\", directory \"%s\"",
		 settings.name, settings.concurrency, settings.runner_path, settings.dir);
	spool_init();

	while (!finished())
	{
		int			n = 0;
		int			db_index = -1;
		int			db_fd;
		short		db_events;
		long long	now = now_ms();
		long long	wake = next_log_scan;
		long long	w;
		int			timeout;
		int			i;

		fds[n].fd = sigfd;
		fds[n].events = POLLIN;
		owners[n++] = NULL;
		db_poll_fd(&db_fd, &db_events);
		if (db_fd >= 0)
		{
			db_index = n;
			fds[n].fd = db_fd;
			fds[n].events = db_events;
			owners[n++] = NULL;
		}
		runners_poll_fds(fds, owners, &n);

		if ((w = db_next_wake()) < wake)
			wake = w;
		if ((w = claim_next_wake()) < wake)
			wake = w;
		if ((w = spool_next_wake()) < wake)
			wake = w;
		timeout = wake <= now ? 0 : wake - now > 1000 ? 1000 : (int) (wake - now);

		for (i = 0; i < n; i++)
			fds[i].revents = 0;
		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			fatal("poll failed: %m");

		if (fds[0].revents)
			handle_signals(sigfd);
		db_step(db_index >= 0 ? fds[db_index].revents : 0);
		for (i = 0; i < n; i++)
			if (owners[i] != NULL && fds[i].revents != 0)
				runner_io(owners[i], fds[i].fd, fds[i].revents);
		if (now_ms() >= next_log_scan)
		{
			relay_read_all_logs();
			next_log_scan = now_ms() + LOG_SCAN_MS;
		}
		relay_flush_all();
		spool_step();
		claim_step();
	}
	db_finish();
	wlog(LOG_INFO, "worker \"%s\" stopped", settings.name);
	return 0;
}
