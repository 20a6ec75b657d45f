/*
 * warm_start.c — a job's retrain with params.warm_start: boosting continues
 * from the champion's trees on the new rolling window instead of starting
 * from scratch.
 *
 * Allowed only when the champion's training window ends before the new
 * hold-out begins (its last training row's label, H bars later, included):
 * otherwise the champion's trees have seen hold-out bars and the hold-out
 * figures, the promotion decision among them, would be flattering lies.
 * The new window's walk-forward folds are fit from scratch and scored as a
 * full retrain's are (the same fold metrics; the champion's trees saw those
 * blocks), then its development rows get params.rounds more rounds from the
 * champion's trees, the hold-out is scored and backtested as fsmml_train does
 * (the active calibration's thresholds included), and the version is
 * registered and judged by the same promotion rules, under the instance lock.
 *
 * Runs in the job worker as the job's role (the bars are read with its
 * rights); the registry writes run as fsmml_owner.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "bars.h"
#include "bgw.h"
#include "dataset.h"
#include "fsmml.h"
#include "metrics.h"
#include "privilege.h"
#include "progress.h"
#include "promotion.h"
#include "registry.h"
#include "train.h"
#include "train_params.h"
#include "walkforward.h"
#include "xgb.h"

typedef struct Champion
{
	int64		id;
	bytea	   *model;
	int64		train_to_us;	/* Unix microseconds */
	List	   *features;
} Champion;

static Champion
read_champion(const char *agent, const char *symbol, const char *timeframe, MemoryContext cxt)
{
	Champion	c = {0};
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(agent), CStringGetTextDatum(symbol),
	CStringGetTextDatum(timeframe)};
	bool		isnull;
	MemoryContext old;

	if (SPI_execute_with_args("SELECT id, model, extract(epoch FROM train_to)::float8,"
							  " unnest(feature_names) FROM trading.agentversions"
							  " WHERE agent = $1 AND symbol = $2 AND timeframe = $3 AND status = 'champion'",
							  3, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "warm_start: reading the champion failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("warm_start needs a champion of %s", fsmml_instance_name(agent, symbol, timeframe)),
				 errhint("Train the first version from scratch (params.warm_start false).")));
	old = MemoryContextSwitchTo(cxt);
	c.id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	c.model = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("warm_start: champion " INT64_FORMAT " has no training window", c.id),
					 errhint("An imported model cannot be checked for leakage: retrain from scratch.")));
		c.train_to_us = (int64) llround(DatumGetFloat8(d) * USECS_PER_SEC);
	}
	for (uint64 i = 0; i < SPI_processed; i++)
		c.features = lappend(c.features, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4));
	MemoryContextSwitchTo(old);
	return c;
}

