/*
 * drift_ref.c — what feature drift is measured against: for each input
 * feature of a new version, decile bin edges of its training rows and the
 * share of those rows per bin, stored in fsmml.drift_reference.
 *
 * Bin i of a value x is the number of edges <= x (0 .. nedges), exactly what
 * SQL's width_bucket(x, edges) returns, so fsmml_drift bins live values with
 * the same rule.  Equal deciles (a discrete feature) collapse into one edge.
 * Called by fsmml_train right after the version row is inserted, in owner
 * mode, in the same transaction.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "bgw.h"
#include "dataset.h"

#define NBINS 10

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Number of edges <= x (edges ascending). */
static int
bin_of(const double *edges, int nedges, double x)
{
	int			lo = 0,
				hi = nedges;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (edges[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
append_array(StringInfo s, const double *v, int n)
{
	appendStringInfoChar(s, '{');
	for (int i = 0; i < n; i++)
		appendStringInfo(s, "%s%.17g", i ? "," : "", v[i]);
	appendStringInfoChar(s, '}');
}

void
fsmml_drift_store_reference(const char *symbol, int64 version_id, const FsmmlDataset *ds,
							int64 dev_end)
{
	int64		nrows = Min(dev_end, ds->nrows);
	double	   *vals;
	StringInfoData edges_txt,
				shares_txt;
	Oid			types[6] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID};

	if (nrows <= 0)
		return;
	vals = palloc(sizeof(double) * nrows);
	initStringInfo(&edges_txt);
	initStringInfo(&shares_txt);
	for (int j = 0; j < ds->nfeat; j++)
	{
		int64		n = 0;
		double		edges[NBINS - 1];
		int			nedges = 0;
		double		shares[NBINS];
		Datum		values[6];

		for (int64 i = 0; i < nrows; i++)
		{
			float		x = ds->X[i * ds->nfeat + j];

			if (!isnan(x))
				vals[n++] = x;
		}
		if (n == 0)
			continue;
		qsort(vals, n, sizeof(double), cmp_double);
		for (int k = 1; k < NBINS; k++)
		{
			double		e = vals[(int64) floor((double) k / NBINS * (n - 1))];

			if (nedges == 0 || e > edges[nedges - 1])
				edges[nedges++] = e;
		}
		memset(shares, 0, sizeof(shares));
		for (int64 i = 0; i < n; i++)
			shares[bin_of(edges, nedges, vals[i])] += 1.0 / n;

		resetStringInfo(&edges_txt);
		resetStringInfo(&shares_txt);
		append_array(&edges_txt, edges, nedges);
		append_array(&shares_txt, shares, nedges + 1);
		values[0] = CStringGetTextDatum(symbol);
		values[1] = Int64GetDatum(version_id);
		values[2] = CStringGetTextDatum(ds->names[j]);
		values[3] = CStringGetTextDatum(edges_txt.data);
		values[4] = CStringGetTextDatum(shares_txt.data);
		values[5] = Int64GetDatum(n);
		if (SPI_execute_with_args("INSERT INTO fsmml.drift_reference (symbol, version_id, feature,"
								  " edges, expected, rows) VALUES ($1, $2, $3, $4::float8[], $5::float8[], $6)",
								  6, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing the drift reference failed");
	}
	pfree(vals);
}
