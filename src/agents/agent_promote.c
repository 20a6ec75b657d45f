/*
 * agent_promote.c — the non-direction agents' promotion metric, champion
 * and challenger re-scored on the same rows: the challenger's hold-out.
 *
 * Both versions are loaded from their blobs and run through their agent's
 * predict (what fsmml_score writes) on the bars of the challenger's
 * hold-out rows; the kind's metric is then computed from those predictions
 * with the same truth for both, over the rows where both predict:
 *   regime      autocorr_spread: lag-1 autocorrelation of next-bar returns
 *               inside trend minus inside mean_revert (as training's)
 *   volatility  pinball_mean over the median and the highest quantile, the
 *               two the payload carries (sigma, sl / sl_mult), against the
 *               challenger's |H-bar move|
 *   state       macro_f1 of next_state against the challenger's rule state
 *               of the next bar
 * Execution and ensemble agents have no metric: the newest version wins.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "agent.h"
#include "fsmml.h"
#include "statefsm.h"
#include "xgb.h"

/* One version's predictions on bars [from, from + n) of d->bars. */
typedef struct Scored
{
	cJSON	   *params;
	FsAgentRow *rows;
} Scored;

static Scored
score_bars(FsAgentTrainCtx *ctx, const FsAgent *a, int64 version_id, bytea *blob,
		   const char *params_json, List *features, const FsAgentData *d, int64 from, int64 n)
{
	FsAgentModel m = {0};
	FsAgentBatch b;
	FsmmlDataset *ds;
	List	   *cols;
	Scored		s;

	m.agent = a;
	m.version_id = version_id;
	m.version = "";
	m.features = features;
	m.horizon = 1;
	s.params = fsxgb_json_parse_owned(params_json, ctx->cxt);
	a->load(&m, blob, s.params, ctx->cxt);
	/* one row per bar, NULL features as NaN: the agent decides, as when scoring */
	cols = fsmml_resolve_features(ctx->timeframe, list_copy(features));
	ds = fsmml_dataset_build(ctx->symbol, ctx->timeframe, d->bars, from, from + n, cols, 0, false,
							 ctx->cxt);
	if (ds->nrows != n)
		elog(ERROR, "re-scoring %s: " INT64_FORMAT " rows for " INT64_FORMAT " bars",
			 a->name, ds->nrows, n);
	b.bars = d->bars;
	b.row_from = from;
	b.ds = ds;
	b.n = n;
	b.rows = palloc(sizeof(FsAgentRow) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		fsmml_agent_row_init(&b.rows[i]);
		b.rows[i].close = d->bars->bars[from + i].close;
	}
	for (int64 off = 0; off < n; off += 4096)
	{
		CHECK_FOR_INTERRUPTS();
		a->predict(&m, &b, off, Min(off + 4096, n));
	}
	s.rows = b.rows;
	return s;
}

/* Each hold-out row's regime where both sides predicted its bar, else -1 (fsmml_group_autocorr's groups). */
static int *
regime_groups(const FsAgentData *d, const FsAgentRow *rows, int64 from, const bool *both)
{
	int		   *group = palloc(sizeof(int) * Max(d->ds->nrows, 1));

	for (int64 i = 0; i < d->ds->nrows; i++)
	{
		int64		k = d->bar_index[i] - from;

		group[i] = i >= d->holdout_start && both[k] ? rows[k].regime : -1;
	}
	return group;
}

static double
pinball_one(double y, double pred, double q)
{
	return y >= pred ? q * (y - pred) : (1 - q) * (pred - y);
}

/* Median and highest quantile levels of a VolQuantile version's params. */
static void
vol_levels(cJSON *params, double *top, double *sl_mult)
{
	cJSON	   *qs = cJSON_GetObjectItemCaseSensitive(params, "quantiles");
	cJSON	   *x;

	*top = 0.5;
	cJSON_ArrayForEach(x, qs)
		if (cJSON_IsNumber(x) && x->valuedouble > *top)
		*top = x->valuedouble;
	*sl_mult = fsmml_json_get_num(params, "sl_mult");
}

static double
vol_pinball(const FsAgentData *d, const Scored *s, int64 from, const bool *both)
{
	double		top,
				sl_mult,
				sum = 0;
	int64		n = 0;

	vol_levels(s->params, &top, &sl_mult);
	for (int64 i = d->holdout_start; i < d->ds->nrows; i++)
	{
		int64		k = d->bar_index[i] - from;
		const FsAgentRow *r = &s->rows[k];
		double		y = fabs(d->ds->fwd_ret[i]);

		if (!both[k] || !isfinite(y))
			continue;
		sum += pinball_one(y, r->sigma / r->close, 0.5);
		/* sl_dist = sl_mult x the highest quantile's move */
		sum += top > 0.5 && sl_mult > 0 ? pinball_one(y, r->sl_dist / (sl_mult * r->close), top) :
			pinball_one(y, r->sigma / r->close, 0.5);
		n++;
	}
	return n ? sum / (2.0 * n) : NAN;
}

