/*-------------------------------------------------------------------------
 * sandbox.c
 *	  Owns how an agent's program is started and contained, for every
 *	  adapter that runs a program, and the runner's only privilege.
 *
 *	  With isolation (paperclip.agent_isolation, the default) each run gets
 *	  its own user, pid, mount and IPC namespaces, modelled on bubblewrap's
 *	  bubblewrap.c (containers/bubblewrap) in its setuid mode:
 *
 *	    runner (server's OS user; cap_setuid,cap_setgid only permitted)
 *	      `- init: pid 1 of the run's pid namespace, our code, the OS user
 *	         paperclip.agent_os_user; dies with the runner (PDEATHSIG) and
 *	         the kernel then kills every process of the namespace
 *	           `- the agent's program, and whatever it starts
 *
 *	  The runner clones the init into new namespaces and writes its uid and
 *	  gid maps (the agent's own ids, nothing else): the one use of the file
 *	  capabilities cap_setuid,cap_setgid of the installed runner, effective
 *	  for that write only. They are dropped for good as soon as the run's
 *	  program started (agent.c; a second program of the same run may keep
 *	  them until it starts), and at once on every other path. The init
 *	  takes the agent's ids, mounts a /proc of its pid namespace (nothing
 *	  outside the run is visible), a private /var/tmp holding the context
 *	  and result files (and TMPDIR), an empty /dev/shm and /run/lock (the
 *	  three directories of one tmpfs of the run), and its company's own
 *	  home over the agent home (<home>/companies/<company id>: every run
 *	  has the same OS user, so nothing shared by path may be shared
 *	  between companies); it starts the program with no capability,
 *	  no_new_privs, the clean environment of its adapter. When the program
 *	  exits the init reads the result file (regular files only,
 *	  size-capped) and reports it and the exit status to the runner over a
 *	  pipe; the namespace ends with the init.
 *
 *	  The agent cannot see, signal or trace the runner, the server or other
 *	  runs (they are outside its pid namespace and another OS user), cannot
 *	  reach the runner's pipes, and nothing of a run outlives it. The
 *	  namespaces are owned by the server's OS user, so the runner and the
 *	  launcher can still signal every process of the run.
 *
 *	  Fail closed: when isolation cannot be set up the run fails with
 *	  agent_isolation_unavailable and a message saying what to set up.
 *	  Without isolation (off) the program is posix_spawned by the runner as
 *	  the server's OS user, in its own process group, as before.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"

/* how long the runner waits for the init's set-up and the program's exec */
#define SETUP_TIMEOUT_MS 10000

/* messages from the init to the runner: type byte, uint32 length, payload */
#define MSG_STARTED 'P'			/* the program was executed */
#define MSG_SPAWN_FAILED 'X'	/* it could not be: why */
#define MSG_UNAVAILABLE 'E'		/* isolation could not be set up: why */
#define MSG_RESULT 'R'			/* the result file's content */
#define MSG_WARNING 'W'			/* the result file was refused: why */
#define MSG_STATUS 'S'			/* the program's wait status */

/* ---------------------------------------------------------------------
 * Capabilities: raised only to write the init's id maps
 * ---------------------------------------------------------------------
 */

#define CAP_BIT(c) (1U << (c))
#define SWITCH_CAPS (CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETGID))

static bool
caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};

	return syscall(SYS_capget, &hdr, data) == 0;
}

static bool
caps_set(uint32_t effective, uint32_t permitted)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].effective = effective;
	data[0].permitted = permitted;
	return syscall(SYS_capset, &hdr, data) == 0;
}

/* At start: nothing effective; the switch capabilities stay permitted only. */
void
sandbox_prepare(void)
{
	struct __user_cap_data_struct data[2];

	if (caps_get(data))
		(void) caps_set(0, data[0].permitted & SWITCH_CAPS);
}

/* No capability at all, for the rest of the runner's life. */
void
sandbox_drop_privileges(void)
{
	if (!caps_set(0, 0))
	{
		fprintf(stderr, "paperclip_runner: cannot drop capabilities: %s\n", strerror(errno));
		_exit(1);
	}
}

static bool
caps_have_switch(void)
{
	struct __user_cap_data_struct data[2];

	return caps_get(data) && (data[0].permitted & SWITCH_CAPS) == SWITCH_CAPS;
}

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

static bool
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

static bool
send_msg(int fd, char type, const void *data, uint32_t len)
{
	char		head[5];

	head[0] = type;
	memcpy(head + 1, &len, 4);
	return write_all(fd, head, 5) && (len == 0 || write_all(fd, data, len));
}

