/*
 * live_state.c — the kernel state of a live series, advanced one bar at a
 * time without re-reading history.
 *
 * fsmml.feature_state holds the state after some featured bar of the
 * series (fsmml_build_features writes it after the last; live scoring
 * every fsmml.live_state_interval bars, so a bar does not rewrite a 4.5 kB
 * row).  A backend keeps the current state per series, tagged with the
 * series' newest trading.features row (timestamp and xmin): its own last
 * write, so the copy is used only while nobody else wrote a feature row
 * since.  Another backend's bar, a rolled-back (sub)transaction or a
 * rebuild changes that row, and the state is read again: the saved one,
 * advanced over the few bars stored after it (as the caller).  Writers of
 * a series are serialised by the series-build lock (locks.h) the caller
 * holds.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "fsmml.h"
#include "live.h"
#include "serve.h"

#define SERIES_KEY_LEN 160

struct LiveSeries
{
	char		key[SERIES_KEY_LEN];	/* symbol \x01 timeframe; hash key */
	bool		valid;			/* st matches the tag below */
	TransactionId xmin;			/* of the newest features row (our own write) */
	int64		last_ts;		/* its timestamp: the state's last bar */
	int			unsaved;		/* bars since feature_state was written */
	FsState    *st;				/* in series_cxt */
	bool		has_prev;
	double		prev[FS_NFEATURES];
};

int			fsmml_live_state_interval = 32;

static HTAB *series_cache = NULL;
static MemoryContext series_cxt = NULL;
static LiveSeries scratch;		/* for keys too long to cache */

void
fsmml_live_state_init(void)
{
	DefineCustomIntVariable("fsmml.live_state_interval",
							"Bars live scoring advances a series between two saves of its feature state.",
							"A backend that did not score the last bars resumes from the saved state and "
							"steps over at most this many stored bars.",
							&fsmml_live_state_interval, 32, 1, 100000, PGC_USERSET, 0,
							NULL, NULL, NULL);
}

