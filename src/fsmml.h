/*
 * fsmml.h — declarations shared by the extension's C files.
 */
#ifndef FSMML_H
#define FSMML_H

#include "postgres.h"
#include "datatype/timestamp.h"

#ifndef FSMML_VERSION
#error "FSMML_VERSION comes from fsmml.control through the Makefile"
#endif

/* GUCs (xgb/xgb_limits.c) */
extern int	fsmml_nthread;			/* fsmml.nthread: threads for scoring */
extern int	fsmml_train_nthread;	/* fsmml.train_nthread: threads for training, 0 = the cap */

/* timeframe.c: the only timeframes fsmml accepts. */
extern int64 fsmml_timeframe_usec(const char *tf);	/* ERROR when invalid */
extern bool fsmml_timeframe_is_valid(const char *tf);
extern int64 fsmml_timeframe_usec_text(text *tf);
/* "2024-01-01T00:00:00Z" for a Unix-microsecond time (palloc'd). */
extern char *fsmml_iso8601(int64 unix_us);

/* Offset from the PostgreSQL epoch (2000-01-01) to the Unix epoch, in microseconds. */
#define FSMML_PG_UNIX_EPOCH_USEC \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static inline int64
fsmml_ts_to_unix(TimestampTz ts)
{
	return (int64) ts + FSMML_PG_UNIX_EPOCH_USEC;
}

static inline TimestampTz
fsmml_unix_to_ts(int64 us)
{
	return (TimestampTz) (us - FSMML_PG_UNIX_EPOCH_USEC);
}

#endif							/* FSMML_H */
