/*
 * features_build.c — fsmml_build_features(symbol, tf, since): computes and
 * upserts trading.features of one series, resumably.  The kernel state after
 * the last bar is saved in fsmml.feature_state and resumed from exactly: an
 * incremental build writes the same numbers a full one does.  New rows go
 * straight into the heap and indexes when that gives what INSERT would
 * (bulk_insert.c); rows rewritten in place go through INSERT ... ON CONFLICT.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bulk_insert.h"
#include "fsmml_features.h"
#include "fsmml.h"
#include "locks.h"
#include "privilege.h"

/* Rows per kernel run and per INSERT when writing trading.features. */
#define WRITE_BATCH 8192

/* ---------------------------------------------------------------- writing */

/* A prepared upsert of one batch of feature rows (arrays, one per column). */
static SPIPlanPtr
prepare_feature_upsert(void)
{
	StringInfoData sql;
	Oid		   *types;
	int			nargs = 3 + FS_NFEATURES;
	SPIPlanPtr	plan;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO trading.features (symbol, timeframe, \"timestamp\"");
	for (int i = 0; i < FS_NFEATURES; i++)
		appendStringInfo(&sql, ", %s", quote_identifier(fs_feature_catalog[i].name));
	appendStringInfoString(&sql, ") SELECT $1, $2, u.* FROM unnest($3");
	for (int i = 0; i < FS_NFEATURES; i++)
		appendStringInfo(&sql, ", $%d", i + 4);
	appendStringInfoString(&sql, ") AS u ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET ");
	for (int i = 0; i < FS_NFEATURES; i++)
	{
		const char *col = quote_identifier(fs_feature_catalog[i].name);

		appendStringInfo(&sql, "%s%s = EXCLUDED.%s", i ? ", " : "", col, col);
	}

	types = palloc(sizeof(Oid) * nargs);
	types[0] = TEXTOID;
	types[1] = TEXTOID;
	types[2] = TIMESTAMPTZARRAYOID;
	for (int i = 0; i < FS_NFEATURES; i++)
		types[3 + i] = FLOAT8ARRAYOID;
	plan = SPI_prepare(sql.data, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the features upsert: %s",
			 SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Writes rows [0, n) of features (row-major) for bars ts[] through the
 * prepared upsert.  NaN/Inf become NULL.
 */
static void
write_feature_batch(SPIPlanPtr plan, Datum symbol, Datum timeframe,
					const FsBar *bars, const double *feats, int n)
{
	int			nargs = 3 + FS_NFEATURES;
	Datum	   *args = palloc(sizeof(Datum) * nargs);
	char	   *argnulls = palloc(nargs);
	Datum	   *elems = palloc(sizeof(Datum) * n);
	bool	   *enulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			rc;

	memset(argnulls, ' ', nargs);
	args[0] = symbol;
	args[1] = timeframe;
	for (int r = 0; r < n; r++)
		elems[r] = TimestampTzGetDatum(fsmml_unix_to_ts(bars[r].ts));
	args[2] = PointerGetDatum(construct_array(elems, n, TIMESTAMPTZOID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	for (int i = 0; i < FS_NFEATURES; i++)
	{
		for (int r = 0; r < n; r++)
		{
			double		v = feats[(int64) r * FS_NFEATURES + i];

			enulls[r] = !isfinite(v);
			elems[r] = Float8GetDatum(enulls[r] ? 0.0 : v);
		}
		args[3 + i] = PointerGetDatum(construct_md_array(elems, enulls, 1, dims, lbs,
														 FLOAT8OID, 8, FLOAT8PASSBYVAL,
														 TYPALIGN_DOUBLE));
	}
	rc = SPI_execute_plan(plan, args, argnulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing features failed: %s", SPI_result_code_string(rc));
	for (int i = 2; i < nargs; i++)
		pfree(DatumGetPointer(args[i]));
	pfree(args);
	pfree(argnulls);
	pfree(elems);
	pfree(enulls);
}

/*
 * Fast path: new rows go straight into the heap and indexes (COPY-like);
 * see bulk_insert.c.
 */
static void
bulk_write_features(FsmmlBulkInsert *bi, RowFormer *rf, const FsBar *bars,
					const double *feats, int n)
{
	for (int r = 0; r < n; r++)
	{
		bool		owned;
		HeapTuple	tup = fsmml_row_former_form(rf, fsmml_unix_to_ts(bars[r].ts),
										  feats + (int64) r * FS_NFEATURES, &owned);

		fsmml_bulk_insert_tuple(bi, tup);
		if (owned)
			heap_freetuple(tup);
	}
}

/* Whether trading.features has columns besides the keys and fsmml's features. */
static bool
has_user_columns(TupleDesc tupdesc)
{
	int			live = 0;

	for (int a = 0; a < tupdesc->natts; a++)
		if (!TupleDescAttr(tupdesc, a)->attisdropped)
			live++;
	return live > 3 + FS_NFEATURES;
}

/* Feature rows of the series at or after ts: deleted (delete) or just probed. */
static uint64
feature_rows_from(const char *symbol, const char *timeframe, TimestampTz ts, bool delete)
{
	if (delete)
		fsmml_spi_series("DELETE FROM trading.features WHERE symbol = $1 "
						 "AND timeframe = $2 AND \"timestamp\" >= $3",
						 symbol, timeframe, &ts, false, 0, SPI_OK_DELETE,
						 "deleting rewritten features");
	else
		fsmml_spi_series("SELECT 1 FROM trading.features WHERE symbol = $1 "
						 "AND timeframe = $2 AND \"timestamp\" >= $3 LIMIT 1",
						 symbol, timeframe, &ts, true, 1, SPI_OK_SELECT,
						 "probing trading.features");
	return SPI_processed;
}

/* ---------------------------------------------------------------- saved state */

typedef struct SavedState
{
	bool		found;
	TimestampTz last_ts;
	int64		nbars;
	FsState    *state;			/* NULL when the stored blob is not valid */
} SavedState;

static SavedState
load_state(const char *symbol, const char *timeframe)
{
	SavedState	s = {0};

	fsmml_spi_series("SELECT last_ts, nbars, state FROM fsmml.feature_state "
					 "WHERE symbol = $1 AND timeframe = $2",
					 symbol, timeframe, NULL, true, 1, SPI_OK_SELECT,
					 "reading fsmml.feature_state");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *blob;

		s.found = true;
		s.last_ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
		s.nbars = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		blob = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));
		if (fs_state_valid((const FsState *) VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob)))
		{
			s.state = palloc(fs_state_size());
			memcpy(s.state, VARDATA_ANY(blob), fs_state_size());
		}
	}
	return s;
}

static void
save_state(const char *symbol, const char *timeframe, const FsState *st)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, BYTEAOID};
	Datum		values[5];
	bytea	   *blob = palloc(VARHDRSZ + fs_state_size());
	int			rc;

	SET_VARSIZE(blob, VARHDRSZ + fs_state_size());
	memcpy(VARDATA(blob), st, fs_state_size());
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(fs_state_last_ts(st)));
	values[3] = Int64GetDatum(fs_state_nbars(st));
	values[4] = PointerGetDatum(blob);
	rc = SPI_execute_with_args("INSERT INTO fsmml.feature_state AS s "
							   "(symbol, timeframe, last_ts, nbars, state) "
							   "VALUES ($1, $2, $3, $4, $5) "
							   "ON CONFLICT (symbol, timeframe) DO UPDATE SET "
							   "last_ts = EXCLUDED.last_ts, nbars = EXCLUDED.nbars, "
							   "state = EXCLUDED.state, updated_at = now()",
							   5, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "saving fsmml.feature_state failed: %s", SPI_result_code_string(rc));
}

