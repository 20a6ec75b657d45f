/*
 * series_write.c — fsmml_score's rows keyed by (symbol, timeframe,
 * "timestamp"): trading.agentsignals, state_history and transitions.
 *
 * A batch is merged with the rows already stored for its bars (one index
 * range scan): equal rows are left alone, new rows go straight into the
 * table's heap and indexes (bulk_insert.c) when INSERT would make them
 * exactly so, and everything else — changed rows, or new ones when the
 * table's shape needs the executor — goes through one INSERT ... ON
 * CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM over unnest()ed arrays, so
 * a re-run writes no row version.  Writers of a series' rows hold the
 * series-signals lock (locks.h): rows found missing stay missing until the
 * batch is written.
 *
 * "Equal" is byte equality of each column (varlenas without their header
 * form); it is stricter than IS DISTINCT FROM, and a row it calls changed
 * goes through the upsert, whose WHERE decides.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "bulk_insert.h"
#include "fsmml.h"
#include "serve.h"

#define NKEYS 3					/* symbol, timeframe, "timestamp" */

struct SeriesWriter
{
	const SeriesTable *spec;
	SPIPlanPtr	existing;
	SPIPlanPtr	upsert;
	Datum	   *args;			/* of upsert: symbol, timeframe, ts[], one per column */
	Oid			relid;
	bool		direct;			/* new rows straight into heap and indexes */
	Bitmapset  *given;			/* attribute numbers written */
	int			natts;
	int			attpos[NKEYS + SERIES_MAXCOLS]; /* 0-based, keys first */
	Datum	   *values;			/* a row in the table's layout */
	bool	   *nulls;
	int16		typlen[SERIES_MAXCOLS];
	bool		typbyval[SERIES_MAXCOLS];
	char		typalign[SERIES_MAXCOLS];
	int64		inserted;
	int64		upserted;
	int64		unchanged;
};

/* Where the direct path writes each column; false when the table is not the expected shape. */
static bool
open_direct(SeriesWriter *w)
{
	const SeriesTable *s = w->spec;
	Relation	rel = table_open(w->relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = rel->rd_rel->relkind == RELKIND_RELATION;

	w->natts = desc->natts;
	for (int c = 0; ok && c < NKEYS + s->ncols; c++)
	{
		const char *name = c == 0 ? "symbol" : c == 1 ? "timeframe" : c == 2 ? "timestamp" : s->cols[c - NKEYS].name;
		Oid			type = c < 2 ? TEXTOID : c == 2 ? TIMESTAMPTZOID : s->cols[c - NKEYS].type;

		w->attpos[c] = -1;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0 &&
				att->atttypid == type)
				w->attpos[c] = a;
		}
		ok = w->attpos[c] >= 0;	/* else INSERT will say what is wrong */
		if (ok)
			w->given = bms_add_member(w->given, w->attpos[c] + 1);
	}
	table_close(rel, AccessShareLock);
	return ok && fsmml_bulk_insert_possible(w->relid, InvalidOid, w->given);
}

