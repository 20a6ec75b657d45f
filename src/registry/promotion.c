/*
 * promotion.c — champion vs challenger on the same hold-out.
 *
 * The rule (tolerances in fsmml.settings):
 *   pnl(challenger)     >  pnl(champion) + promote_min_pnl_gain
 *   maxdd(challenger)   <= maxdd(champion) * (1 + promote_max_dd_worsen)
 *   calmar(challenger)  >= calmar(champion) - |calmar(champion)| * promote_max_calmar_worsen
 * Both are backtested on the challenger's hold-out bars with the
 * challenger's horizon, threshold and fees, so the numbers compare.
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

/* Backtest of the champion on bars with holdout_from <= ts <= holdout_to. */
static void
champion_backtest(const char *symbol, const char *timeframe, int64 champion_id,
				  const TrainParams *p, const FsmmlBars *bars, int64 holdout_from,
				  int64 holdout_to, MemoryContext cxt, FsBacktest *bt)
{
	List	   *features;
	FsXgbBooster *b = load_champion(symbol, champion_id, &features, cxt);
	int64		from = 0,
				to;
	FsmmlDataset *ds;
	float	   *pf;
	double	   *pd;

	features = fsmml_resolve_features(timeframe, features);
	while (from < bars->n && bars->bars[from].ts < holdout_from)
		from++;
	to = from;
	while (to < bars->n && bars->bars[to].ts <= holdout_to)
		to++;
	ds = fsmml_dataset_build(symbol, timeframe, bars, from, to, features, p->horizon, true, cxt);
	pf = palloc(sizeof(float) * Max(ds->nrows, 1));
	pd = palloc(sizeof(double) * Max(ds->nrows, 1));
	fsxgb_predict_dense(b, ds->X, ds->nrows, ds->nfeat, pf, ds->nrows);
	for (int64 i = 0; i < ds->nrows; i++)
		pd[i] = pf[i];
	fsmml_run_backtest(pd, ds->fwd_ret, ds->nrows, p, timeframe, bt);
	fsxgb_booster_free(b);
}

char *
fsmml_auto_promote(const char *symbol, const char *timeframe, const char *agent,
				   int64 challenger_id, int64 champion_id, const TrainParams *p,
				   const FsBacktest *ch, const char *challenger_metrics,
				   const FsmmlBars *bars, int64 holdout_from, int64 holdout_to,
				   MemoryContext cxt)
{
	PromotionRules rules = read_rules();
	FsBacktest	cp;
	bool		pnl_ok,
				dd_ok,
				calmar_ok;
	char	   *reason;
	char	   *champion_json;
	cJSON	   *cj;

	champion_backtest(symbol, timeframe, champion_id, p, bars, holdout_from, holdout_to, cxt, &cp);
	pnl_ok = ch->pnl > cp.pnl + rules.min_pnl_gain;
	dd_ok = ch->max_drawdown <= cp.max_drawdown * (1.0 + rules.max_dd_worsen);
	calmar_ok = ch->calmar >= cp.calmar - fabs(cp.calmar) * rules.max_calmar_worsen;

	cj = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON_AddNumberToObject(cj, "version_id", (double) champion_id);
	cJSON_AddStringToObject(cj, "evaluated_on", psprintf("%s .. %s", fsmml_iso8601(holdout_from),
														 fsmml_iso8601(holdout_to)));
	cJSON_AddItemToObject(cj, "backtest", fsmml_backtest_json(&cp));
	champion_json = fsxgb_json_print(cj);

	reason = psprintf("pnl %.6g vs %.6g (%s), max drawdown %.6g vs %.6g (%s), calmar %.6g vs %.6g (%s)",
					  ch->pnl, cp.pnl, pnl_ok ? "better" : "not better",
					  ch->max_drawdown, cp.max_drawdown, dd_ok ? "within tolerance" : "worse",
					  ch->calmar, cp.calmar, calmar_ok ? "within tolerance" : "worse");
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
