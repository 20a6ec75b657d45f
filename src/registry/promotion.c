/*
 * promotion.c — champion vs challenger on the same hold-out.
 *
 * The rule (tolerances in fsmml.settings):
 *   pnl(challenger)     >  pnl(champion) + promote_min_pnl_gain
 *   maxdd(challenger)   <= maxdd(champion) * (1 + promote_max_dd_worsen)
 *   calmar(challenger)  >= calmar(champion) - |calmar(champion)| * promote_max_calmar_worsen
 * where pnl is the simulator's total return.  Both sides run through the
 * code of fsmml_compare (bt_run_probs: ExecRules, then the bar simulator)
 * over the same bars, the challenger's hold-out, with the challenger's
 * ExecRules parameters and fees: the champion is re-scored on those bars.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "dataset.h"
#include "fsmml.h"
#include "promotion.h"
#include "registry.h"
#include "train.h"
#include "xgb.h"

typedef struct PromotionRules
{
	double		min_pnl_gain;
	double		max_dd_worsen;
	double		max_calmar_worsen;
} PromotionRules;

static PromotionRules
read_rules(void)
{
	PromotionRules r = {0, 0.10, 0.10};

	if (SPI_execute("SELECT name, value FROM fsmml.settings", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading fsmml.settings failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		double		v = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		if (strcmp(name, "promote_min_pnl_gain") == 0)
			r.min_pnl_gain = v;
		else if (strcmp(name, "promote_max_dd_worsen") == 0)
			r.max_dd_worsen = v;
		else if (strcmp(name, "promote_max_calmar_worsen") == 0)
			r.max_calmar_worsen = v;
	}
	return r;
}

/* The champion's model and feature list (a fresh snapshot: read after the instance lock). */
static FsXgbBooster *
load_champion(const char *symbol, int64 id, List **features, MemoryContext cxt)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bool		isnull;
	Datum		d;
	Datum	   *elems;
	int			n;
	FsXgbBooster *b;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(id);
	if (SPI_execute_with_args("SELECT model, feature_names FROM trading.agentversions "
							  "WHERE symbol = $1 AND id = $2", 2, types, values, NULL, false, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading champion " INT64_FORMAT " failed", id);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	b = fsxgb_booster_load_bytea(cxt, DatumGetByteaPP(d));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	*features = NIL;
	for (int i = 0; i < n; i++)
		*features = lappend(*features, TextDatumGetCString(elems[i]));
	return b;
}

/* The champion re-scored on the bars of the challenger's hold-out, through the same simulation. */
static void
champion_backtest(const char *symbol, const char *timeframe, int64 champion_id,
				  const FsmmlBars *bars, const FsmmlHoldoutBt *ch, MemoryContext cxt, BtRun *run)
{
	List	   *features;
	FsXgbBooster *b = load_champion(symbol, champion_id, &features, cxt);
	FsmmlDataset *ds;
	float	   *pf;
	double	   *prob = palloc(sizeof(double) * ch->n);

	features = fsmml_resolve_features(timeframe, features);
	/* no labels needed (horizon 0); rows with a NULL feature get no signal, as in training */
	ds = fsmml_dataset_build(symbol, timeframe, bars, ch->from, ch->from + ch->n, features, 0, true, cxt);
	pf = palloc(sizeof(float) * Max(ds->nrows, 1));
	fsxgb_predict_dense(b, ds->X, ds->nrows, ds->nfeat, pf, ds->nrows);
	for (int64 i = 0; i < ch->n; i++)
		prob[i] = NAN;
	for (int64 r = 0; r < ds->nrows; r++)
	{
		int64		i = bt_bar_at_or_before(&ch->s, ds->ts[r]) - ch->from;

		if (i >= 0 && i < ch->n && ch->s.bars[ch->from + i].ts == ds->ts[r])
			prob[i] = pf[r];
	}
	memset(run, 0, sizeof(BtRun));
	bt_run_probs(&ch->s, ch->from, ch->n, prob, &ch->rules, &ch->sim, run);
	fsxgb_booster_free(b);
}

/* The challenger's Calmar not worse than the champion's beyond tol; NaN (no drawdown) passes. */
static bool
calmar_within(double challenger, double champion, double tol)
{
	if (isnan(challenger) || isnan(champion))
		return true;
	return challenger >= champion - fabs(champion) * tol;
}

char *
fsmml_auto_promote(const char *symbol, const char *timeframe, const char *agent,
				   int64 challenger_id, int64 champion_id, const TrainParams *p,
				   const FsmmlHoldoutBt *ch, const char *challenger_metrics,
				   const FsmmlBars *bars, MemoryContext cxt)
{
	PromotionRules rules = read_rules();
	BtRun		cp;
	const FsSimMetrics *a = &ch->run.m,
			   *c;
	bool		pnl_ok,
				dd_ok,
				calmar_ok;
	char	   *reason;
	char	   *champion_json;
	cJSON	   *cj;
	FsmmlHoldoutBt champ;

	champion_backtest(symbol, timeframe, champion_id, bars, ch, cxt, &cp);
	c = &cp.m;
	pnl_ok = a->total_return > c->total_return + rules.min_pnl_gain;
	dd_ok = a->max_drawdown <= c->max_drawdown * (1.0 + rules.max_dd_worsen);
	calmar_ok = calmar_within(a->calmar, c->calmar, rules.max_calmar_worsen);

	/* the champion's side as the challenger's hold-out backtest object */
	champ = *ch;
	champ.run = cp;
	cj = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON_AddNumberToObject(cj, "version_id", (double) champion_id);
	cJSON_AddStringToObject(cj, "evaluated_on",
							psprintf("%s .. %s", fsmml_iso8601(ch->s.bars[ch->from].ts),
									 fsmml_iso8601(ch->s.bars[ch->from + ch->n - 1].ts)));
	cJSON_AddItemToObject(cj, "backtest", fsmml_backtest_json(&champ));
	champion_json = fsxgb_json_print(cj);

	reason = psprintf("pnl %.6g vs %.6g (%s), max drawdown %.6g vs %.6g (%s), calmar %.6g vs %.6g (%s)",
					  a->total_return, c->total_return, pnl_ok ? "better" : "not better",
					  a->max_drawdown, c->max_drawdown, dd_ok ? "within tolerance" : "worse",
					  a->calmar, c->calmar, calmar_ok ? "within tolerance" : "worse");
	if (pnl_ok && dd_ok && calmar_ok)
	{
		fsmml_registry_promote(symbol, challenger_id, "promoted", reason,
							   challenger_metrics, champion_json);
		return "champion";
	}
	fsmml_registry_log_decision(symbol, timeframe, agent, challenger_id, champion_id, "kept",
								reason, challenger_metrics, champion_json);
	return "challenger";
}
