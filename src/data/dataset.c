/*
 * dataset.c — the rows a model trains or scores on.
 *
 * fsmml's own features come from the kernel in memory (the same numbers
 * fsmml_build_features writes, without the round trip through a table);
 * columns users added to trading.features are read from it and joined on
 * the bar's timestamp.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "dataset.h"
#include "fsmml.h"
#include "fsmml_features.h"

#define KERNEL_CHUNK 16384

/* Timeframe step of a multi-timeframe feature from its prefix; 0 for others. */
static int64
feature_htf_step(const char *name)
{
	static const struct
	{
		const char *prefix;
		const char *tf;
	}			htf[] = {{"m5_", "5m"}, {"m15_", "15m"}, {"h1_", "1h"}, {"h4_", "4h"}, {"d1_", "1d"}};

	for (int i = 0; i < lengthof(htf); i++)
		if (strncmp(name, htf[i].prefix, strlen(htf[i].prefix)) == 0)
			return fsmml_timeframe_usec(htf[i].tf);
	return 0;
}

static bool
kernel_feature_defined(int idx, int64 step)
{
	int64		htf = feature_htf_step(fs_feature_catalog[idx].name);

	return htf == 0 || htf > step;
}

/* Numeric columns users added to trading.features, in column order. */
static List *
user_feature_columns(void)
{
	List	   *cols = NIL;
	int			rc;

	rc = SPI_execute("SELECT attname::text FROM pg_catalog.pg_attribute "
					 "WHERE attrelid = 'trading.features'::regclass AND attnum > 0 "
					 "AND NOT attisdropped AND atttypid IN "
					 "('float8'::regtype, 'float4'::regtype, 'numeric'::regtype, "
					 "'int2'::regtype, 'int4'::regtype, 'int8'::regtype) "
					 "ORDER BY attnum", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "listing trading.features columns failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (fs_feature_index(name) < 0)
			cols = lappend(cols, pstrdup(name));
	}
	return cols;
}

List *
fsmml_resolve_features(const char *timeframe, List *requested)
{
	int64		step = fsmml_timeframe_usec(timeframe);
	List	   *user = user_feature_columns();
	List	   *out = NIL;
	ListCell   *lc;

	if (requested == NIL)
	{
		for (int i = 0; i < FS_NFEATURES; i++)
			if (kernel_feature_defined(i, step))
				out = lappend(out, pstrdup(fs_feature_catalog[i].name));
		foreach(lc, user)
			out = lappend(out, lfirst(lc));
		return out;
	}

	foreach(lc, requested)
	{
		const char *name = lfirst(lc);
		int			idx = fs_feature_index(name);
		ListCell   *dup;

		foreach(dup, out)
			if (strcmp(lfirst(dup), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is listed twice in params.features", name)));
		if (idx >= 0 && !kernel_feature_defined(idx, step))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature \"%s\" is not defined on %s bars", name, timeframe),
					 errhint("Multi-timeframe snapshots exist only for timeframes longer than the series'.")));
		if (idx < 0)
		{
			bool		found = false;
			ListCell   *u;

			foreach(u, user)
				if (strcmp(lfirst(u), name) == 0)
					found = true;
			if (!found)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("unknown feature \"%s\"", name),
						 errhint("Use a name from fsmml.feature_catalog, or add a numeric column to trading.features.")));
		}
		out = lappend(out, pstrdup(name));
	}
	return out;
}

/*
 * NULL share of user columns over the window's bars: a bar without a row in
 * trading.features counts as NULL too.  nulls[j] is set for user columns only.
 */
static void
count_user_nulls(const char *symbol, const char *timeframe, List *features,
				 const int *kidx, int64 ts_from, int64 ts_to, int64 nrows, int64 *nulls)
{
	StringInfoData sql;
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	int			nfeat = list_length(features);
	int			col = 0;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT 0");
	for (int j = 0; j < nfeat; j++)
		if (kidx[j] < 0)
			appendStringInfo(&sql, ", count(%s)", quote_identifier(list_nth(features, j)));
	appendStringInfoString(&sql, " FROM trading.features WHERE symbol = $1 AND timeframe = $2 "
						   "AND \"timestamp\" >= $3 AND \"timestamp\" <= $4");
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(ts_from));
	values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(ts_to));
	if (SPI_execute_with_args(sql.data, 4, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "counting user feature values failed");
	for (int j = 0; j < nfeat; j++)
		if (kidx[j] < 0)
		{
			bool		isnull;
			int64		cnt = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, col + 2, &isnull));

			nulls[j] = Max(nrows - cnt, 0);
			col++;
		}
}