static void
send_text(int fd, char type, const char *fmt,...)
	__attribute__((format(printf, 3, 4)));

static void
send_text(int fd, char type, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void) send_msg(fd, type, msg, strlen(msg));
}

/* Close every descriptor from 3 up but those in keep. */
static void
close_fds_except(const int *keep, int nkeep)
{
	unsigned int from = 3;
	int			i;

	for (;;)
	{
		unsigned int next = ~0U;

		for (i = 0; i < nkeep; i++)
			if (keep[i] >= 0 && (unsigned int) keep[i] >= from && (unsigned int) keep[i] < next)
				next = keep[i];
		if (next == ~0U)
		{
			(void) close_range(from, ~0U, 0);
			return;
		}
		if (next > from)
			(void) close_range(from, next - 1, 0);
		from = next + 1;
	}
}

/* Field 22 of /proc/pid/stat: start time in clock ticks since boot. */
static unsigned long long
proc_start_ticks(pid_t pid)
{
	char		path[64];
	char		buf[1024];
	unsigned long long ticks = 0;
	char	   *p;
	ssize_t		n;
	int			fd,
				field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return ticks;
}

/*
 * Why the program cannot run (as the identity checking), or false when it
 * can as far as can be seen before exec. The messages are the process
 * adapter's: a spawn failure names the path.
 */
static bool
not_runnable(const AgentCommand *cmd, const char *cwd, char *msg, size_t len)
{
	struct stat st;

	if (stat(cmd->path, &st) != 0)
		snprintf(msg, len, "command not found: %s (%s)", cmd->path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(cmd->path, X_OK) != 0)
		snprintf(msg, len, "command is not an executable file: %s", cmd->path);
	else if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode))
		snprintf(msg, len, "cwd is not an existing directory: %s", cwd);
	else
		return false;
	return true;
}

static void
send_spawned(const Agent *a)
{
	cJSON	   *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "type", PC_FRAME_SPAWNED);
	cJSON_AddNumberToObject(f, "pid", a->pid);
	cJSON_AddNumberToObject(f, "startTicks", (double) proc_start_ticks(a->pid));
	frame_send(f, true);
	cJSON_Delete(f);
}

/* ---------------------------------------------------------------------
 * Paths the agent sees
 * ---------------------------------------------------------------------
 */

const char *
sandbox_context_file(const RunSpec *spec)
{
	static char path[4096];
	size_t		len;

	if (spec->isolation)
		return SANDBOX_TMP "/" SANDBOX_CONTEXT_NAME;
	len = strlen(spec->spool_path);
	/* beside the spool file <run>.json, in the server's private spool directory */
	if (len > 5 && strcmp(spec->spool_path + len - 5, ".json") == 0)
		len -= 5;
	snprintf(path, sizeof(path), "%.*s.context.json", (int) len, spec->spool_path);
	return path;
}

const char *
sandbox_result_file(const RunSpec *spec)
{
	return spec->isolation ? SANDBOX_TMP "/" SANDBOX_RESULT_NAME : spec->result_file;
}

/* The working directory when the config names none. */
const char *
sandbox_default_cwd(const RunSpec *spec)
{
	if (spec->isolation || access(spec->home, R_OK | X_OK) == 0)
		return spec->home;
	return "/tmp";				/* off, and the home is not ours: never the data directory */
}

/* ---------------------------------------------------------------------
 * Without isolation: posix_spawn as the server's OS user
 * ---------------------------------------------------------------------
 */

static bool
write_context_file(const char *path, const char *data, size_t len, char *msg, size_t msglen)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);

	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0 || !write_all(fd, data, len))
	{
		snprintf(msg, msglen, "cannot write the context file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	return true;
}

static SandboxOutcome
start_plain(const RunSpec *spec, const AgentCommand *cmd, Agent *a, char *msg, size_t msglen)
{
	int			out[2],
				err[2],
				in[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	none,
				all;
	const char *cwd = cmd->cwd ? cmd->cwd : sandbox_default_cwd(spec);
	int			rc;

	if (not_runnable(cmd, cwd, msg, msglen))
		return SANDBOX_SPAWN_FAILED;
	a->context_path = sandbox_context_file(spec);
	if (!write_context_file(a->context_path, cmd->context, cmd->context_len, msg, msglen))
	{
		a->context_path = NULL;
		return SANDBOX_SPAWN_FAILED;
	}
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
		(cmd->stdin_pipe && pipe2(in, O_CLOEXEC) != 0))
	{
		snprintf(msg, msglen, "cannot create pipes: %s", strerror(errno));
		return SANDBOX_SPAWN_FAILED;
	}
	posix_spawn_file_actions_init(&fa);
	if (cmd->stdin_pipe)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, cwd);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&a->pid, cmd->path, &fa, &attr, cmd->argv, cmd->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(out[1]);
	close(err[1]);
	if (in[0] >= 0)
		close(in[0]);
	if (rc != 0)
	{
		close(out[0]);
		close(err[0]);
		if (in[1] >= 0)
			close(in[1]);
		snprintf(msg, msglen, "cannot start %s: %s", cmd->path, strerror(rc));
		return SANDBOX_SPAWN_FAILED;
	}
	a->out_fd = out[0];
	a->err_fd = err[0];
	a->in_fd = in[1];
	send_spawned(a);
	return SANDBOX_OK;
}