/*
 * Earliest bar at or before last_ts that has no feature row: a bar inserted
 * into the past after the last build.  DT_NOEND when there is none.
 */
static TimestampTz
first_unbuilt_bar(const char *symbol, const char *timeframe, TimestampTz last_ts)
{
	bool		isnull;
	Datum		d;
	FsmmlUserScope us;

	fsmml_caller_enter(&us);		/* reads the caller's bars */

	fsmml_spi_series("SELECT min(h.\"timestamp\") FROM trading.historicaldata h "
					 "WHERE h.symbol = $1 AND h.timeframe = $2 AND h.\"timestamp\" <= $3 "
					 "AND NOT EXISTS (SELECT 1 FROM trading.features f "
					 "WHERE f.symbol = h.symbol AND f.timeframe = h.timeframe "
					 "AND f.\"timestamp\" = h.\"timestamp\")",
					 symbol, timeframe, &last_ts, true, 1, SPI_OK_SELECT,
					 "looking for back-filled bars");
	fsmml_caller_leave(&us);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? DT_NOEND : DatumGetTimestampTz(d);
}

/*
 * Deletes feature rows whose bar was deleted since the last build; returns
 * how many, and in *first the earliest (DT_NOEND when none): every row after
 * it has to be recomputed, indicators being counted in bars.
 */
