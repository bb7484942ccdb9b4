/*-------------------------------------------------------------------------
 * retry_time.c
 *	  When a CLI says when to try again ("try again at 3:45 PM", "resets
 *	  4pm (Europe/Paris)", "try again at Nov 27th, 2026 1:12 PM", an ISO
 *	  8601 time, "in 20 minutes"), the time it means, so that the result's
 *	  retryNotBefore holds the scheduler's retry back until then. A clock
 *	  time without a date is its next occurrence; without a zone it is the
 *	  runner's local time. Zones understood: UTC, GMT, Z, numeric offsets
 *	  and IANA names ("America/New_York").
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char *
skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static bool
read_int(const char **p, int min_digits, int max_digits, int *out)
{
	int			n = 0,
				v = 0;

	while (isdigit((unsigned char) (*p)[n]) && n < max_digits)
	{
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	if (n < min_digits || isdigit((unsigned char) (*p)[n]))
		return false;
	*p += n;
	*out = v;
	return true;
}

static bool
is_utc(const char *zone)
{
	return strcasecmp(zone, "UTC") == 0 || strcasecmp(zone, "GMT") == 0 || strcmp(zone, "Z") == 0;
}

/*
 * Switch the process's zone to an IANA name, or back (zone NULL) to what
 * it was. The runner is single-threaded; the switch lasts one conversion.
 */