/* ---------------------------------------------------------------------
 * With isolation: the init, pid 1 of the run's namespaces
 * ---------------------------------------------------------------------
 */

typedef struct InitArgs
{
	const RunSpec *spec;
	const AgentCommand *cmd;
	uid_t		uid;
	gid_t		gid;
	int			go_r;			/* runner -> init: maps written; EOF: runner gone */
	int			report_w;		/* init -> runner: messages */
	int			out_w,
				err_w,
				in_r;			/* the program's stdio (in_r -1: /dev/null) */
} InitArgs;

/* In the program's child: become it, or say why not. Never returns. */
static void
exec_program(const InitArgs *ia, const char *cwd, int status_w)
{
	const AgentCommand *cmd = ia->cmd;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct none[2];
	sigset_t	empty;
	char		msg[1024];
	int			sig,
				cap,
				devnull;

	for (sig = 1; sig < NSIG; sig++)
		(void) signal(sig, SIG_DFL);
	sigemptyset(&empty);
	sigprocmask(SIG_SETMASK, &empty, NULL);

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (dup2(ia->in_r >= 0 ? ia->in_r : devnull, 0) < 0 ||
		dup2(ia->out_w, 1) < 0 || dup2(ia->err_w, 2) < 0)
	{
		snprintf(msg, sizeof(msg), "cannot set up the program's stdio: %s", strerror(errno));
		goto fail;
	}
	close_fds_except(&status_w, 1);

	if (not_runnable(cmd, cwd, msg, sizeof(msg)))
		goto fail;
	if (chdir(cwd) != 0)
	{
		snprintf(msg, sizeof(msg), "cannot change to directory %s: %s", cwd, strerror(errno));
		goto fail;
	}
	/* no privilege, ever: no capability, none to gain by exec */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
	{
		snprintf(msg, sizeof(msg), "cannot set no_new_privs: %s", strerror(errno));
		goto fail;
	}
	/*
	 * At most so many processes of the run (its own user namespace counts
	 * them): a fork bomb stays in the run. Each process also counts for the
	 * server's OS user, which owns the namespace, and the host has a limit.
	 */
	if (ia->spec->max_processes > 0)
	{
		struct rlimit rl = {(rlim_t) ia->spec->max_processes, (rlim_t) ia->spec->max_processes};

		if (setrlimit(RLIMIT_NPROC, &rl) != 0)
		{
			snprintf(msg, sizeof(msg), "cannot limit the run's processes: %s", strerror(errno));
			goto fail;
		}
	}
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		(void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &hdr, none) != 0)
	{
		snprintf(msg, sizeof(msg), "cannot drop capabilities: %s", strerror(errno));
		goto fail;
	}
	execve(cmd->path, cmd->argv, cmd->envp);
	snprintf(msg, sizeof(msg), "cannot start %s: %s", cmd->path, strerror(errno));
fail:
	(void) write_all(status_w, msg, strlen(msg));
	_exit(127);
}

/*
 * What every run of the agents' OS user could otherwise share by path with
 * the runs of other companies, made the run's own: a private /var/tmp
 * (the context and result files; TMPDIR points into it), and an empty
 * /dev/shm (POSIX shared memory) and /run/lock, where they exist. (The
 * run's System V IPC is its own IPC namespace. The host's /tmp stays
 * visible, as programs and workspaces are often configured there.)
 *
 * One tmpfs of the run holds the three, each a directory of it (0700, the
 * agent's) bind-mounted in place, /var/tmp last, over the tmpfs's own root:
 * a file system set up and torn down once per run rather than three times.
 * A bind mount keeps the tmpfs's nosuid and nodev.
 */