List *
fsmml_prune_null_features(const char *symbol, const char *timeframe, const FsmmlBars *bars,
						  int64 row_from, List *features, int horizon)
{
	int			nfeat = list_length(features);
	int64		row_to = bars->n - horizon;	/* rows with a label */
	int64		nrows = row_to - row_from;
	int		   *kidx = palloc(sizeof(int) * nfeat);
	int64	   *nulls = palloc0(sizeof(int64) * nfeat);
	bool		has_user = false;
	List	   *kept = NIL;
	StringInfoData dropped;
	FsState    *st;
	double	   *out;

	if (nfeat == 0 || nrows <= 0)
		return features;
	for (int j = 0; j < nfeat; j++)
	{
		kidx[j] = fs_feature_index(list_nth(features, j));
		has_user |= kidx[j] < 0;
	}

	/* Kernel features: one pass of the kernel, counting what the dataset would drop. */
	st = fsmml_state_new(fsmml_timeframe_usec(timeframe));
	out = palloc(sizeof(double) * FS_NFEATURES * KERNEL_CHUNK);
	fsmml_state_run(st, bars, 0, row_from, NULL, symbol, timeframe);
	for (int64 c = row_from; c < row_to; c += KERNEL_CHUNK)
	{
		int64		m = Min(KERNEL_CHUNK, row_to - c);

		fsmml_state_run(st, bars, c, c + m, out, symbol, timeframe);
		for (int64 r = 0; r < m; r++)
			for (int j = 0; j < nfeat; j++)
				if (kidx[j] >= 0)
				{
					double		v = out[r * FS_NFEATURES + kidx[j]];

					nulls[j] += !isfinite(v) || !isfinite((float) v);
				}
	}
	if (has_user)
		count_user_nulls(symbol, timeframe, features, kidx, bars->bars[row_from].ts,
						 bars->bars[row_to - 1].ts, nrows, nulls);

	/* NULL on more than half of the window: it would cost more rows than it gives. */
	initStringInfo(&dropped);
	for (int j = 0; j < nfeat; j++)
	{
		if (nulls[j] * 2 > nrows)
			appendStringInfo(&dropped, "%s%s (%d%%)", dropped.len ? ", " : "",
							 (char *) list_nth(features, j),
							 (int) floor(100.0 * nulls[j] / nrows + 0.5));
		else
			kept = lappend(kept, list_nth(features, j));
	}
	if (dropped.len > 0)
		ereport(NOTICE,
				(errmsg("features left out of the default choice, NULL on most of the window: %s",
						dropped.data),
				 errdetail("Each is NULL on more than half of the " INT64_FORMAT " labelled rows of the training window (warm-up, zero volume or flat prices).",
						   nrows),
				 errhint("Load more history, or name features in params.features to force them.")));
	pfree(out);
	pfree(st);
	return kept;
}

/*
 * Fills columns of user features (kernel_idx < 0) for rows whose bar
 * timestamps are ts[0..n), which ascend; rows without a features row get NaN.
 */
static void
fill_user_columns(const char *symbol, const char *timeframe, List *features,
				  const int *kernel_idx, const int64 *ts, int64 n, float *X)
{
	StringInfoData sql;
	int			nfeat = list_length(features);
	int			nuser = 0;
	int		   *col = palloc(sizeof(int) * nfeat);
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	Portal		portal;
	int64		row = 0;

	if (n == 0)
		return;
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT \"timestamp\"");
	for (int j = 0; j < nfeat; j++)
		if (kernel_idx[j] < 0)
		{
			appendStringInfo(&sql, ", %s::float8",
							 quote_identifier(list_nth(features, j)));
			col[nuser++] = j;
		}
	if (nuser == 0)
		return;
	for (int64 r = 0; r < n; r++)
		for (int u = 0; u < nuser; u++)
			X[r * nfeat + col[u]] = NAN;
	appendStringInfoString(&sql, " FROM trading.features WHERE symbol = $1 AND timeframe = $2 "
						   "AND \"timestamp\" >= $3 AND \"timestamp\" <= $4 ORDER BY \"timestamp\"");
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[0]));
	values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(ts[n - 1]));
	portal = SPI_cursor_open_with_args(NULL, sql.data, 4, types, values, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			int64		t = fsmml_ts_to_unix(DatumGetTimestampTz(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull)));

			while (row < n && ts[row] < t)
				row++;
			if (row == n)
				break;
			if (ts[row] != t)
				continue;
			for (int u = 0; u < nuser; u++)
			{
				Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, u + 2, &isnull);

				X[row * nfeat + col[u]] = isnull ? NAN : (float) DatumGetFloat8(d);
			}
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

