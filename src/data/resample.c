/*
 * resample.c — fsmml_resample: bars of a timeframe aggregated into a higher one.
 *
 * open = first, high = max, low = min, close = last, volume = sum, in buckets
 * that follow the series' own origin, as the kernel's multi-timeframe
 * snapshots do: date_bin(to_tf, ts, origin) with origin = the first source
 * bar's offset from the epoch grid of from_tf (1970-01-01 for a series on
 * the grid, 00:15 past the hour for hourly bars on :15).  A bucket is written
 * once its last base bar is present or a later bar exists; the trailing
 * bucket still being filled is not written.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "fsmml.h"

#define RESAMPLE_BATCH 8192

typedef struct Bucket
{
	int64		start;			/* Unix microseconds */
	double		open;
	double		high;
	double		low;
	double		close;
	double		volume;
} Bucket;

/* Bucket origin of the series: its first bar's offset from the from_tf grid. */
static int64
series_origin(const char *symbol, const char *from_tf, int64 from_step)
{
	bool		isnull;
	Datum		d;

	fsmml_spi_series("SELECT min(\"timestamp\") FROM trading.historicaldata "
					 "WHERE symbol = $1 AND timeframe = $2",
					 symbol, from_tf, NULL, true, 1, SPI_OK_SELECT, "finding the first bar");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : fs_bucket_origin(fsmml_ts_to_unix(DatumGetTimestampTz(d)), from_step);
}

static void
write_buckets(const char *symbol, const char *to_tf, const Bucket *b, int n)
{
	static const char *sql =
		"INSERT INTO trading.historicaldata "
		"(symbol, timeframe, \"timestamp\", open, high, low, close, volume) "
		"SELECT $1, $2, u.* FROM unnest($3, $4, $5, $6, $7, $8) AS u "
		"ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET "
		"open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, "
		"close = EXCLUDED.close, volume = EXCLUDED.volume";
	Oid			types[8] = {TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID};
	Datum		args[8];
	Datum	   *elems = palloc(sizeof(Datum) * n);
	int			rc;

	args[0] = CStringGetTextDatum(symbol);
	args[1] = CStringGetTextDatum(to_tf);
	for (int i = 0; i < n; i++)
		elems[i] = TimestampTzGetDatum(fsmml_unix_to_ts(b[i].start));
	args[2] = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	for (int c = 0; c < 5; c++)
	{
		for (int i = 0; i < n; i++)
		{
			const double *f = &b[i].open;

			elems[i] = Float8GetDatum(f[c]);
		}
		args[3 + c] = PointerGetDatum(construct_array(elems, n, FLOAT8OID, 8, FLOAT8PASSBYVAL,
													  TYPALIGN_DOUBLE));
	}
	rc = SPI_execute_with_args(sql, 8, types, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing resampled bars failed: %s", SPI_result_code_string(rc));
}

PG_FUNCTION_INFO_V1(fsmml_resample);

Datum
fsmml_resample(PG_FUNCTION_ARGS)
{
	char	   *symbol;
	char	   *from_tf;
	char	   *to_tf;
	int64		from_step;
	int64		to_step;
	TimestampTz read_from = DT_NOBEGIN;
	MemoryContext opcxt;
	MemoryContext oldcxt;
	FsmmlBars  *bars;
	Bucket	   *buf;
	int			nbuf = 0;
	int64		written = 0;
	int64		prev_ts = INT64_MIN;
	int64		origin;
	int64		since = 0;
	bool		has_since = !PG_ARGISNULL(3);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("symbol, from_tf and to_tf must not be NULL")));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	from_tf = text_to_cstring(PG_GETARG_TEXT_PP(1));
	to_tf = text_to_cstring(PG_GETARG_TEXT_PP(2));
	from_step = fsmml_timeframe_usec(from_tf);
	to_step = fsmml_timeframe_usec(to_tf);
	if (to_step <= from_step || to_step % from_step != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot resample %s bars into %s", from_tf, to_tf),
				 errhint("The target timeframe must be longer than, and a multiple of, the source.")));
	if (has_since)
		since = fsmml_ts_to_unix(PG_GETARG_TIMESTAMPTZ(3));

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml resample",
								  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	origin = series_origin(symbol, from_tf, from_step);
	/* Start at the bucket containing since, so it is rebuilt whole. */
	if (has_since)
		read_from = fsmml_unix_to_ts(fs_bucket_start(since, to_step, origin));

	bars = fsmml_read_bars(symbol, from_tf, read_from, DT_NOEND, opcxt);
	buf = palloc(sizeof(Bucket) * RESAMPLE_BATCH);

	for (int64 i = 0; i < bars->n;)
	{
		const FsBar *bar = &bars->bars[i];
		int64		start = fs_bucket_start(bar->ts, to_step, origin);
		int64		end = start + to_step;
		Bucket	   *b = &buf[nbuf];
		int64		last_ts = bar->ts;
		FsStatus	rc;

		b->start = start;
		b->open = bar->open;
		b->high = bar->high;
		b->low = bar->low;
		b->volume = 0;
		for (; i < bars->n && bars->bars[i].ts < end; i++)
		{
			bar = &bars->bars[i];
			if ((rc = fs_check_bar(bar, prev_ts, from_step)) != FS_OK)
				fsmml_report_bad_bar(symbol, from_tf, bar, rc);
			prev_ts = bar->ts;
			b->high = Max(b->high, bar->high);
			b->low = Min(b->low, bar->low);
			b->close = bar->close;
			b->volume += bar->volume;
			last_ts = bar->ts;
		}
		/* The trailing bucket is complete only when its last bar is here. */
		if (i == bars->n && last_ts + from_step < end)
			break;
		if (++nbuf == RESAMPLE_BATCH)
		{
			CHECK_FOR_INTERRUPTS();
			write_buckets(symbol, to_tf, buf, nbuf);
			written += nbuf;
			nbuf = 0;
		}
	}
	if (nbuf > 0)
	{
		write_buckets(symbol, to_tf, buf, nbuf);
		written += nbuf;
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	PG_RETURN_INT64(written);
}