static LiveSeries *
series_entry(const char *symbol, const char *timeframe)
{
	char		key[SERIES_KEY_LEN];
	bool		found;
	LiveSeries *e;

	if (strlen(symbol) + strlen(timeframe) + 2 > SERIES_KEY_LEN)
	{
		if (scratch.st == NULL)
			scratch.st = MemoryContextAlloc(TopMemoryContext, fs_state_size());
		scratch.valid = false;
		return &scratch;
	}
	if (series_cache == NULL)
	{
		HASHCTL		ctl;

		series_cxt = AllocSetContextCreate(TopMemoryContext, "fsmml live series",
										   ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = SERIES_KEY_LEN;
		ctl.entrysize = sizeof(LiveSeries);
		ctl.hcxt = series_cxt;
		series_cache = hash_create("fsmml live series", 64, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%s\x01%s", symbol, timeframe);
	e = hash_search(series_cache, key, HASH_ENTER, &found);
	if (!found)
	{
		e->valid = false;
		e->st = MemoryContextAlloc(series_cxt, fs_state_size());
	}
	return e;
}

/*
 * The saved state of the series advanced to the bar at ts, into e->st;
 * false when it cannot be (no saved state, another layout, bars changed).
 */
static bool
reload_state(LiveSeries *e, const char *symbol, const char *timeframe, int64 ts)
{
	static SPIPlanPtr blob_plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	bytea	   *blob;
	int64		saved_ts;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	fsmml_spi_keep_plan(&blob_plan, "SELECT state FROM fsmml.feature_state "
						"WHERE symbol = $1 AND timeframe = $2", 2, types);
	if (SPI_execute_plan(blob_plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading fsmml.feature_state failed");
	if (SPI_processed != 1)
		return false;
	blob = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || !fs_state_valid((const FsState *) VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob)))
		return false;			/* another layout: the caller rebuilds */
	memcpy(e->st, VARDATA_ANY(blob), fs_state_size());
	saved_ts = fs_state_last_ts(e->st);
	if (saved_ts > ts)
		return false;			/* feature rows deleted after the save: rebuild */
	e->unsaved = 0;
	if (saved_ts < ts)
	{
		/* the bars featured after the save, as live scoring stepped them */
		FsmmlBars  *bars = fsmml_read_bars(symbol, timeframe, fsmml_unix_to_ts(saved_ts) + 1,
										   fsmml_unix_to_ts(ts), CurrentMemoryContext);
		double		out[FS_NFEATURES];

		if (bars->n == 0 || bars->bars[bars->n - 1].ts != ts)
			return false;
		for (int64 i = 0; i < bars->n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (fs_step(e->st, &bars->bars[i], out) != FS_OK)
				return false;
		}
		e->unsaved = (int) Min(bars->n, INT_MAX);
	}
	return true;
}

/*
 * The newest row of schema.relname for (symbol, timeframe) under the
 * active snapshot, by its primary key (symbol, timeframe[, timestamp]):
 * its timestamp (when has_ts) and xmin.  False when there is none.  An
 * index probe of our own: a SELECT's plan and executor cost more than the
 * lookup, once per bar.  The tables are the extension's own.
 */
static bool
newest_row(const char *schema, const char *relname, const char *symbol, const char *timeframe,
		   bool has_ts, int64 *ts, TransactionId *xmin)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid(schema, false));
	Relation	rel;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[2];
	const char *vals[2] = {symbol, timeframe};
	bool		found;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", schema, relname),
				 errhint("Reinstall the extension fsmml.")));
	rel = table_open(relid, AccessShareLock);
	if (!OidIsValid(RelationGetPrimaryKeyIndex(rel)))
		elog(ERROR, "relation \"%s.%s\" has no primary key", schema, relname);
	index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	for (int k = 0; k < 2; k++)
		ScanKeyEntryInitialize(&keys[k], 0, k + 1, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[k], F_TEXTEQ, CStringGetTextDatum(vals[k]));
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	found = index_getnext_slot(scan, BackwardScanDirection, slot);
	if (found)
	{
		bool		shouldfree;
		HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
		bool		isnull;

		*xmin = HeapTupleHeaderGetRawXmin(tup->t_data);	/* as the xmin column */
		if (has_ts)
		{
			Datum		d = heap_getattr(tup, index->rd_index->indkey.values[2],
										 RelationGetDescr(rel), &isnull);

			*ts = isnull ? INT64_MIN : fsmml_ts_to_unix(DatumGetTimestampTz(d));
		}
		if (shouldfree)
			heap_freetuple(tup);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

LiveSeries *
fsmml_live_series_lock(const char *symbol, const char *timeframe, int64 *last_ts)
{
	TransactionId xmin;
	int64		ts;
	LiveSeries *e;

	/* the newest feature row, when the series has a saved state at all */
	if (!newest_row("fsmml", "feature_state", symbol, timeframe, false, &ts, &xmin) ||
		!newest_row("trading", "features", symbol, timeframe, true, &ts, &xmin))
		return NULL;
	*last_ts = ts;

	e = series_entry(symbol, timeframe);
	if (e->valid && e->xmin == xmin && e->last_ts == ts)
		return e;

	/* Someone else moved the series on (or our own change rolled back): reload. */
	e->valid = false;
	if (!reload_state(e, symbol, timeframe, ts))
		return NULL;
	e->has_prev = fsmml_live_read_features(symbol, timeframe, ts, e->prev);
	e->xmin = xmin;
	e->last_ts = ts;
	e->valid = true;
	return e;
}

const double *
fsmml_live_series_prev(LiveSeries *s)
{
	if (!s->has_prev)
		for (int j = 0; j < FS_NFEATURES; j++)
			s->prev[j] = NAN;
	return s->prev;
}

/* kernel columns, quoted, comma-separated */
static char *
kernel_columns(const char *prefix)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < FS_NFEATURES; i++)
		appendStringInfo(&s, "%s%s%s", i ? ", " : "", prefix,
						 quote_identifier(fs_feature_catalog[i].name));
	return s.data;
}

bool
fsmml_live_read_features(const char *symbol, const char *timeframe, int64 ts, double *out)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];

	if (plan == NULL)
	{
		char	   *sql = psprintf("SELECT %s FROM trading.features WHERE symbol = $1 "
								   "AND timeframe = $2 AND \"timestamp\" = $3",
								   kernel_columns(""));

		fsmml_spi_keep_plan(&plan, sql, 3, types);
	}
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(ts));
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.features failed");
	if (SPI_processed == 0)
		return false;
	for (int j = 0; j < FS_NFEATURES; j++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, j + 1, &isnull);

		out[j] = isnull ? NAN : DatumGetFloat8(d);
	}
	return true;
}

