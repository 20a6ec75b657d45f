/*
 * timeframe.c — the timeframes fsmml knows: 1m 5m 15m 1h 4h 1d.
 */
#include "postgres.h"

#include <time.h>

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "fsmml.h"

typedef struct FsmmlTimeframe
{
	const char *name;
	int64		usec;
} FsmmlTimeframe;

static const FsmmlTimeframe timeframes[] = {
	{"1m", INT64CONST(60) * USECS_PER_SEC},
	{"5m", INT64CONST(300) * USECS_PER_SEC},
	{"15m", INT64CONST(900) * USECS_PER_SEC},
	{"1h", USECS_PER_HOUR},
	{"4h", 4 * USECS_PER_HOUR},
	{"1d", USECS_PER_DAY},
};

static int64
lookup(const char *tf)
{
	for (int i = 0; i < lengthof(timeframes); i++)
		if (strcmp(tf, timeframes[i].name) == 0)
			return timeframes[i].usec;
	return 0;
}

bool
fsmml_timeframe_is_valid(const char *tf)
{
	return tf != NULL && lookup(tf) > 0;
}

int64
fsmml_timeframe_usec(const char *tf)
{
	int64		us = tf ? lookup(tf) : 0;

	if (us == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid timeframe \"%s\"", tf ? tf : "(null)"),
				 errhint("Valid timeframes are 1m, 5m, 15m, 1h, 4h and 1d.")));
	return us;
}

int64
fsmml_timeframe_usec_text(text *tf)
{
	return fsmml_timeframe_usec(text_to_cstring(tf));
}

PG_FUNCTION_INFO_V1(fsmml_timeframe_interval);

/* fsmml_timeframe_interval(text) -> interval; validates the timeframe. */
Datum
fsmml_timeframe_interval(PG_FUNCTION_ARGS)
{
	int64		us = fsmml_timeframe_usec_text(PG_GETARG_TEXT_PP(0));
	Interval   *iv = palloc0(sizeof(Interval));

	if (us == USECS_PER_DAY)
		iv->day = 1;
	else
		iv->time = us;
	PG_RETURN_INTERVAL_P(iv);
}

char *
fsmml_iso8601(int64 unix_us)
{
	time_t		secs = (time_t) (unix_us >= 0 ? unix_us / USECS_PER_SEC :
								 -((-unix_us + USECS_PER_SEC - 1) / USECS_PER_SEC));
	struct tm	tm;

	gmtime_r(&secs, &tm);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
					tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