static uint64
delete_orphan_features(const char *symbol, const char *timeframe, TimestampTz *first)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID};
	Datum		values[3];
	bool		isnull;
	Datum		orphans;
	FsmmlUserScope us;

	/* Which bars are gone is read with the caller's rights, the delete is fsmml's. */
	fsmml_caller_enter(&us);
	fsmml_spi_series("SELECT array_agg(f.\"timestamp\") FROM trading.features f "
					 "WHERE f.symbol = $1 AND f.timeframe = $2 AND NOT EXISTS "
					 "(SELECT 1 FROM trading.historicaldata h WHERE h.symbol = f.symbol "
					 "AND h.timeframe = f.timeframe AND h.\"timestamp\" = f.\"timestamp\")",
					 symbol, timeframe, NULL, true, 1, SPI_OK_SELECT,
					 "looking for orphan features");
	fsmml_caller_leave(&us);
	orphans = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
	{
		*first = DT_NOEND;
		return 0;
	}
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = orphans;
	if (SPI_execute_with_args("WITH d AS (DELETE FROM trading.features "
							  "WHERE symbol = $1 AND timeframe = $2 AND \"timestamp\" = ANY ($3) "
							  "RETURNING \"timestamp\") SELECT count(*), min(\"timestamp\") FROM d",
							  3, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "deleting orphan features failed");
	*first = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
lock_series(const char *symbol, const char *timeframe)
{
	fsmml_lock_series_build(symbol, timeframe);
}

/* ---------------------------------------------------------------- build */

/*
 * Builds and upserts features of one series.  Returns rows written.
 *
 * With since NULL it resumes from the saved state when the bars up to the
 * last built one are unchanged in number; otherwise (first build, bars
 * inserted into or deleted from the past, state from another layout) it
 * recomputes from the first bar and rewrites from the first changed bar.
 * With since given it rewrites every row at or after since.
 */
int64
fsmml_build_features_internal(const char *symbol, const char *timeframe,
							  TimestampTz since, bool has_since)
{
	int64		step = fsmml_timeframe_usec(timeframe);
	MemoryContext opcxt;
	MemoryContext oldcxt;
	SavedState	saved;
	FsState    *st;
	FsmmlBars  *bars;
	TimestampTz write_from;
	TimestampTz read_from;
	int64		first_write;
	int64		ngaps_before;
	int64		written = 0;
	double	   *out;
	Datum		dsym;
	Datum		dtf;

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml build features",
								  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(opcxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	lock_series(symbol, timeframe);
	saved = load_state(symbol, timeframe);

	st = NULL;
	write_from = has_since ? since : DT_NOBEGIN;
	if (saved.found && saved.state != NULL &&
		(!has_since || since > saved.last_ts) &&
		fsmml_count_bars_upto(symbol, timeframe, saved.last_ts) == saved.nbars)
	{
		/* The common case: only new bars since the last build. */
		st = saved.state;
	}
	else if (saved.found && !has_since)
	{
		TimestampTz changed = first_unbuilt_bar(symbol, timeframe, saved.last_ts);
		TimestampTz deleted;
		uint64		orphans = delete_orphan_features(symbol, timeframe, &deleted);

		/* Rewrite from the first inserted or deleted bar on. */
		write_from = Min(changed, deleted);
		if (write_from == DT_NOEND)
			write_from = DT_NOBEGIN;	/* state from another layout: rewrite all */
		ereport(NOTICE,
				(saved.state == NULL
				 ? errmsg("%s %s: the saved feature state is from an older fsmml; recomputing from the first bar",
						  symbol, timeframe)
				 : errmsg("%s %s: bars changed before the last built bar; recomputing from the first bar",
						  symbol, timeframe),
				 errdetail("Rows from %s on are rewritten%s.",
						   write_from == DT_NOBEGIN ? "the first bar" : timestamptz_to_str(write_from),
						   orphans ? psprintf("; %llu rows of deleted bars removed",
											  (unsigned long long) orphans) : "")));
	}
	if (st == NULL)
		st = fsmml_state_new(step);

	read_from = fs_state_nbars(st) > 0 ?
		fsmml_unix_to_ts(fs_state_last_ts(st)) + 1 : DT_NOBEGIN;
	bars = fsmml_read_bars(symbol, timeframe, read_from, DT_NOEND, opcxt);
	if (bars->n == 0 && fs_state_nbars(st) == 0)
		ereport(NOTICE,
				(errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe)));

	/* Bars before write_from only warm the state up. */
	first_write = 0;
	while (first_write < bars->n && fsmml_unix_to_ts(bars->bars[first_write].ts) < write_from)
		first_write++;
	ngaps_before = fs_state_ngaps(st);
	fsmml_state_run(st, bars, 0, first_write, NULL, symbol, timeframe);

	dsym = CStringGetTextDatum(symbol);
	dtf = CStringGetTextDatum(timeframe);
	out = palloc(sizeof(double) * FS_NFEATURES * WRITE_BATCH);
	if (first_write < bars->n)
	{
		Oid			relid = RangeVarGetRelid(makeRangeVar("trading", "features", -1),
											 RowExclusiveLock, false);
		Relation	rel = table_open(relid, AccessShareLock);
		TupleDesc	tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
		TimestampTz first_ts = fsmml_unix_to_ts(bars->bars[first_write].ts);
		bool		exist;
		FsmmlBulkInsert *bi = NULL;
		SPIPlanPtr	plan = NULL;
		RowFormer  *rf = NULL;
		AttrNumber	attnums[FS_NFEATURES];
		Bitmapset  *given;

		table_close(rel, AccessShareLock);
		fsmml_feature_attnums(tupdesc, attnums);

		/*
		 * Rows being rewritten are deleted and appended again, unless users
		 * keep their own columns in them: then they are updated in place.
		 */
		exist = feature_rows_from(symbol, timeframe, first_ts, false) > 0;
		if (exist && !has_user_columns(tupdesc))
		{
			feature_rows_from(symbol, timeframe, first_ts, true);
			exist = false;
		}
		given = bms_add_range(NULL, 1, 3);	/* symbol, timeframe, timestamp */
		for (int k = 0; k < FS_NFEATURES; k++)
			given = bms_add_member(given, attnums[k]);
		if (!exist && fsmml_bulk_insert_possible(relid, InvalidOid, given))
		{
			bi = fsmml_bulk_insert_begin(relid, InvalidOid, given);
			rf = fsmml_row_former_new(fsmml_bulk_insert_tupdesc(bi), attnums, symbol, timeframe);
		}
		else
			plan = prepare_feature_upsert();

		for (int64 i = first_write; i < bars->n; i += WRITE_BATCH)
		{
			int			n = (int) Min(WRITE_BATCH, bars->n - i);

			fsmml_state_run(st, bars, i, i + n, out, symbol, timeframe);
			if (bi)
				bulk_write_features(bi, rf, bars->bars + i, out, n);
			else
				write_feature_batch(plan, dsym, dtf, bars->bars + i, out, n);
			written += n;
		}
		if (bi)
			fsmml_bulk_insert_end(bi);
		ereport(DEBUG1,
				(errmsg("fsmml_build_features %s %s: " INT64_FORMAT " rows written %s",
						symbol, timeframe, written,
						bi ? "directly" : "through INSERT")));
	}
	if (fs_state_ngaps(st) > ngaps_before)
		ereport(NOTICE,
				(errmsg("%s %s: " INT64_FORMAT " bars followed a gap (missing bars)",
						symbol, timeframe, fs_state_ngaps(st) - ngaps_before),
				 errdetail("Indicators run over the bars present, counted in bars.")));

	if (fs_state_nbars(st) > 0)
		save_state(symbol, timeframe, st);
	SPI_finish();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(opcxt);
	return written;
}

PG_FUNCTION_INFO_V1(fsmml_build_features);

Datum
fsmml_build_features(PG_FUNCTION_ARGS)
{
	char	   *symbol;
	char	   *timeframe;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("symbol and timeframe must not be NULL")));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PG_RETURN_INT64(fsmml_build_features_internal(symbol, timeframe,
												  PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2),
												  !PG_ARGISNULL(2)));
}
