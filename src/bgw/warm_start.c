/*
 * warm_start.c — a job's retrain with params.warm_start: boosting continues
 * from the champion's trees on the new rolling window instead of starting
 * from scratch.
 *
 * Allowed only when the champion's training window ends before the new
 * hold-out begins (its last training row's label, H bars later, included):
 * otherwise the champion's trees have seen hold-out bars and the hold-out
 * figures, the promotion decision among them, would be flattering lies.
 * The new window's development rows get params.rounds more rounds (no
 * walk-forward folds: the champion's own were run when it was trained), the
 * hold-out is scored and backtested as fsmml_train does, and the version is
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
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bgw.h"
#include "dataset.h"
#include "fsmml.h"
#include "metrics.h"
#include "privilege.h"
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

static cJSON *
metrics_json(const FsmmlDataset *ds, FsRange r, const double *prob)
{
	int64		n = r.end - r.start;
	double	   *y = palloc(sizeof(double) * Max(n, 1));
	size_t	   *scratch = palloc(sizeof(size_t) * Max(n, 1));
	FsClassMetrics m;
	cJSON	   *o;

	for (int64 i = 0; i < n; i++)
		y[i] = ds->y[r.start + i];
	fs_class_metrics(y, prob, n, scratch, &m);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "rows", (double) n);
	cJSON_AddStringToObject(o, "from", fsmml_iso8601(ds->ts[r.start]));
	cJSON_AddStringToObject(o, "to", fsmml_iso8601(ds->ts[r.end - 1]));
#define NUM(k, v) (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k))
	NUM("auc", m.auc);
	NUM("brier", m.brier);
	NUM("logloss", m.logloss);
	NUM("accuracy", m.accuracy);
	NUM("pos_rate", m.pos_rate);
#undef NUM
	return o;
}

int64
fsmml_bgw_warm_start(const char *agent, const char *symbol, const char *timeframe,
					 Jsonb *params, char **status, MemoryContext cxt)
{
	TrainParams *p = fsmml_train_params(agent, timeframe, params, cxt);
	Champion	champ = read_champion(agent, symbol, timeframe, cxt);
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	FsSplitPlan plan;
	FsSplitStatus st;
	int64		from = 0;
	int64		leak_end;
	FsXgbMatrix *dtrain;
	FsXgbBooster *b;
	int			base_rounds;
	int64		nh;
	float	   *pf;
	double	   *prob;
	FsmmlHoldoutBt bt;
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON	   *holdout;
	cJSON	   *ws;
	cJSON	   *features_json;
	ListCell   *lc;
	FsmmlNewVersion v = {0};
	FsmmlVersionRow row;
	FsmmlUserScope scope;
	int64		champion_now;

	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, DT_NOEND, cxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe)));
	if (p->lookback_bars > 0)
		from = Max(bars->n - p->lookback_bars, 0);
	else if (p->lookback_us > 0)
		while (from < bars->n && bars->bars[from].ts < bars->bars[bars->n - 1].ts - p->lookback_us)
			from++;
	ds = fsmml_dataset_build(symbol, timeframe, bars, from, bars->n, champ.features, p->horizon,
							 true, cxt);
	st = fs_walkforward_plan(ds->nrows, 0, p->test_size, p->horizon, p->embargo, 200, 50, &plan);
	if (st != FS_SPLIT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("warm_start: %s", fs_split_status_message(st)),
				 errdetail("%s", plan.detail)));

	/* the champion's last training label reaches H bars past train_to */
	leak_end = champ.train_to_us + (int64) p->horizon * fsmml_timeframe_usec(timeframe);
	if (leak_end >= ds->ts[plan.holdout.start])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("warm_start refused: champion " INT64_FORMAT " was trained on bars up to %s,"
						" which reach into the new hold-out starting %s",
						champ.id, fsmml_iso8601(champ.train_to_us), fsmml_iso8601(ds->ts[plan.holdout.start])),
				 errdetail("Continuing from it would score the hold-out with trees that saw it."),
				 errhint("Wait until newer bars push the hold-out past the champion's window, or retrain from scratch (params.warm_start false).")));

	/* more rounds on the development rows, from the champion's trees */
	dtrain = fsxgb_matrix_create(cxt, ds->X, plan.dev_end, ds->nfeat, ds->y, fsmml_train_nthread);
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

	nh = plan.holdout.end - plan.holdout.start;
	pf = palloc(sizeof(float) * nh);
	prob = palloc(sizeof(double) * nh);
	fsxgb_predict_dense(b, ds->X + plan.holdout.start * ds->nfeat, nh, ds->nfeat, pf, nh);
	for (int64 i = 0; i < nh; i++)
		prob[i] = pf[i];
	holdout = metrics_json(ds, plan.holdout, prob);
	cJSON_AddItemToObject(metrics, "holdout", holdout);
	fsmml_run_backtest(symbol, timeframe, bars, ds->ts + plan.holdout.start, prob, nh, p, &bt);
	cJSON_AddItemToObject(holdout, "backtest", fsmml_backtest_json(&bt));
	ws = cJSON_AddObjectToObject(metrics, "warm_start");
	cJSON_AddNumberToObject(ws, "from_version_id", (double) champ.id);
	cJSON_AddNumberToObject(ws, "base_rounds", base_rounds);
	cJSON_AddNumberToObject(ws, "added_rounds", p->rounds);
	cJSON_AddNumberToObject(metrics, "rounds", base_rounds + p->rounds);

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
	v.train_to = fsmml_unix_to_ts(ds->ts[plan.dev_end - 1]);
	v.test_from = fsmml_unix_to_ts(ds->ts[plan.holdout.start]);
	v.test_to = fsmml_unix_to_ts(ds->ts[plan.holdout.end - 1]);

	fsmml_owner_enter(&scope);
	fsmml_registry_lock_instance(agent, symbol, timeframe);
	champion_now = fsmml_registry_champion(agent, symbol, timeframe);
	row = fsmml_registry_insert(&v);
	fsmml_drift_store_reference(symbol, row.id, ds, plan.dev_end);
	*status = row.status;
	if (champion_now != 0 && p->auto_promote)
		*status = fsmml_auto_promote(symbol, timeframe, agent, row.id, champion_now, p, &bt, v.metrics,
									 bars, cxt);
	fsmml_owner_leave(&scope);
	return row.id;
}
