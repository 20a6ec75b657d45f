/*
 * features_sql.c — the feature SQL API over the streaming kernel, computed on
 * the fly:
 *
 *   fsmml_features(symbol, tf, from, to)      rows of trading.features, nothing written
 *   fsmml_feature_catalog()                   backs the fsmml.feature_catalog view
 *
 * and what the build shares with it: the kernel runs, the column map and the
 * rows of trading.features formed by hand.  Warm-up always starts at the
 * first bar of the series, so a value never depends on where a query window
 * starts.  fsmml_build_features is in features_build.c.
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

/* Rows per kernel run of fsmml_features. */
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
struct RowFormer
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
};

RowFormer *
fsmml_row_former_new(TupleDesc tupdesc, const AttrNumber *attnums, const char *symbol,
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
HeapTuple
fsmml_row_former_form(RowFormer *rf, TimestampTz ts, const double *f, bool *owned)
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
	HeapTuple	tup = fsmml_row_former_form(rf, ts, f, &owned);

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
	rf = fsmml_row_former_new(tupdesc, attnums, symbol, timeframe);
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