SeriesWriter *
fsmml_series_writer_open(const SeriesTable *s, const char *symbol, const char *timeframe,
						 const Datum *constvals)
{
	SeriesWriter *w = palloc0(sizeof(SeriesWriter));
	StringInfoData q;
	Oid			types[NKEYS + SERIES_MAXCOLS];
	int			c;

	Assert(s->ncols <= SERIES_MAXCOLS);
	w->spec = s;
	w->relid = RangeVarGetRelid(makeRangeVar("trading", (char *) s->table, -1), RowExclusiveLock,
								false);

	/* the stored rows of a range of bars, in timestamp order */
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT \"timestamp\"");
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, ", %s", s->cols[c].name);
	appendStringInfo(&q, " FROM trading.%s WHERE symbol = $1 AND timeframe = $2 "
					 "AND \"timestamp\" >= $3 AND \"timestamp\" <= $4 ORDER BY \"timestamp\"",
					 s->table);
	types[0] = types[1] = TEXTOID;
	types[2] = types[3] = TIMESTAMPTZOID;
	w->existing = fsmml_spi_prepare_opts(q.data, 4, types, CURSOR_OPT_CUSTOM_PLAN);

	/* the upsert: $1 symbol, $2 timeframe, $3 timestamps, then each column (constants as scalars) */
	resetStringInfo(&q);
	appendStringInfo(&q, "INSERT INTO trading.%s AS s (symbol, timeframe, \"timestamp\"", s->table);
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, ", %s", s->cols[c].name);
	appendStringInfoString(&q, ") SELECT $1, $2, u.t");
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, s->cols[c].constant ? ", $%d" : ", u.c%d",
						 s->cols[c].constant ? NKEYS + 1 + c : c);
	appendStringInfoString(&q, " FROM unnest($3");
	for (c = 0; c < s->ncols; c++)
		if (!s->cols[c].constant)
			appendStringInfo(&q, ", $%d", NKEYS + 1 + c);
	appendStringInfoString(&q, ") AS u(t");
	for (c = 0; c < s->ncols; c++)
		if (!s->cols[c].constant)
			appendStringInfo(&q, ", c%d", c);
	appendStringInfoString(&q, ") ON CONFLICT (symbol, timeframe, \"timestamp\") DO UPDATE SET ");
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, "%s%s = EXCLUDED.%s", c ? ", " : "", s->cols[c].name, s->cols[c].name);
	appendStringInfoString(&q, " WHERE (");
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, "%ss.%s", c ? ", " : "", s->cols[c].name);
	appendStringInfoString(&q, ") IS DISTINCT FROM (");
	for (c = 0; c < s->ncols; c++)
		appendStringInfo(&q, "%sEXCLUDED.%s", c ? ", " : "", s->cols[c].name);
	appendStringInfoChar(&q, ')');
	types[2] = TIMESTAMPTZARRAYOID;
	for (c = 0; c < s->ncols; c++)
	{
		types[NKEYS + c] = s->cols[c].constant ? s->cols[c].type : get_array_type(s->cols[c].type);
		get_typlenbyvalalign(s->cols[c].type, &w->typlen[c], &w->typbyval[c], &w->typalign[c]);
	}
	w->upsert = fsmml_spi_prepare(q.data, NKEYS + s->ncols, types);
	pfree(q.data);

	w->args = palloc0(sizeof(Datum) * (NKEYS + s->ncols));
	w->args[0] = CStringGetTextDatum(symbol);
	w->args[1] = CStringGetTextDatum(timeframe);
	for (c = 0; c < s->ncols; c++)
		if (s->cols[c].constant)
			w->args[NKEYS + c] = constvals[c];

	w->direct = open_direct(w);
	if (w->direct)
	{
		w->values = palloc0(sizeof(Datum) * w->natts);
		w->nulls = palloc(sizeof(bool) * w->natts);
		memset(w->nulls, true, sizeof(bool) * w->natts);
		w->values[w->attpos[0]] = w->args[0];
		w->values[w->attpos[1]] = w->args[1];
		w->nulls[w->attpos[0]] = w->nulls[w->attpos[1]] = w->nulls[w->attpos[2]] = false;
		for (c = 0; c < s->ncols; c++)
			if (s->cols[c].constant)
			{
				w->values[w->attpos[NKEYS + c]] = constvals[c];
				w->nulls[w->attpos[NKEYS + c]] = false;
			}
	}
	return w;
}

static bool
datum_same(Datum a, bool anull, Datum b, bool bnull, int16 typlen, bool byval)
{
	if (anull || bnull)
		return anull == bnull;
	if (byval)
		return a == b;
	if (typlen == -1)
	{
		struct varlena *x = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(a));
		struct varlena *y = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(b));

		return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
			memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
	}
	return datumIsEqual(a, b, byval, typlen);
}