static bool
private_mounts(int report_w)
{
	static const char *const dirs[] = {"/dev/shm", "/run/lock", SANDBOX_TMP};
	static const char *const parts[] = {SANDBOX_TMP "/shm", SANDBOX_TMP "/lock", SANDBOX_TMP "/tmp"};
	size_t		i;

	if (mount("tmpfs", SANDBOX_TMP, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
	{
		send_text(report_w, MSG_UNAVAILABLE, "cannot mount the run's private %s: %s",
				  SANDBOX_TMP, strerror(errno));
		return false;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
	{
		struct stat st;

		if (strcmp(dirs[i], SANDBOX_TMP) != 0 && (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)))
			continue;
		if (mkdir(parts[i], 0700) != 0 || mount(parts[i], dirs[i], NULL, MS_BIND, NULL) != 0)
		{
			send_text(report_w, MSG_UNAVAILABLE, "cannot mount the run's private %s: %s",
					  dirs[i], strerror(errno));
			return false;
		}
	}
	return true;
}

/* A company id as the launcher sends it: a uuid, nothing a path could abuse. */
static bool
company_id_ok(const char *id)
{
	size_t		n = id ? strlen(id) : 0;
	const char *p;

	if (n == 0 || n > 64)
		return false;
	for (p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			  (*p >= 'A' && *p <= 'F') || *p == '-'))
			return false;
	return true;
}

/*
 * The home every run of the agents' OS user has is the company's own:
 * <home>/companies/<company id> (created 0700, never through a symbolic
 * link), bind-mounted over <home> in the run's mount namespace. The agent
 * sees its company's files at the usual path, and nothing of another
 * company's: their directories, and the home's own files, are under the
 * mount, which the agent (no capability; in a namespace of its own its
 * mounts are locked) cannot remove.
 */
static bool
mount_company_home(const RunSpec *spec, int report_w)
{
	char		fdpath[64];
	struct stat st;
	int			home_fd = -1,
				companies_fd = -1,
				fd = -1;
	bool		ok = false;

	if (!company_id_ok(spec->company_id))
	{
		send_text(report_w, MSG_UNAVAILABLE, "the run spec names no company the agent home could be kept for");
		return false;
	}
	if ((home_fd = open(spec->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		(mkdirat(home_fd, "companies", 0700) != 0 && errno != EEXIST) ||
		(companies_fd = openat(home_fd, "companies", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		(mkdirat(companies_fd, spec->company_id, 0700) != 0 && errno != EEXIST) ||
		(fd = openat(companies_fd, spec->company_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		send_text(report_w, MSG_UNAVAILABLE, "cannot make the company's home %s/companies/%s: %s",
				  spec->home, spec->company_id, strerror(errno));
	else if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 0077) != 0)
		send_text(report_w, MSG_UNAVAILABLE, "the company's home %s/companies/%s is not the agents' own "
				  "(owner OS user \"%s\", mode 0700)", spec->home, spec->company_id, spec->os_user);
	else
	{
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		if (mount(fdpath, spec->home, NULL, MS_BIND, NULL) != 0)
			send_text(report_w, MSG_UNAVAILABLE, "cannot mount the company's home over %s: %s",
					  spec->home, strerror(errno));
		else
			ok = true;
	}
	if (fd >= 0)
		close(fd);
	if (companies_fd >= 0)
		close(companies_fd);
	if (home_fd >= 0)
		close(home_fd);
	return ok;
}

/* The init's set-up as the agent's OS user; false after reporting why not. */
static bool
init_setup(const InitArgs *ia)
{
	const RunSpec *spec = ia->spec;
	struct pollfd p = {.fd = ia->go_r,.events = POLLIN};
	struct stat st;
	char		msg[1024];

	if (setgroups(0, NULL) != 0 || setresgid(ia->gid, ia->gid, ia->gid) != 0 ||
		setresuid(ia->uid, ia->uid, ia->uid) != 0)
	{
		send_text(ia->report_w, MSG_UNAVAILABLE, "cannot switch to OS user \"%s\" in the run's namespace: %s",
				  spec->os_user, strerror(errno));
		return false;
	}
	/* a credential change clears the parent-death signal: set it now */
	(void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
	{
		send_text(ia->report_w, MSG_UNAVAILABLE, "cannot bind the run to its runner: %s", strerror(errno));
		return false;
	}
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
		_exit(1);				/* the runner died before that */

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
	{
		send_text(ia->report_w, MSG_UNAVAILABLE,
				  "cannot mount a /proc of the run's pid namespace: %s", strerror(errno));
		return false;
	}
	if (!private_mounts(ia->report_w))
		return false;
	if (!write_context_file(SANDBOX_TMP "/" SANDBOX_CONTEXT_NAME, ia->cmd->context,
							ia->cmd->context_len, msg, sizeof(msg)))
	{
		send_text(ia->report_w, MSG_UNAVAILABLE, "%s", msg);
		return false;
	}
	/* the agent's home, created for it when its parent lets the agent */
	if (stat(spec->home, &st) != 0 && errno == ENOENT)
		(void) mkdir(spec->home, 0700);
	if (stat(spec->home, &st) != 0 || !S_ISDIR(st.st_mode) ||
		access(spec->home, R_OK | W_OK | X_OK) != 0)
	{
		send_text(ia->report_w, MSG_UNAVAILABLE,
				  "the agent home directory %s is missing or not usable by OS user \"%s\": "
				  "create it (install -d -o %s -m 700 %s) or set paperclip.agent_home_directory",
				  spec->home, spec->os_user, spec->os_user, spec->home);
		return false;
	}
	return mount_company_home(spec, ia->report_w);
}

/* Send the result file (or why it was refused) and the program's status. */
static void
init_report_end(const InitArgs *ia, int status)
{
	char		why[256];
	char	   *text = result_file_read(SANDBOX_TMP "/" SANDBOX_RESULT_NAME, PC_RESULT_FILE_MAX,
										why, sizeof(why));

	if (text != NULL)
		(void) send_msg(ia->report_w, MSG_RESULT, text, strlen(text));
	else if (why[0] != '\0')
		(void) send_msg(ia->report_w, MSG_WARNING, why, strlen(why));
	free(text);
	(void) send_msg(ia->report_w, MSG_STATUS, &status, sizeof(status));
}

/*
 * The program's child, started as posix_spawn starts one: sharing the
 * init's memory (nothing of it copied; the child has a stack of its own)
 * while the init waits until the child executed the program or exited.
 * Everything else is the child's own: descriptors, signal dispositions and
 * mask, credentials and capabilities, limits, working directory (no
 * CLONE_FILES, CLONE_SIGHAND, CLONE_THREAD or CLONE_FS). The init is
 * single-threaded and blocked in clone meanwhile, so the child may use
 * what exec_program uses of the shared memory.
 */
typedef struct ChildArgs
{
	const InitArgs *ia;
	const char *cwd;
	int			status_pipe[2];
} ChildArgs;

static int
program_child(void *arg)
{
	const ChildArgs *ca = arg;

	close(ca->status_pipe[0]);
	exec_program(ca->ia, ca->cwd, ca->status_pipe[1]);
	return 127;					/* not reached */
}

static pid_t
start_program(const InitArgs *ia, const char *cwd, const int status_pipe[2])
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	ChildArgs	ca = {ia, cwd, {status_pipe[0], status_pipe[1]}};

	return clone(program_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
}

/* pid 1 of the run. Never returns: its exit ends every process of the run. */
static void
init_main(const InitArgs *ia)
{
	const char *cwd = ia->cmd->cwd ? ia->cmd->cwd : ia->spec->home;
	int			keep[5] = {ia->go_r, ia->report_w, ia->out_w, ia->err_w, ia->in_r};
	int			status_pipe[2];
	int			devnull;
	sigset_t	set;
	int			sigfd;
	pid_t		child;
	char		c;
	char		msg[1024];
	ssize_t		n;
	size_t		len = 0;

	(void) setsid();
	close_fds_except(keep, 5);
	/* nothing of the runner's stdio (the launcher's pipes) stays in the run */
	if ((devnull = open("/dev/null", O_RDWR)) >= 0)
	{
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	if (read(ia->go_r, &c, 1) != 1)
		_exit(1);				/* the runner could not map us, or is gone */
	if (!init_setup(ia))
		_exit(1);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0 || pipe2(status_pipe, O_CLOEXEC) != 0)
	{
		send_text(ia->report_w, MSG_UNAVAILABLE, "cannot set up the run's init: %s", strerror(errno));
		_exit(1);
	}
	child = start_program(ia, cwd, status_pipe);
	if (child < 0)
	{
		send_text(ia->report_w, MSG_SPAWN_FAILED, "cannot start %s: %s", ia->cmd->path, strerror(errno));
		_exit(1);
	}
	close(status_pipe[1]);
	close(ia->out_w);
	close(ia->err_w);
	if (ia->in_r >= 0)
		close(ia->in_r);
	while ((n = read(status_pipe[0], msg + len, sizeof(msg) - 1 - len)) > 0 ||
		   (n < 0 && errno == EINTR))
		if (n > 0)
			len += n;
	close(status_pipe[0]);
	if (len > 0)
	{
		(void) send_msg(ia->report_w, MSG_SPAWN_FAILED, msg, len);
		_exit(1);
	}
	if (!send_msg(ia->report_w, MSG_STARTED, NULL, 0))
		_exit(1);

	for (;;)
	{
		struct pollfd p[2] = {{.fd = sigfd,.events = POLLIN}, {.fd = ia->go_r,.events = POLLIN}};
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			_exit(1);
		if (p[1].revents)
			_exit(1);			/* the runner is gone: so is the run */
		while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		{
			/* a cancel or timeout from the runner, never from inside the run */
			if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && si.ssi_pid == 0)
				(void) kill(-1, SIGTERM);
		}
		for (;;)
		{
			int			status;
			pid_t		pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == child)
			{
				init_report_end(ia, status);
				_exit(0);
			}
		}
	}
}

/* ---------------------------------------------------------------------
 * With isolation: the runner's side
 * ---------------------------------------------------------------------
 */

static bool
write_id_map(pid_t pid, const char *file, unsigned int id)
{
	char		path[64];
	char		line[64];
	int			fd;
	bool		ok;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
	snprintf(line, sizeof(line), "%u %u 1\n", id, id);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return false;
	ok = write_all(fd, line, strlen(line));
	close(fd);
	return ok;
}

/*
 * The one use of cap_setuid and cap_setgid: map the agent's uid and gid
 * (nothing else) into the init's user namespace. Effective for this only.
 */
static bool
map_agent_ids(pid_t pid, uid_t uid, gid_t gid)
{
	bool		ok;
	int			saved;

	ok = caps_set(SWITCH_CAPS, SWITCH_CAPS) &&
		write_id_map(pid, "uid_map", uid) &&
		write_id_map(pid, "gid_map", gid);
	saved = errno;
	if (!caps_set(0, SWITCH_CAPS))
		sandbox_drop_privileges();	/* cannot lower them: lose them */
	errno = saved;
	return ok;
}

/* The OS user to switch to, checked; false with why not. */
static bool
agent_user(const RunSpec *spec, uid_t *uid, gid_t *gid, char *msg, size_t len)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char		buf[4096];

	if (strncmp(spec->os_user, PC_AGENT_OS_USER_PREFIX, strlen(PC_AGENT_OS_USER_PREFIX)) != 0)
	{
		snprintf(msg, len, "paperclip_runner only runs agents as OS users whose name starts with "
				 "\"%s\", not \"%s\": set paperclip.agent_os_user", PC_AGENT_OS_USER_PREFIX, spec->os_user);
		return false;
	}
	if (getpwnam_r(spec->os_user, &pw, buf, sizeof(buf), &found) != 0 || found == NULL)
	{
		snprintf(msg, len, "OS user \"%s\" does not exist: create it (useradd --system --user-group "
				 "--home-dir %s --create-home --shell /usr/sbin/nologin %s), or set paperclip.agent_os_user",
				 spec->os_user, spec->home, spec->os_user);
		return false;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0 || pw.pw_uid == getuid() || pw.pw_uid == geteuid())
	{
		snprintf(msg, len, "OS user \"%s\" is root, in group root, or the server's own user: "
				 "agents need a user of their own", spec->os_user);
		return false;
	}
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return true;
}

static bool
poll_in(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd,.events = POLLIN};
	int			rc;

	while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	return rc == 1;
}

/* Read one message (blocking, up to the set-up timeout); false at EOF. */
static bool
read_msg_blocking(int fd, char *type, char *buf, size_t size, size_t *len)
{
	char		head[5];
	uint32_t	n;
	size_t		got = 0;

	while (got < 5)
	{
		ssize_t		r;

		if (!poll_in(fd, SETUP_TIMEOUT_MS) || (r = read(fd, head + got, 5 - got)) <= 0)
			return false;
		got += r;
	}
	*type = head[0];
	memcpy(&n, head + 1, 4);
	if (n >= size)
		return false;
	got = 0;
	while (got < n)
	{
		ssize_t		r;

		if (!poll_in(fd, SETUP_TIMEOUT_MS) || (r = read(fd, buf + got, n - got)) <= 0)
			return false;
		got += r;
	}
	buf[n] = '\0';
	*len = n;
	return true;
}

static SandboxOutcome
start_isolated(const RunSpec *spec, const AgentCommand *cmd, Agent *a, char *msg, size_t msglen)
{
	InitArgs	ia;
	int			out[2] = {-1, -1},
				err[2] = {-1, -1},
				in[2] = {-1, -1},
				go[2] = {-1, -1},
				report[2] = {-1, -1};
	pid_t		pid;
	char		type;
	size_t		len;
	int			saved;

	if (!caps_have_switch())
	{
		snprintf(msg, msglen, "paperclip_runner lacks the file capabilities cap_setuid,cap_setgid%s: "
				 "as root, run make install, or setcap cap_setuid,cap_setgid+ep on the installed "
				 "paperclip_runner; or set paperclip.agent_isolation = off to run agents as the "
				 "server's OS user",
				 prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ?
				 " (the server runs with no_new_privs, e.g. systemd NoNewPrivileges=)" : "");
		return SANDBOX_UNAVAILABLE;
	}
	memset(&ia, 0, sizeof(ia));
	if (!agent_user(spec, &ia.uid, &ia.gid, msg, msglen))
		return SANDBOX_UNAVAILABLE;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
		(cmd->stdin_pipe && pipe2(in, O_CLOEXEC) != 0) ||
		pipe2(go, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0)
	{
		snprintf(msg, msglen, "cannot create pipes: %s", strerror(errno));
		goto spawn_failed;
	}
	ia.spec = spec;
	ia.cmd = cmd;
	ia.go_r = go[0];
	ia.report_w = report[1];
	ia.out_w = out[1];
	ia.err_w = err[1];
	ia.in_r = in[0];

	/*
	 * Fork semantics (no new stack), in new user, pid and mount namespaces.
	 * The init is born dumpable, so that its /proc files are ours and we may
	 * write its id maps at once; we are not, but for this instant (and
	 * having capabilities the server's user has not, we cannot be traced).
	 */
	(void) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	pid = (pid_t) syscall(SYS_clone, SIGCHLD | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC,
						  NULL, NULL, NULL, NULL);
	if (pid == 0)
		init_main(&ia);
	saved = errno;
	(void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	close(out[1]);
	close(err[1]);
	if (in[0] >= 0)
		close(in[0]);
	close(go[0]);
	close(report[1]);
	if (pid < 0)
	{
		snprintf(msg, msglen, "cannot create the run's user, pid, mount and IPC namespaces (%s): allow "
				 "unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and "
				 "kernel.unprivileged_userns_clone = 1 or kernel.apparmor_restrict_unprivileged_userns = 0 "
				 "where those exist)", strerror(saved));
		goto unavailable;
	}
	a->pid = pid;
	a->isolated = true;

	if (!map_agent_ids(pid, ia.uid, ia.gid))
	{
		snprintf(msg, msglen, "cannot map OS user \"%s\" into the run's user namespace: %s",
				 spec->os_user, strerror(errno));
		goto kill_unavailable;
	}
	if (write(go[1], "g", 1) != 1)
	{
		snprintf(msg, msglen, "the run's init is gone: %s", strerror(errno));
		goto kill_unavailable;
	}
	/* the first message: started, or why not */
	if (!read_msg_blocking(report[0], &type, msg, msglen, &len))
	{
		snprintf(msg, msglen, "the run's init failed while it set up the namespaces");
		goto kill_unavailable;
	}
	if (type != MSG_STARTED)
	{
		kill(pid, SIGKILL);
		(void) waitpid(pid, NULL, 0);
		a->pid = 0;
		close(go[1]);
		close(report[0]);
		close(out[0]);
		close(err[0]);
		if (in[1] >= 0)
			close(in[1]);
		return type == MSG_SPAWN_FAILED ? SANDBOX_SPAWN_FAILED : SANDBOX_UNAVAILABLE;
	}
	fcntl(report[0], F_SETFL, O_NONBLOCK);
	a->alive_fd = go[1];		/* held while we live: the init watches it */
	a->report_fd = report[0];
	a->out_fd = out[0];
	a->err_fd = err[0];
	a->in_fd = in[1];
	send_spawned(a);
	return SANDBOX_OK;

kill_unavailable:
	kill(pid, SIGKILL);
	(void) waitpid(pid, NULL, 0);
	a->pid = 0;
unavailable:
	close(go[1]);
	close(report[0]);
	close(out[0]);
	close(err[0]);
	if (in[1] >= 0)
		close(in[1]);
	return SANDBOX_UNAVAILABLE;

spawn_failed:
	{
		int			fds[] = {out[0], out[1], err[0], err[1], in[0], in[1], go[0], go[1],
		report[0], report[1]};
		size_t		i;

		for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	return SANDBOX_SPAWN_FAILED;
}

/* ---------------------------------------------------------------------
 * The interface for the adapters
 * ---------------------------------------------------------------------
 */

SandboxOutcome
agent_start(const RunSpec *spec, const AgentCommand *cmd, Agent *a, char *msg, size_t msglen)
{
	memset(a, 0, sizeof(*a));
	a->out_fd = a->err_fd = a->in_fd = a->report_fd = a->alive_fd = -1;
	msg[0] = '\0';
	if (spec->isolation)
		return start_isolated(spec, cmd, a, msg, msglen);
	return start_plain(spec, cmd, a, msg, msglen);
}

/*
 * Signal the run: with isolation its init, which passes SIGTERM to every
 * process of the run (SIGKILL ends the namespace); without, the program's
 * process group.
 */
void
agent_signal(const Agent *a, int sig)
{
	if (a->pid <= 0)
		return;
	if (a->isolated)
	{
		/* once reaped its pid may be another's: and the namespace is gone */
		if (!a->reaped)
			(void) kill(a->pid, sig);
	}
	else
		(void) kill(-a->pid, sig);	/* a group with members keeps its id */
}

/* Take what the init reported, without blocking. */
void
agent_read_reports(Agent *a)
{
	char		buf[65536];

	while (a->report_fd >= 0)
	{
		ssize_t		n = read(a->report_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
		{
			close(a->report_fd);
			a->report_fd = -1;
			break;
		}
		if (a->report_len + n > PC_RESULT_FILE_MAX + 4096)
			continue;			/* more than the init ever sends: drop it */
		a->report = realloc(a->report, a->report_len + n);
		memcpy(a->report + a->report_len, buf, n);
		a->report_len += n;
	}
	/* whole messages */
	for (;;)
	{
		uint32_t	n;
		char		type;

		if (a->report_len < 5)
			break;
		type = a->report[0];
		memcpy(&n, a->report + 1, 4);
		if (a->report_len < 5 + (size_t) n)
			break;
		if (type == MSG_STATUS && n == sizeof(int))
		{
			memcpy(&a->status, a->report + 5, sizeof(int));
			a->status_known = true;
		}
		else if (type == MSG_RESULT || type == MSG_WARNING)
		{
			char	  **dst = type == MSG_RESULT ? &a->result_text : &a->result_why;

			free(*dst);
			*dst = malloc(n + 1);
			memcpy(*dst, a->report + 5, n);
			(*dst)[n] = '\0';
		}
		memmove(a->report, a->report + 5 + n, a->report_len - 5 - n);
		a->report_len -= 5 + n;
	}
}

/*
 * The program's wait status, once the run's top process was reaped with
 * status: with isolation what the init reported (its own status if it
 * died first, e.g. killed after the grace period).
 */
int
agent_exit_status(Agent *a, int status)
{
	a->reaped = true;
	if (!a->isolated)
		return status;
	agent_read_reports(a);		/* the init is dead: what it sent, then EOF */
	return a->status_known ? a->status : status;
}

/*
 * The result file the program left: its content (malloc'd), or NULL with
 * why[0] set when it was refused, or empty when there was none.
 */
char *
agent_result_file(Agent *a, const RunSpec *spec, char *why, size_t whylen)
{
	char	   *text;

	why[0] = '\0';
	if (a->isolated)
	{
		if (a->result_why)
			snprintf(why, whylen, "%s", a->result_why);
		text = a->result_text;
		a->result_text = NULL;
		return text;
	}
	if (spec->result_file == NULL)
		return NULL;
	text = result_file_read(spec->result_file, PC_RESULT_FILE_MAX, why, whylen);
	(void) unlink(spec->result_file);
	return text;
}

/* After the run: nothing of the agent stays open or on disk. */
void
agent_release(Agent *a)
{
	int		   *fds[] = {&a->out_fd, &a->err_fd, &a->in_fd, &a->report_fd, &a->alive_fd};
	size_t		i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
		{
			close(*fds[i]);
			*fds[i] = -1;
		}
	if (a->context_path)
		(void) unlink(a->context_path);
	a->context_path = NULL;
	free(a->report);
	free(a->result_text);
	free(a->result_why);
	a->report = a->result_text = a->result_why = NULL;
}
