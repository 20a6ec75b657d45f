/*
 * features.c — the feature SQL API over the streaming kernel.
 *
 *   fsmml_features(symbol, tf, from, to)      computed on the fly, nothing written
 *   fsmml_build_features(symbol, tf, since)   upserts trading.features, resumable
 *   fsmml_feature_catalog()                   backs the fsmml.feature_catalog view
 *
 * Warm-up always starts at the first bar of the series, so a value never
 * depends on where a query window starts.  fsmml_build_features saves the
 * kernel state after the last bar in fsmml.feature_state and resumes from it
 * exactly: an incremental build writes the same numbers a full one does.
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

/* Rows per INSERT when writing trading.features. */
#define WRITE_BATCH 8192

/* ---------------------------------------------------------------- catalog */

PG_FUNCTION_INFO_V1(fsmml_feature_catalog);

Datum
fsmml_feature_catalog(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < FS_NFEATURES; i++)
	{
		const FsFeatureInfo *f = &fs_feature_catalog[i];
		Datum		values[5];
		bool		nulls[5] = {false};

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(f->name);
		values[2] = CStringGetTextDatum(f->group);
		values[3] = CStringGetTextDatum(f->definition);
		values[4] = Int32GetDatum(f->lookback);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------- column map */

/*
 * Maps kernel feature i to its attribute number in trading.features, checking
 * that every fsmml column is there as double precision.
 */
void
fsmml_feature_attnums(TupleDesc tupdesc, AttrNumber *attnums)
{
	for (int i = 0; i < FS_NFEATURES; i++)
	{
		const char *name = fs_feature_catalog[i].name;
		int			j;

		attnums[i] = InvalidAttrNumber;
		for (j = 0; j < tupdesc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, j);

			if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			{
				if (att->atttypid != FLOAT8OID)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("column \"%s\" of trading.features must be double precision", name)));
				attnums[i] = att->attnum;
				break;
			}
		}
		if (attnums[i] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of trading.features is missing", name),
					 errhint("fsmml writes its %d feature columns; re-add it as double precision.",
							 FS_NFEATURES)));
	}
}

/* ---------------------------------------------------------------- kernel runs */

FsState *
fsmml_state_new(int64 step_us)
{
	FsState    *st = palloc(fs_state_size());

	fs_state_init(st, step_us);
	return st;
}

/*
 * Steps bars [from, to) of b; out (row-major, may be NULL) receives their
 * features.  An invalid bar is an ERROR naming it.
 */
void
fsmml_state_run(FsState *st, const FsmmlBars *b, int64 from, int64 to, double *out,
				const char *symbol, const char *timeframe)
{
	int64		i = from;

	while (i < to)
	{
		int64		chunk = Min(to - i, 65536);
		size_t		done = 0;
		FsStatus	rc;

		CHECK_FOR_INTERRUPTS();
		rc = fs_run(st, b->bars + i, (size_t) chunk,
					out ? out + (i - from) * FS_NFEATURES : NULL, &done);
		if (rc != FS_OK)
			fsmml_report_bad_bar(symbol, timeframe, &b->bars[i + done], rc);
		i += chunk;
	}
}

/* ---------------------------------------------------------------- fsmml_features */

/*
 * Rows of trading.features formed by hand.  The generic heap_form_tuple
 * walks all 61+ attributes twice per row and zeroes a fresh buffer, which
 * cost more than computing the features; here the layout is fixed (two
 * short texts, then 8-byte values, user columns NULL), so one pass fills a
 * reused buffer.  Any other column layout falls back to the generic path.
 */
typedef struct RowFormer
{
	TupleDesc	tupdesc;
	bool		fast;
	int			natts;
	int16	   *feature_of;		/* per attribute: kernel index, -1 key, -2 user column */
	char	   *keys;			/* symbol and timeframe as short varlenas */
	int			keys_len;
	char	   *buf;			/* HeapTupleHeader + data */
	Size		buflen;
	HeapTupleData tuple;		/* points into buf */
	Datum	   *values;
	bool	   *nulls;
} RowFormer;