int64
fsmml_bgw_warm_start(const char *agent, const char *symbol, const char *timeframe,
					 Jsonb *params, char **status, MemoryContext cxt)
{
	char	   *instance = fsmml_instance_name(agent, symbol, timeframe);
	TrainParams *p = fsmml_train_params(agent, timeframe, params, cxt);
	Champion	champ = read_champion(agent, symbol, timeframe, cxt);
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	FsSplitPlan *plan;
	int64		leak_end;
	FsXgbMatrix *dtrain;
	FsXgbBooster *b;
	int			base_rounds;
	int64		nh;
	float	   *pf;
	double	   *prob;
	FsmmlHoldoutBt bt;
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON	   *folds = cJSON_AddArrayToObject(metrics, "folds");
	cJSON	   *holdout;
	cJSON	   *btj;
	cJSON	   *ws;
	cJSON	   *features_json;
	const char *thresholds_from;
	double		fit_seconds;
	instr_time	t0,
				t1;
	ListCell   *lc;
	FsmmlNewVersion v = {0};
	FsmmlVersionRow row;
	FsmmlUserScope scope;
	int64		champion_now;

	thresholds_from = fsmml_direction_thresholds(symbol, timeframe, p, cxt);
	fsmml_progress_begin(instance, p->folds, p->rounds);
	fsmml_progress_phase("loading", 0);
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, DT_NOEND, cxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe)));
	ds = fsmml_dataset_build(symbol, timeframe, bars, fsmml_window_start(bars, p), bars->n,
							 champ.features, p->horizon, true, cxt);
	/* the plan a full retrain of this window makes: same folds, same hold-out */
	plan = fsmml_plan_splits(ds, p, instance);

	/* the champion's last training label reaches H bars past train_to */
	leak_end = champ.train_to_us + (int64) p->horizon * fsmml_timeframe_usec(timeframe);
	if (leak_end >= ds->ts[plan->holdout.start])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("warm_start refused: champion " INT64_FORMAT " was trained on bars up to %s,"
						" which reach into the new hold-out starting %s",
						champ.id, fsmml_iso8601(champ.train_to_us), fsmml_iso8601(ds->ts[plan->holdout.start])),
				 errdetail("Continuing from it would score the hold-out with trees that saw it."),
				 errhint("Wait until newer bars push the hold-out past the champion's window, or retrain from scratch (params.warm_start false).")));
	fsmml_direction_rows_json(metrics, bars, ds, plan);

	/*
	 * The walk-forward folds of the rolling window, fit from scratch as a full
	 * retrain fits them: continuing from the champion there would score fold
	 * blocks with trees that were trained on them.
	 */
	fit_seconds = fsmml_direction_folds(cxt, ds, plan, p, folds);

	/* more rounds on the development rows, from the champion's trees */
	fsmml_progress_phase("final", p->folds);
	INSTR_TIME_SET_CURRENT(t0);
	/* threads as the full retrain's matrices take them: params.xgb.nthread first */
	dtrain = fsxgb_matrix_create(cxt, ds->X, plan->dev_end, ds->nfeat, ds->y,
								 fsxgb_jsonb_get_int(p->xgb, "nthread",
													 fsxgb_jsonb_get_int(p->xgb, "n_jobs", fsmml_train_nthread)));
	b = fsxgb_booster_load_bytea(cxt, champ.model);
	fsxgb_booster_set_params_jsonb(b, p->xgb);
	base_rounds = fsxgb_booster_boosted_rounds(b);
	fsxgb_limits_check_jsonb(p->xgb, base_rounds + p->rounds);
	for (int it = 0; it < p->rounds; it++)
	{
		CHECK_FOR_INTERRUPTS();
		fsxgb_booster_update(b, base_rounds + it, dtrain);
	}
	fsxgb_matrix_free(dtrain);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	fit_seconds += INSTR_TIME_GET_DOUBLE(t1);

	fsmml_progress_phase("evaluating", p->folds);
	INSTR_TIME_SET_CURRENT(t0);
	nh = plan->holdout.end - plan->holdout.start;
	pf = palloc(sizeof(float) * nh);
	prob = palloc(sizeof(double) * nh);
	fsxgb_predict_dense(b, ds->X + plan->holdout.start * ds->nfeat, nh, ds->nfeat, pf, nh);
	for (int64 i = 0; i < nh; i++)
		prob[i] = pf[i];
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	holdout = fsmml_class_metrics_json(ds, plan->holdout, prob);
	cJSON_AddItemToObject(metrics, "holdout", holdout);
	fsmml_run_backtest(symbol, timeframe, bars, ds->ts + plan->holdout.start, prob, nh, p, &bt);
	btj = fsmml_backtest_json(&bt);
	cJSON_AddItemToObject(holdout, "backtest", btj);
	fsmml_json_num(btj, "long_threshold", p->long_threshold);
	fsmml_json_num(btj, "short_threshold", p->short_threshold);
	cJSON_AddStringToObject(btj, "thresholds_from", thresholds_from);
	/* no early stopping on the added rounds: the last is the best kept */
	cJSON_AddNumberToObject(metrics, "best_iteration", base_rounds + p->rounds - 1);
	cJSON_AddNumberToObject(metrics, "rounds", base_rounds + p->rounds);
	fsmml_json_num(metrics, "fit_seconds", fit_seconds);
	fsmml_json_num(metrics, "score_seconds", INSTR_TIME_GET_DOUBLE(t1));
	fsmml_progress_fold_done(p->folds, "auc", cJSON_GetNumberValue(cJSON_GetObjectItem(holdout, "auc")));
	ws = cJSON_AddObjectToObject(metrics, "warm_start");
	cJSON_AddNumberToObject(ws, "from_version_id", (double) champ.id);
	cJSON_AddNumberToObject(ws, "base_rounds", base_rounds);
	cJSON_AddNumberToObject(ws, "added_rounds", p->rounds);

	fsmml_progress_phase("storing", p->folds);
	features_json = cJSON_CreateArray();
	foreach(lc, champ.features)
		cJSON_AddItemToArray(features_json, cJSON_CreateString(lfirst(lc)));
	if (cJSON_GetObjectItem(p->resolved, "features"))
		cJSON_ReplaceItemInObject(p->resolved, "features", features_json);
	else
		cJSON_AddItemToObject(p->resolved, "features", features_json);
	cJSON_AddTrueToObject(p->resolved, "warm_start");

	v.agent = agent;
	v.symbol = symbol;
	v.timeframe = timeframe;
	v.model = fsxgb_booster_save(b, "ubj");
	v.model_format = "xgboost-ubj";
	v.params = fsxgb_json_print(p->resolved);
	v.metrics = fsxgb_json_print(metrics);
	v.feature_names = champ.features;
	v.objective = fsxgb_booster_objective(b);
	v.train_from = fsmml_unix_to_ts(ds->ts[0]);
	v.train_to = fsmml_unix_to_ts(ds->ts[plan->dev_end - 1]);
	v.test_from = fsmml_unix_to_ts(ds->ts[plan->holdout.start]);
	v.test_to = fsmml_unix_to_ts(ds->ts[plan->holdout.end - 1]);

	fsmml_owner_enter(&scope);
	fsmml_registry_lock_instance(agent, symbol, timeframe);
	champion_now = fsmml_registry_champion(agent, symbol, timeframe);
	row = fsmml_registry_insert(&v);
	fsmml_drift_store_reference(symbol, row.id, ds, plan->dev_end);
	*status = row.status;
	if (champion_now != 0 && p->auto_promote)
		*status = fsmml_auto_promote(symbol, timeframe, agent, row.id, champion_now, p, &bt, v.metrics,
									 bars, cxt);
	fsmml_owner_leave(&scope);
	fsmml_progress_end();
	return row.id;
}
