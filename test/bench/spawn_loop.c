/*
 * spawn_loop: the ceiling for run throughput: posix_spawn of a command and
 * waitpid, N times in a loop. Prints runs per second.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 2000;
	char	   *cmd = argc > 2 ? argv[2] : "/bin/true";
	char	   *args[] = {cmd, NULL};
	struct timespec t0, t1;
	int			i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
	{
		pid_t		pid;
		int			status;

		if (posix_spawn(&pid, cmd, NULL, NULL, args, environ) != 0)
			return 1;
		waitpid(pid, &status, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", n / ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	return 0;
}