static void
switch_zone(const char *zone)
{
	static char *saved = NULL;
	static bool had = false;

	if (zone != NULL)
	{
		const char *tz = getenv("TZ");

		had = tz != NULL;
		free(saved);
		saved = tz ? strdup(tz) : NULL;
		setenv("TZ", zone, 1);
	}
	else if (had && saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

/* tm (a wall-clock time in zone: NULL local, UTC, or an IANA name) -> time_t */
static time_t
wall_to_time(struct tm *tm, const char *zone)
{
	time_t		t;

	tm->tm_isdst = -1;
	if (zone == NULL)
		return mktime(tm);
	if (is_utc(zone))
		return timegm(tm);
	switch_zone(zone);
	t = mktime(tm);
	switch_zone(NULL);
	return t;
}

/* now as a wall-clock time in zone */
static void
time_to_wall(time_t now, const char *zone, struct tm *tm)
{
	if (zone == NULL)
		localtime_r(&now, tm);
	else if (is_utc(zone))
		gmtime_r(&now, tm);
	else
	{
		switch_zone(zone);
		localtime_r(&now, tm);
		switch_zone(NULL);
	}
}

/* A zone after a time: "(Europe/Paris)", " UTC", " GMT", "Z"; copied to zone. */
static void
read_zone(const char *p, char *zone, size_t size)
{
	size_t		n = 0;
	bool		paren;

	zone[0] = '\0';
	p = skip_blanks(p);
	paren = *p == '(';
	if (paren)
		p++;
	while (n + 1 < size && (isalnum((unsigned char) p[n]) || p[n] == '/' || p[n] == '_' ||
							p[n] == '-' || p[n] == '+'))
		n++;
	memcpy(zone, p, n);
	zone[n] = '\0';
	if (paren && p[n] != ')')
		zone[0] = '\0';
	/* only zones we can convert: the rest (PST, CET ...) means local time */
	if (!is_utc(zone) && strchr(zone, '/') == NULL)
		zone[0] = '\0';
}

/* "2026-11-27T13:12:00Z", "2026-11-27 13:12:00+01:00" */
static bool
parse_iso(const char *p, time_t *at)
{
	struct tm	tm = {0};
	int			y,
				mo,
				d,
				h,
				mi,
				s = 0;
	int			oh,
				om = 0;
	time_t		t;

	if (!read_int(&p, 4, 4, &y) || *p++ != '-' || !read_int(&p, 2, 2, &mo) || *p++ != '-' ||
		!read_int(&p, 2, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!read_int(&p, 2, 2, &h) || *p++ != ':' || !read_int(&p, 2, 2, &mi))
		return false;
	if (*p == ':' && (p++, !read_int(&p, 2, 2, &s)))
		return false;
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	if (*p == 'Z' || *p == 'z')
		t = timegm(&tm);
	else if (*p == '+' || *p == '-')
	{
		int			sign = *p == '-' ? -1 : 1;

		p++;
		if (!read_int(&p, 2, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		(void) read_int(&p, 2, 2, &om);
		t = timegm(&tm) - sign * (oh * 3600 + om * 60);
	}
	else
		t = wall_to_time(&tm, NULL);
	*at = t;
	return t != (time_t) -1;
}

/* "in 20 minutes", "in 1 hour", "in 30s" */
static bool
parse_relative(const char *p, time_t now, time_t *at)
{
	int			n;
	long		unit;

	if (strncasecmp(p, "in ", 3) != 0)
		return false;
	p = skip_blanks(p + 3);
	if (!read_int(&p, 1, 9, &n))
		return false;
	p = skip_blanks(p);
	if (strncasecmp(p, "h", 1) == 0)
		unit = 3600;
	else if (strncasecmp(p, "m", 1) == 0)
		unit = 60;
	else if (strncasecmp(p, "s", 1) == 0)
		unit = 1;
	else
		return false;
	*at = now + (time_t) n * unit;
	return true;
}

/* An optional "Nov 27th, 2026" before a clock time; month 0 when absent. */
static const char *
read_date(const char *p, int *month, int *day, int *year)
{
	static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"};
	const char *q;
	int			i;

	*month = *day = *year = 0;
	for (i = 0; i < 12; i++)
		if (strncasecmp(p, months[i], 3) == 0)
			break;
	if (i == 12)
		return p;
	q = p + 3;
	while (isalpha((unsigned char) *q) || *q == '.')
		q++;
	q = skip_blanks(q);
	if (!read_int(&q, 1, 2, day))
		return p;
	while (isalpha((unsigned char) *q))
		q++;					/* st, nd, rd, th */
	if (*q == ',')
		q++;
	q = skip_blanks(q);
	if (read_int(&q, 4, 4, year))
	{
		if (*q == ',')
			q++;
		q = skip_blanks(q);
	}
	*month = i + 1;
	return q;
}

/* "3:45 PM", "3pm", "15:45", "4 p.m. (UTC)", after an optional date */
static bool
parse_clock(const char *p, time_t now, time_t *at)
{
	int			month,
				day,
				year;
	int			h,
				mi = 0,
				s = 0;
	bool		has_minutes = false,
				pm = false,
				ampm = false;
	char		zone[64];
	struct tm	tm;
	time_t		t;

	p = read_date(p, &month, &day, &year);
	if (!read_int(&p, 1, 2, &h))
		return false;
	if (*p == ':')
	{
		p++;
		if (!read_int(&p, 2, 2, &mi))
			return false;
		has_minutes = true;
		if (*p == ':' && (p++, !read_int(&p, 2, 2, &s)))
			return false;
	}
	p = skip_blanks(p);
	if ((tolower((unsigned char) p[0]) == 'a' || tolower((unsigned char) p[0]) == 'p') &&
		(tolower((unsigned char) p[1]) == 'm' ||
		 (p[1] == '.' && tolower((unsigned char) p[2]) == 'm')))
	{
		ampm = true;
		pm = tolower((unsigned char) p[0]) == 'p';
		p += p[1] == '.' ? 3 : 2;
		if (*p == '.')
			p++;
	}
	if ((!ampm && !has_minutes) || (ampm && (h < 1 || h > 12)) || h > 23 || mi > 59 || s > 59)
		return false;
	if (ampm)
		h = h % 12 + (pm ? 12 : 0);
	read_zone(p, zone, sizeof(zone));

	/* today's (or the given day's) date in that zone, then that time */
	time_to_wall(now, zone[0] ? zone : NULL, &tm);
	if (month)
	{
		tm.tm_mon = month - 1;
		tm.tm_mday = day;
		if (year)
			tm.tm_year = year - 1900;
	}
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = wall_to_time(&tm, zone[0] ? zone : NULL);
	if (t == (time_t) -1)
		return false;
	if (!month && t <= now)
	{
		tm.tm_mday += 1;
		t = wall_to_time(&tm, zone[0] ? zone : NULL);
	}
	if (month && !year && t <= now)
	{
		tm.tm_year += 1;
		t = wall_to_time(&tm, zone[0] ? zone : NULL);
	}
	*at = t;
	return t > now;
}

bool
cli_parse_retry_time(const char *text, time_t now, time_t *at)
{
	const char *p;

	if (text == NULL)
		return false;
	p = skip_blanks(text);
	return parse_iso(p, at) || parse_relative(p, now, at) || parse_clock(p, now, at);
}