FsmmlDataset *
fsmml_dataset_build(const char *symbol, const char *timeframe, const FsmmlBars *bars,
					int64 row_from, int64 row_to, List *features, int horizon,
					bool drop_null, MemoryContext mcxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(mcxt);
	FsmmlDataset *ds = palloc0(sizeof(FsmmlDataset));
	int			nfeat = list_length(features);
	int		   *kidx = palloc(sizeof(int) * nfeat);
	bool		has_user = false;
	int64		cap = Max(row_to - row_from, 0);
	FsState    *st = fsmml_state_new(fsmml_timeframe_usec(timeframe));
	double	   *out = palloc(sizeof(double) * FS_NFEATURES * KERNEL_CHUNK);
	int64		n = 0;

	ds->nfeat = nfeat;
	ds->names = palloc(sizeof(char *) * nfeat);
	for (int j = 0; j < nfeat; j++)
	{
		ds->names[j] = pstrdup(list_nth(features, j));
		kidx[j] = fs_feature_index(ds->names[j]);
		has_user |= kidx[j] < 0;
	}
	ds->X = MemoryContextAllocHuge(mcxt, sizeof(float) * Max(cap, 1) * nfeat);
	ds->ts = MemoryContextAllocHuge(mcxt, sizeof(int64) * Max(cap, 1));
	if (horizon > 0)
	{
		ds->y = MemoryContextAllocHuge(mcxt, sizeof(float) * Max(cap, 1));
		ds->fwd_ret = MemoryContextAllocHuge(mcxt, sizeof(double) * Max(cap, 1));
	}

	/* Warm the kernel up on every bar before the window. */
	fsmml_state_run(st, bars, 0, row_from, NULL, symbol, timeframe);

	for (int64 c = row_from; c < row_to; c += KERNEL_CHUNK)
	{
		int64		m = Min(KERNEL_CHUNK, row_to - c);

		fsmml_state_run(st, bars, c, c + m, out, symbol, timeframe);
		for (int64 k = 0; k < m; k++)
		{
			int64		i = c + k;
			const double *f = out + k * FS_NFEATURES;
			float	   *x = ds->X + n * nfeat;
			bool		has_null = false;

			if (horizon > 0 && i + horizon >= bars->n)
			{
				ds->dropped_unlabeled++;
				continue;
			}
			for (int j = 0; j < nfeat; j++)
			{
				double		v = kidx[j] >= 0 ? f[kidx[j]] : 0.0;

				x[j] = (float) v;
				has_null |= !isfinite(v) || !isfinite(x[j]);
			}
			/* User columns are checked for NULL after they are joined in. */
			if (drop_null && has_null)
			{
				ds->dropped_null++;
				continue;
			}
			ds->ts[n] = bars->bars[i].ts;
			if (horizon > 0)
			{
				double		c0 = bars->bars[i].close;
				double		c1 = bars->bars[i + horizon].close;

				ds->y[n] = c1 > c0 ? 1.0f : 0.0f;
				ds->fwd_ret[n] = c1 / c0 - 1.0;
			}
			n++;
		}
	}

	if (has_user)
	{
		fill_user_columns(symbol, timeframe, features, kidx, ds->ts, n, ds->X);
		if (drop_null)
		{
			int64		w = 0;

			for (int64 r = 0; r < n; r++)
			{
				bool		has_null = false;

				for (int j = 0; j < nfeat; j++)
					has_null |= isnan(ds->X[r * nfeat + j]);
				if (has_null)
				{
					ds->dropped_null++;
					continue;
				}
				if (w != r)
				{
					memmove(ds->X + w * nfeat, ds->X + r * nfeat, sizeof(float) * nfeat);
					ds->ts[w] = ds->ts[r];
					if (horizon > 0)
					{
						ds->y[w] = ds->y[r];
						ds->fwd_ret[w] = ds->fwd_ret[r];
					}
				}
				w++;
			}
			n = w;
		}
	}
	ds->nrows = n;
	MemoryContextSwitchTo(oldcxt);
	return ds;
}

/*
 * col[j]: the column of src holding features[j]; false when src lacks one.
 * Rows of fsmml_dataset_build without labels or dropping are the same
 * whatever other columns are built, so these columns of src's rows are
 * what building features would give (fsmml_score builds the union of every
 * champion's columns once).
 */
bool
fsmml_dataset_columns(const FsmmlDataset *src, List *features, int *col)
{
	Assert(src->y == NULL && src->dropped_null == 0 && src->dropped_unlabeled == 0);
	for (int j = 0; j < list_length(features); j++)
	{
		col[j] = -1;
		for (int k = 0; k < src->nfeat && col[j] < 0; k++)
			if (strcmp(src->names[k], list_nth(features, j)) == 0)
				col[j] = k;
		if (col[j] < 0)
			return false;
	}
	return true;
}
