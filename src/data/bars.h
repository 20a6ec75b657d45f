/*
 * bars.h — reading OHLCV bars of one series out of trading.historicaldata.
 */
#ifndef FSMML_BARS_H
#define FSMML_BARS_H

#include "postgres.h"
#include "datatype/timestamp.h"

#include "features_kernel.h"

typedef struct FsmmlBars
{
	FsBar	   *bars;			/* time order; ts in Unix microseconds */
	int64		n;
	int64		cap;
} FsmmlBars;

/*
 * Reads the bars of (symbol, timeframe) with from_ts <= ts <= to_ts into
 * memory allocated in mcxt.  Pass DT_NOBEGIN / DT_NOEND for open ends.
 * Caller must be connected to SPI.  NULL prices read as NaN, so the kernel
 * rejects them like any other invalid price.
 */
extern FsmmlBars *fsmml_read_bars(const char *symbol, const char *timeframe,
								  TimestampTz from_ts, TimestampTz to_ts,
								  MemoryContext mcxt);

/*
 * Runs sql with $1 = symbol, $2 = timeframe and, when ts is not NULL,
 * $3 = *ts; ERROR (naming what) unless SPI answers expected.  The usual
 * shape of every per-series statement.  Caller is SPI-connected.
 */
extern void fsmml_spi_series(const char *sql, const char *symbol, const char *timeframe,
							 const TimestampTz *ts, bool read_only, long tcount,
							 int expected, const char *what);

/* Bars of the series at or before ts (index-only count). SPI-connected. */
extern int64 fsmml_count_bars_upto(const char *symbol, const char *timeframe,
								   TimestampTz ts);

/* ERROR naming the bar and what is wrong with it. */
extern void fsmml_report_bad_bar(const char *symbol, const char *timeframe,
								 const FsBar *bar, FsStatus status) pg_attribute_noreturn();

#endif							/* FSMML_BARS_H */