const char *
fsmml_live_feature_row_sql(void)
{
	static char *sql = NULL;

	if (sql == NULL)
	{
		StringInfoData s;

		initStringInfo(&s);
		appendStringInfo(&s, "INSERT INTO trading.features (symbol, timeframe, \"timestamp\", %s) "
						 "VALUES ($1, $2, $3", kernel_columns(""));
		for (int i = 0; i < FS_NFEATURES; i++)
			appendStringInfo(&s, ", $%d", i + 4);
		appendStringInfoString(&s, ") ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET ");
		for (int i = 0; i < FS_NFEATURES; i++)
		{
			const char *col = quote_identifier(fs_feature_catalog[i].name);

			appendStringInfo(&s, "%s%s = EXCLUDED.%s", i ? ", " : "", col, col);
		}
		sql = MemoryContextStrdup(TopMemoryContext, s.data);
		pfree(s.data);
	}
	return sql;
}

void
fsmml_live_feature_args(const double *f, Datum *values, char *nulls)
{
	for (int j = 0; j < FS_NFEATURES; j++)
	{
		bool		null = !isfinite(f[j]);

		nulls[j] = null ? 'n' : ' ';
		values[j] = Float8GetDatum(null ? 0 : f[j]);
	}
}

/* The plan of fsmml_live_feature_row_sql. */
static SPIPlanPtr
feature_row_plan(void)
{
	static SPIPlanPtr plan = NULL;

	if (plan == NULL)
	{
		Oid			types[3 + FS_NFEATURES];

		types[0] = TEXTOID;
		types[1] = TEXTOID;
		types[2] = TIMESTAMPTZOID;
		for (int i = 0; i < FS_NFEATURES; i++)
			types[3 + i] = FLOAT8OID;
		fsmml_spi_keep_plan(&plan, fsmml_live_feature_row_sql(), 3 + FS_NFEATURES, types);
	}
	return plan;
}

/* Writes the state to fsmml.feature_state. */
static void
save_state(LiveSeries *s, Datum symbol, Datum timeframe)
{
	static SPIPlanPtr save_plan = NULL;
	Oid			stypes[5] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, BYTEAOID};
	Datum		svalues[5];
	bytea	   *blob = palloc(VARHDRSZ + fs_state_size());

	SET_VARSIZE(blob, VARHDRSZ + fs_state_size());
	memcpy(VARDATA(blob), s->st, fs_state_size());
	svalues[0] = symbol;
	svalues[1] = timeframe;
	svalues[2] = TimestampTzGetDatum(fsmml_unix_to_ts(fs_state_last_ts(s->st)));
	svalues[3] = Int64GetDatum(fs_state_nbars(s->st));
	svalues[4] = PointerGetDatum(blob);
	fsmml_spi_keep_plan(&save_plan, "UPDATE fsmml.feature_state SET last_ts = $3, nbars = $4, state = $5, "
						"updated_at = now() WHERE symbol = $1 AND timeframe = $2", 5, stypes);
	if (SPI_execute_plan(save_plan, svalues, NULL, false, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "saving fsmml.feature_state failed");
	pfree(blob);
	s->unsaved = 0;
}

void
fsmml_live_series_advance(LiveSeries *s, const char *symbol, const char *timeframe,
						  const FsBar *bars, int n, double *out, bool write)
{
	SPIPlanPtr	fplan = write ? feature_row_plan() : NULL;
	Datum		values[3 + FS_NFEATURES];
	char		nulls[3 + FS_NFEATURES];

	s->valid = false;			/* until written: an ERROR leaves it reloaded next time */
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	for (int i = 0; i < n; i++)
	{
		double	   *f = out + (int64) i * FS_NFEATURES;
		FsStatus	status = fs_step(s->st, &bars[i], f);

		if (status != FS_OK)
			fsmml_report_bad_bar(symbol, timeframe, &bars[i], status);
		CHECK_FOR_INTERRUPTS();
		if (!write)
			continue;
		values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(bars[i].ts));
		fsmml_live_feature_args(f, values + 3, nulls + 3);
		nulls[0] = nulls[1] = nulls[2] = ' ';
		if (SPI_execute_plan(fplan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing trading.features failed");
	}
	s->unsaved += n;
	if (s->unsaved >= fsmml_live_state_interval)
		save_state(s, values[0], values[1]);
	/* the newest feature row is ours: its xmin is this (sub)transaction's id */
	s->xmin = GetCurrentTransactionId();
	s->last_ts = fs_state_last_ts(s->st);
	memcpy(s->prev, out + (int64) (n - 1) * FS_NFEATURES, sizeof(double) * FS_NFEATURES);
	s->has_prev = true;
	s->valid = s != &scratch;
}