/* The upsert of rows sel[0..n) of the batch. */
static void
upsert(SeriesWriter *w, const int *sel, int n, const Datum *ts, Datum *const *vals,
	   bool *const *nulls)
{
	const SeriesTable *s = w->spec;
	Datum	   *d = palloc(sizeof(Datum) * n);
	bool	   *dn = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			rc;

	for (int k = 0; k < n; k++)
		d[k] = ts[sel[k]];
	w->args[2] = PointerGetDatum(construct_array(d, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
												 TYPALIGN_DOUBLE));
	for (int c = 0; c < s->ncols; c++)
	{
		if (s->cols[c].constant)
			continue;
		for (int k = 0; k < n; k++)
		{
			d[k] = vals[c][sel[k]];
			dn[k] = nulls[c] ? nulls[c][sel[k]] : false;
		}
		w->args[NKEYS + c] = PointerGetDatum(construct_md_array(d, dn, 1, dims, lbs,
																 s->cols[c].type, w->typlen[c],
																 w->typbyval[c], w->typalign[c]));
	}
	rc = SPI_execute_plan(w->upsert, w->args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing trading.%s failed: %s", s->table, SPI_result_code_string(rc));
	w->upserted += n;
}

/*
 * Rows [0, n) of a batch, ascending by timestamp: ts[k], and for each
 * column c that is not constant vals[c][k] (nulls[c] NULL: none null).
 */
void
fsmml_series_write(SeriesWriter *w, int n, const Datum *ts, Datum *const *vals,
				   bool *const *nulls)
{
	const SeriesTable *s = w->spec;
	Datum		range[4];
	int			rc;
	uint64		nexist;
	uint64		e = 0;
	int		   *ins = palloc(sizeof(int) * Max(n, 1));
	int		   *chg = palloc(sizeof(int) * Max(n, 1));
	int			nins = 0;
	int			nchg = 0;
	double		cpu0 = fsmml_cpu_ms();

	if (n == 0)
		return;
	range[0] = w->args[0];
	range[1] = w->args[1];
	range[2] = ts[0];
	range[3] = ts[n - 1];
	rc = SPI_execute_plan(w->existing, range, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading trading.%s failed: %s", s->table, SPI_result_code_string(rc));
	nexist = SPI_processed;

	/* Merge: both sides ascend by timestamp. */
	for (int k = 0; k < n; k++)
	{
		TimestampTz tk = DatumGetTimestampTz(ts[k]);
		TimestampTz te = 0;
		bool		isnull;
		HeapTuple	tup;
		bool		same = true;

		while (e < nexist &&
			   (te = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[e], SPI_tuptable->tupdesc,
													   1, &isnull))) < tk)
			e++;
		if (e >= nexist || te != tk)
		{
			ins[nins++] = k;
			continue;
		}
		tup = SPI_tuptable->vals[e++];
		for (int c = 0; same && c < s->ncols; c++)
		{
			Datum		stored = SPI_getbinval(tup, SPI_tuptable->tupdesc, c + 2, &isnull);

			if (s->cols[c].constant)
				same = datum_same(stored, isnull, w->args[NKEYS + c], false, w->typlen[c],
								  w->typbyval[c]);
			else
				same = datum_same(stored, isnull, vals[c][k], nulls[c] ? nulls[c][k] : false,
								  w->typlen[c], w->typbyval[c]);
		}
		if (same)
			w->unchanged++;
		else
			chg[nchg++] = k;
	}
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);

	if (nins > 0 && w->direct)
	{
		FsmmlBulkInsert *bi = fsmml_bulk_insert_begin(w->relid, InvalidOid, w->given);

		for (int i = 0; i < nins; i++)
		{
			int			k = ins[i];

			w->values[w->attpos[2]] = ts[k];
			for (int c = 0; c < s->ncols; c++)
			{
				int			a = w->attpos[NKEYS + c];

				if (s->cols[c].constant)
					continue;
				w->values[a] = vals[c][k];
				w->nulls[a] = nulls[c] ? nulls[c][k] : false;
			}
			fsmml_bulk_insert_row(bi, w->values, w->nulls);
		}
		fsmml_bulk_insert_end(bi);
		w->inserted += nins;
		nins = 0;
	}
	/* changed rows, and new ones the direct path could not take, in timestamp order */
	if (nins > 0)
	{
		int		   *all = palloc(sizeof(int) * (nins + nchg));
		int			i = 0,
					j = 0,
					m = 0;

		while (i < nins || j < nchg)
			all[m++] = (j >= nchg || (i < nins && ins[i] < chg[j])) ? ins[i++] : chg[j++];
		upsert(w, all, m, ts, vals, nulls);
	}
	else if (nchg > 0)
		upsert(w, chg, nchg, ts, vals, nulls);
	fsmml_score_write_cpu_ms += fsmml_cpu_ms() - cpu0;
}

void
fsmml_series_writer_stats(const SeriesWriter *w, int64 *inserted, int64 *upserted,
						  int64 *unchanged)
{
	*inserted = w->inserted;
	*upserted = w->upserted;
	*unchanged = w->unchanged;
}