static RowFormer *
row_former_new(TupleDesc tupdesc, const AttrNumber *attnums, const char *symbol,
			   const char *timeframe)
{
	RowFormer  *rf = palloc0(sizeof(RowFormer));
	int			ls = strlen(symbol),
				lt = strlen(timeframe);

	rf->tupdesc = tupdesc;
	rf->natts = tupdesc->natts;
	rf->feature_of = palloc(sizeof(int16) * rf->natts);
	for (int a = 0; a < rf->natts; a++)
		rf->feature_of[a] = a < 3 ? -1 : -2;
	for (int k = 0; k < FS_NFEATURES; k++)
		rf->feature_of[attnums[k] - 1] = k;
	rf->fast = ls + 1 <= VARATT_SHORT_MAX && lt + 1 <= VARATT_SHORT_MAX &&
		TupleDescAttr(tupdesc, 0)->atttypid == TEXTOID &&
		TupleDescAttr(tupdesc, 1)->atttypid == TEXTOID &&
		TupleDescAttr(tupdesc, 2)->atttypid == TIMESTAMPTZOID;
	rf->keys = palloc(ls + lt + 2);
	SET_VARSIZE_SHORT(rf->keys, ls + 1);
	memcpy(rf->keys + 1, symbol, ls);
	SET_VARSIZE_SHORT(rf->keys + ls + 1, lt + 1);
	memcpy(rf->keys + ls + 2, timeframe, lt);
	rf->keys_len = ls + lt + 2;
	rf->buflen = MAXALIGN(SizeofHeapTupleHeader + BITMAPLEN(rf->natts)) +
		rf->keys_len + 8 + 8 * (FS_NFEATURES + 1);
	rf->buf = palloc0(rf->buflen);
	rf->values = palloc0(sizeof(Datum) * rf->natts);
	rf->nulls = palloc(sizeof(bool) * rf->natts);
	return rf;
}

/*
 * The row of features f of the bar at ts.  On the fast path it lives in the
 * former's buffer until the next call; otherwise it is palloc'd (*owned).
 */
static HeapTuple
row_former_form(RowFormer *rf, TimestampTz ts, const double *f, bool *owned)
{
	HeapTupleHeader td = (HeapTupleHeader) rf->buf;
	int			hoff = MAXALIGN(SizeofHeapTupleHeader + BITMAPLEN(rf->natts));
	bits8	   *bits = td->t_bits;
	char	   *data = rf->buf + hoff;
	Size		off = rf->keys_len;

	*owned = !rf->fast;
	if (!rf->fast)
	{
		memset(rf->nulls, true, sizeof(bool) * rf->natts);
		rf->values[0] = PointerGetDatum(rf->keys);
		rf->values[1] = PointerGetDatum(rf->keys + VARSIZE_SHORT(rf->keys));
		rf->values[2] = TimestampTzGetDatum(ts);
		rf->nulls[0] = rf->nulls[1] = rf->nulls[2] = false;
		for (int a = 3; a < rf->natts; a++)
			if (rf->feature_of[a] >= 0 && isfinite(f[rf->feature_of[a]]))
			{
				rf->values[a] = Float8GetDatum(f[rf->feature_of[a]]);
				rf->nulls[a] = false;
			}
		return heap_form_tuple(rf->tupdesc, rf->values, rf->nulls);
	}

	memset(bits, 0, BITMAPLEN(rf->natts));
	bits[0] = 0x07;				/* symbol, timeframe, timestamp */
	memcpy(data, rf->keys, rf->keys_len);
	/* timestamptz is 8-byte aligned, like every feature column */
	while (off % 8)
		data[off++] = 0;
	memcpy(data + off, &ts, 8);
	off += 8;
	for (int a = 3; a < rf->natts; a++)
	{
		int			k = rf->feature_of[a];

		if (k >= 0 && isfinite(f[k]))
		{
			memcpy(data + off, &f[k], 8);
			off += 8;
			bits[a >> 3] |= 1 << (a & 7);
		}
	}
	HeapTupleHeaderSetDatumLength(td, hoff + off);
	HeapTupleHeaderSetTypeId(td, rf->tupdesc->tdtypeid);
	HeapTupleHeaderSetTypMod(td, rf->tupdesc->tdtypmod);
	ItemPointerSetInvalid(&td->t_ctid);
	HeapTupleHeaderSetNatts(td, rf->natts);
	td->t_hoff = hoff;
	td->t_infomask = HEAP_HASNULL | HEAP_HASVARWIDTH;
	rf->tuple.t_len = hoff + off;
	rf->tuple.t_data = td;
	ItemPointerSetInvalid(&rf->tuple.t_self);
	rf->tuple.t_tableOid = InvalidOid;
	return &rf->tuple;
}

/* Appends one row (features f of the bar at ts) to the tuplestore. */
static void
row_former_put(RowFormer *rf, Tuplestorestate *store, TimestampTz ts, const double *f)
{
	bool		owned;
	HeapTuple	tup = row_former_form(rf, ts, f, &owned);

	tuplestore_puttuple(store, tup);
	if (owned)
		heap_freetuple(tup);
}

/* Bytes a features row takes in a tuplestore, about. */
#define FEATURE_ROW_BYTES (MAXALIGN(SizeofMinimalTupleHeader + 8) + 8 * (FS_NFEATURES + 3) + 32)
/* Most a result is kept in memory before it spills, in kB. */
#define RESULT_MEM_MAX_KB (1024 * 1024)