/* Macro F1 of next_state against the challenger's rule state of the next bar. */
static double
state_macro_f1(const FsAgentData *d, const FsAgentRow *rows, const FsAgentRow *truth_rows,
			   int64 from, const bool *both)
{
	int64		confusion[FS_FSM_NSTATES][FS_FSM_NSTATES] = {{0}};
	double		macro = 0;
	int			nmacro = 0;

	for (int64 i = d->holdout_start; i + 1 < d->ds->nrows; i++)
	{
		int64		k = d->bar_index[i] - from;
		int			truth,
					pred;

		if (d->bar_index[i + 1] != d->bar_index[i] + 1 || !both[k])
			continue;
		truth = truth_rows[k + 1].state;
		pred = rows[k].next_state;
		if (truth < 0 || truth >= FS_FSM_NSTATES || pred < 0 || pred >= FS_FSM_NSTATES)
			continue;
		confusion[truth][pred]++;
	}
	for (int s = 0; s < FS_FSM_NSTATES; s++)
	{
		int64		tp = confusion[s][s],
					fp = 0,
					fn = 0;

		for (int u = 0; u < FS_FSM_NSTATES; u++)
			if (u != s)
			{
				fp += confusion[u][s];
				fn += confusion[s][u];
			}
		if (2 * tp + fp + fn > 0)
		{
			macro += 2.0 * tp / (2 * tp + fp + fn);
			nmacro++;
		}
	}
	return nmacro ? macro / nmacro : NAN;
}

/* Does row k carry the kind's prediction? */
static bool
predicted(const char *kind, const FsAgentRow *r)
{
	if (strcmp(kind, "regime") == 0)
		return r->regime >= 0;
	if (strcmp(kind, "volatility") == 0)
		return isfinite(r->sigma) && isfinite(r->sl_dist) && r->close > 0;
	return r->next_state >= 0;
}

bool
fsmml_agent_rescore(FsAgentTrainCtx *ctx, const FsAgentVersion *av, int64 champion_id,
					double *challenger, double *champion, char **evaluated_on)
{
	const FsAgent *a = fsmml_agent_get(ctx->agent);
	const FsAgentData *d = av->data;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bool		isnull;
	Datum	   *elems;
	int			nel;
	List	   *features = NIL;
	bytea	   *blob;
	char	   *params;
	int64		from,
				n;
	Scored		ch,
				cp;
	bool	   *both;

	if (d == NULL || (strcmp(a->kind, "regime") != 0 && strcmp(a->kind, "volatility") != 0 &&
					  strcmp(a->kind, "state") != 0))
		return false;
	values[0] = CStringGetTextDatum(ctx->symbol);
	values[1] = Int64GetDatum(champion_id);
	if (SPI_execute_with_args("SELECT model, params::text, feature_names FROM trading.agentversions "
							  "WHERE symbol = $1 AND id = $2", 2, types, values, NULL, false, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading champion " INT64_FORMAT " failed", champion_id);
	blob = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	params = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nel);
	for (int k = 0; k < nel; k++)
		features = lappend(features, TextDatumGetCString(elems[k]));

	/* the bars of the challenger's hold-out rows, and the one after (the state's truth) */
	from = d->bar_index[d->holdout_start];
	n = Min(d->bar_index[d->ds->nrows - 1] + 2, d->bars->n) - from;
	ch = score_bars(ctx, a, 0, (bytea *) av->v.model, av->v.params, av->v.feature_names, d, from, n);
	cp = score_bars(ctx, a, champion_id, blob, params, features, d, from, n);
	both = palloc(sizeof(bool) * n);
	for (int64 k = 0; k < n; k++)
		both[k] = predicted(a->kind, &ch.rows[k]) && predicted(a->kind, &cp.rows[k]);

	if (strcmp(a->kind, "regime") == 0)
	{
		int		   *gch = regime_groups(d, ch.rows, from, both);
		int		   *gcp = regime_groups(d, cp.rows, from, both);
		int64		h0 = d->holdout_start,
					h1 = d->ds->nrows;

		*challenger = fsmml_group_autocorr(d, gch, h0, h1, FS_REGIME_TREND) -
			fsmml_group_autocorr(d, gch, h0, h1, FS_REGIME_MEAN_REVERT);
		*champion = fsmml_group_autocorr(d, gcp, h0, h1, FS_REGIME_TREND) -
			fsmml_group_autocorr(d, gcp, h0, h1, FS_REGIME_MEAN_REVERT);
	}
	else if (strcmp(a->kind, "volatility") == 0)
	{
		*challenger = vol_pinball(d, &ch, from, both);
		*champion = vol_pinball(d, &cp, from, both);
	}
	else
	{
		*challenger = state_macro_f1(d, ch.rows, ch.rows, from, both);
		*champion = state_macro_f1(d, cp.rows, ch.rows, from, both);
	}
	*evaluated_on = psprintf("%s .. %s", fsmml_iso8601(d->ds->ts[d->holdout_start]),
							 fsmml_iso8601(d->ds->ts[d->ds->nrows - 1]));
	return true;
}
