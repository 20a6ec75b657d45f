/*
 * bars.c — reading bars of one series straight from the executor.
 *
 * The query's rows go to our own DestReceiver, which copies five doubles and a
 * timestamp per row into a flat array: no SPI tuple table, no text
 * conversion.  Prices stored as numeric are cast to float8 by the query.
 * The query has no ORDER BY, so the planner may pick a sequential or bitmap
 * scan when they are cheaper than walking the index; the array is sorted here
 * instead (a pass that finds it already in order when it is).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "fsmml.h"
#include "privilege.h"

typedef struct BarReceiver
{
	DestReceiver pub;
	FsmmlBars  *out;
	MemoryContext mcxt;
} BarReceiver;

static bool
bar_receive(TupleTableSlot *slot, DestReceiver *self)
{
	BarReceiver *r = (BarReceiver *) self;
	FsmmlBars  *b = r->out;
	FsBar	   *bar;

	slot_getallattrs(slot);
	if (b->n == b->cap)
	{
		b->cap *= 2;
		b->bars = repalloc_huge(b->bars, sizeof(FsBar) * b->cap);
	}
	bar = &b->bars[b->n++];
	bar->ts = fsmml_ts_to_unix(DatumGetTimestampTz(slot->tts_values[0]));
	/* NULL columns of a user's table become NaN, which the kernel rejects. */
	bar->open = slot->tts_isnull[1] ? NAN : DatumGetFloat8(slot->tts_values[1]);
	bar->high = slot->tts_isnull[2] ? NAN : DatumGetFloat8(slot->tts_values[2]);
	bar->low = slot->tts_isnull[3] ? NAN : DatumGetFloat8(slot->tts_values[3]);
	bar->close = slot->tts_isnull[4] ? NAN : DatumGetFloat8(slot->tts_values[4]);
	bar->volume = slot->tts_isnull[5] ? NAN : DatumGetFloat8(slot->tts_values[5]);
	if ((b->n & 16383) == 0)
		CHECK_FOR_INTERRUPTS();
	return true;
}

static void
bar_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
bar_shutdown(DestReceiver *self)
{
}

static void
bar_destroy(DestReceiver *self)
{
}

static int
bar_cmp(const void *a, const void *b)
{
	int64		ta = ((const FsBar *) a)->ts;
	int64		tb = ((const FsBar *) b)->ts;

	return (ta > tb) - (ta < tb);
}

static void
sort_bars(FsmmlBars *b)
{
	for (int64 i = 1; i < b->n; i++)
		if (b->bars[i].ts < b->bars[i - 1].ts)
		{
			/* Equal timestamps stay adjacent: the kernel reports them as duplicates. */
			qsort(b->bars, b->n, sizeof(FsBar), bar_cmp);
			return;
		}
}

FsmmlBars *
fsmml_read_bars(const char *symbol, const char *timeframe,
				TimestampTz from_ts, TimestampTz to_ts, MemoryContext mcxt)
{
	/* Open ends are left out of the query: fewer quals per row. */
	const char *sql = psprintf("SELECT \"timestamp\", open::float8, high::float8, low::float8, "
							   "close::float8, volume::float8 FROM trading.historicaldata "
							   "WHERE symbol = $1 AND timeframe = $2%s%s",
							   from_ts == DT_NOBEGIN ? "" : " AND \"timestamp\" >= $3",
							   to_ts == DT_NOEND ? "" : " AND \"timestamp\" <= $4");
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	BarReceiver recv;
	SPIExecuteOptions opts;
	SPIPlanPtr	plan;
	FsmmlBars  *out;
	FsmmlUserScope us;
	int			rc;

	out = MemoryContextAllocZero(mcxt, sizeof(FsmmlBars));
	out->cap = 4096;
	out->bars = MemoryContextAllocHuge(mcxt, sizeof(FsBar) * out->cap);

	memset(&recv, 0, sizeof(recv));
	recv.pub.receiveSlot = bar_receive;
	recv.pub.rStartup = bar_startup;
	recv.pub.rShutdown = bar_shutdown;
	recv.pub.rDestroy = bar_destroy;
	recv.pub.mydest = DestNone;
	recv.out = out;
	recv.mcxt = mcxt;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(from_ts);
	values[3] = TimestampTzGetDatum(to_ts);

	plan = SPI_prepare(sql, 4, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the bars query: %s",
			 SPI_result_code_string(SPI_result));

	memset(&opts, 0, sizeof(opts));
	opts.params = makeParamList(4);
	for (int i = 0; i < 4; i++)
	{
		opts.params->params[i].value = values[i];
		opts.params->params[i].isnull = false;
		opts.params->params[i].pflags = PARAM_FLAG_CONST;
		opts.params->params[i].ptype = types[i];
	}
	opts.read_only = true;
	opts.dest = (DestReceiver *) &recv;
	/* The bars are the caller's: read them with the caller's rights (privilege.h). */
	fsmml_caller_enter(&us);
	rc = SPI_execute_plan_extended(plan, &opts);
	fsmml_caller_leave(&us);
	/* SPI reports a SELECT into a DestNone receiver as a utility command. */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "reading bars failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
	sort_bars(out);
	return out;
}

void
fsmml_spi_series(const char *sql, const char *symbol, const char *timeframe,
				 const TimestampTz *ts, bool read_only, long tcount, int expected,
				 const char *what)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	int			rc;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	if (ts)
		values[2] = TimestampTzGetDatum(*ts);
	rc = SPI_execute_with_args(sql, ts ? 3 : 2, types, values, NULL, read_only, tcount);
	if (rc != expected)
		elog(ERROR, "%s failed: %s", what, SPI_result_code_string(rc));
}

int64
fsmml_count_bars_upto(const char *symbol, const char *timeframe, TimestampTz ts)
{
	bool		isnull;
	FsmmlUserScope us;

	fsmml_caller_enter(&us);
	fsmml_spi_series("SELECT count(*) FROM trading.historicaldata "
					 "WHERE symbol = $1 AND timeframe = $2 AND \"timestamp\" <= $3",
					 symbol, timeframe, &ts, true, 1, SPI_OK_SELECT, "counting bars");
	fsmml_caller_leave(&us);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

void
fsmml_report_bad_bar(const char *symbol, const char *timeframe, const FsBar *bar,
					 FsStatus status)
{
	const char *when = timestamptz_to_str(fsmml_unix_to_ts(bar->ts));

	ereport(ERROR,
			(errcode(status == FS_ERR_ORDER ? ERRCODE_UNIQUE_VIOLATION : ERRCODE_DATA_EXCEPTION),
			 errmsg("invalid bar for %s %s at %s: %s", symbol, timeframe, when,
					fs_status_message(status)),
			 errdetail("open %g, high %g, low %g, close %g, volume %g",
					   bar->open, bar->high, bar->low, bar->close, bar->volume),
			 errhint("Correct or delete the bar in trading.historicaldata; fsmml computes nothing over invalid bars.")));
}
