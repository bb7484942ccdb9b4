/*
 * bench_agent: the agent of the dispatch benchmark. It reports the moment
 * it started (CLOCK_REALTIME, microseconds) through the result protocol.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(void)
{
	struct timespec ts;
	const char *path = getenv("PAPERCLIP_RESULT_FILE");
	FILE	   *f;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (path == NULL || (f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "{\"resultJson\":{\"startedUs\":%lld}}\n",
			(long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	return fclose(f) == 0 ? 0 : 1;
}