/*
 * The result tuplestore, sized for nrows: work_mem is sized for sorts and
 * hashes, and a million-row result spilling to a temp file and being read
 * back costs a fifth of the call; it is kept in memory up to 1 GB instead.
 */
static void
begin_result(FunctionCallInfo fcinfo, int64 nrows)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;
	TupleDesc	tupdesc;
	int64		kb = Min(nrows * FEATURE_ROW_BYTES / 1024 + 1024, RESULT_MEM_MAX_KB);

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fsmml_features must be called in a context that accepts a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fsmml_features must return trading.features rows");
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	rsinfo->setResult = tuplestore_begin_heap(rsinfo->allowedModes & SFRM_Materialize_Random,
											  false, (int) Max(kb, work_mem));
	MemoryContextSwitchTo(oldcxt);
}

PG_FUNCTION_INFO_V1(fsmml_features);

/*
 * Materialize mode: a function scan stores rows in a tuplestore anyway, so
 * writing them there directly saves forming each row twice.
 */
Datum
fsmml_features(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt;
	MemoryContext oldcxt;
	TupleDesc	tupdesc;
	char	   *symbol;
	char	   *timeframe;
	int64		step;
	TimestampTz from_ts = PG_ARGISNULL(2) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz to_ts = PG_ARGISNULL(3) ? DT_NOEND : PG_GETARG_TIMESTAMPTZ(3);
	AttrNumber	attnums[FS_NFEATURES];
	FsmmlBars  *bars;
	FsState    *st;
	int64		first;
	double	   *out;
	RowFormer  *rf;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("symbol and timeframe must not be NULL")));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(0));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(1));
	step = fsmml_timeframe_usec(timeframe);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml features",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	/* Warm-up needs every bar from the first one, whatever from_ts is. */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, to_ts, cxt);
	SPI_finish();

	MemoryContextSwitchTo(oldcxt);
	begin_result(fcinfo, bars->n);
	tupdesc = rsinfo->setDesc;
	fsmml_feature_attnums(tupdesc, attnums);
	MemoryContextSwitchTo(cxt);

	st = fsmml_state_new(step);
	first = 0;
	while (first < bars->n && fsmml_unix_to_ts(bars->bars[first].ts) < from_ts)
		first++;
	fsmml_state_run(st, bars, 0, first, NULL, symbol, timeframe);

	out = palloc(sizeof(double) * FS_NFEATURES * WRITE_BATCH);
	rf = row_former_new(tupdesc, attnums, symbol, timeframe);
	for (int64 i = first; i < bars->n; i += WRITE_BATCH)
	{
		int			n = (int) Min(WRITE_BATCH, bars->n - i);

		fsmml_state_run(st, bars, i, i + n, out, symbol, timeframe);
		for (int r = 0; r < n; r++)
			row_former_put(rf, rsinfo->setResult, fsmml_unix_to_ts(bars->bars[i + r].ts),
						   out + (int64) r * FS_NFEATURES);
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

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
		HeapTuple	tup = row_former_form(rf, fsmml_unix_to_ts(bars[r].ts),
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

	fsmml_spi_series("SELECT min(h.\"timestamp\") FROM trading.historicaldata h "
					 "WHERE h.symbol = $1 AND h.timeframe = $2 AND h.\"timestamp\" <= $3 "
					 "AND NOT EXISTS (SELECT 1 FROM trading.features f "
					 "WHERE f.symbol = h.symbol AND f.timeframe = h.timeframe "
					 "AND f.\"timestamp\" = h.\"timestamp\")",
					 symbol, timeframe, &last_ts, true, 1, SPI_OK_SELECT,
					 "looking for back-filled bars");
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
	bool		isnull;
	Datum		d;

	fsmml_spi_series("WITH d AS (DELETE FROM trading.features f "
					 "WHERE f.symbol = $1 AND f.timeframe = $2 AND NOT EXISTS "
					 "(SELECT 1 FROM trading.historicaldata h WHERE h.symbol = f.symbol "
					 "AND h.timeframe = f.timeframe AND h.\"timestamp\" = f.\"timestamp\") "
					 "RETURNING f.\"timestamp\") SELECT count(*), min(\"timestamp\") FROM d",
					 symbol, timeframe, NULL, false, 0, SPI_OK_SELECT,
					 "deleting orphan features");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*first = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
lock_series(const char *symbol, const char *timeframe)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(psprintf("fsmml.features:%s:%s", symbol, timeframe));
	if (SPI_execute_with_args("SELECT pg_advisory_xact_lock(hashtext($1))",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the series");
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
				(errmsg("%s %s: bars changed before the last built bar; recomputing from the first bar",
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
			rf = row_former_new(fsmml_bulk_insert_tupdesc(bi), attnums, symbol, timeframe);
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
