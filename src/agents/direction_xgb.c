/*
 * direction_xgb.c — DirectionXGB: the XGBoost direction classifier.
 *
 *   train     features in memory from the bars (dataset.c), label
 *             y = 1[close(t+H) > close(t)], rows with a NULL feature dropped;
 *             folds-1 purged expanding-window walk-forward folds over the
 *             development rows, then the final fit on all of them, scored on
 *             the hold-out; fit() is train.c's.  The hold-out backtest and
 *             the promotion rule trade the ExecRules decision (long at or
 *             above 0.55, short at or below 0.45 by default).
 *   payload   {"prob_up": p}; fsmml_score's own fast path (serve/score.c)
 *             writes it for whole ranges, predict here serves the ensemble
 *             and single rows.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "bgw.h"
#include "dataset.h"
#include "fsmml.h"
#include "metrics.h"
#include "progress.h"
#include "promotion.h"
#include "registry.h"
#include "serve.h"
#include "train.h"
#include "train_params.h"
#include "walkforward.h"
#include "xgb.h"

const char *
fsmml_direction_thresholds(const char *symbol, const char *timeframe, TrainParams *p,
						   MemoryContext cxt)
{
	int64		cal_id = 0;
	cJSON	   *cal = fsmml_active_calibration(symbol, timeframe, &cal_id, cxt);

	if (fsmml_calibration_exec(cal, cal_id, &p->long_threshold, &p->short_threshold))
		return psprintf("calibration %lld", (long long) cal_id);
	return "params.threshold";
}

double
fsmml_direction_folds(MemoryContext cxt, const FsmmlDataset *ds, const FsSplitPlan *plan,
					  TrainParams *p, cJSON *folds)
{
	double		fit_seconds = 0;

	for (int k = 0; k < plan->folds; k++)
	{
		const FsFold *f = &plan->fold[k];
		FsmmlFit	r;
		double	   *prob;
		cJSON	   *fj;

		fsmml_progress_phase("fold", k + 1);
		r = fsmml_fit(cxt, ds, &f->train, p, p->horizon);
		fit_seconds += r.seconds;
		prob = fsmml_predict_range(cxt, r.booster, ds, f->test);
		fj = fsmml_class_metrics_json(ds, f->test, prob);
		cJSON_AddNumberToObject(fj, "fold", k + 1);
		cJSON_AddNumberToObject(fj, "train_rows", (double) f->ntrain);
		cJSON_AddNumberToObject(fj, "best_iteration", r.best_iteration);
		cJSON_AddItemToArray(folds, fj);
		fsmml_progress_fold_done(k + 1, "auc", cJSON_GetNumberValue(cJSON_GetObjectItem(fj, "auc")));
		fsxgb_booster_free(r.booster);
		pfree(prob);
	}
	return fit_seconds;
}

void
fsmml_direction_rows_json(cJSON *metrics, const FsmmlBars *bars, const FsmmlDataset *ds,
						  const FsSplitPlan *plan)
{
	cJSON	   *rows = cJSON_AddObjectToObject(metrics, "rows");

	cJSON_AddNumberToObject(rows, "bars", (double) bars->n);
	cJSON_AddNumberToObject(rows, "dropped_null", (double) ds->dropped_null);
	cJSON_AddNumberToObject(rows, "dropped_unlabeled", (double) ds->dropped_unlabeled);
	cJSON_AddNumberToObject(rows, "used", (double) ds->nrows);
	cJSON_AddNumberToObject(rows, "train", (double) plan->final_ntrain);
	cJSON_AddNumberToObject(rows, "holdout", (double) (plan->holdout.end - plan->holdout.start));
}

/* fsmml_train for DirectionXGB; returns the new version. */
static FsmmlTrainResult
train_direction(FsAgentTrainCtx *ctx)
{
	const char *agent = ctx->agent;
	const char *symbol = ctx->symbol;
	const char *timeframe = ctx->timeframe;
	Jsonb	   *params = ctx->params;
	MemoryContext cxt = ctx->cxt;
	char	   *instance = fsmml_instance_name(agent, symbol, timeframe);
	TrainParams *p = fsmml_train_params(agent, timeframe, params, cxt);
	List	   *features = fsmml_resolve_features(timeframe, p->features);
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	FsSplitPlan *plan;
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON	   *folds = cJSON_AddArrayToObject(metrics, "folds");
	cJSON	   *holdout;
	cJSON	   *features_json;
	FsmmlFit	final;
	double	   *prob;
	FsmmlHoldoutBt bt;
	double		fit_seconds = 0;
	instr_time	t0,
				t1;
	FsmmlNewVersion v = {0};
	FsmmlTrainResult res;
	ListCell   *lc;
	const char *thresholds_from;
	cJSON	   *btj;

	/* The backtest's ExecRules thresholds: the active calibration's, else params.threshold's. */
	thresholds_from = fsmml_direction_thresholds(symbol, timeframe, p, cxt);
	fsmml_progress_begin(instance, p->folds, p->rounds);
	fsmml_progress_phase("loading", 0);
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, DT_NOEND, cxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe),
				 errhint("Load bars for the symbol and timeframe first; symbols are case-sensitive.")));
	if (p->features == NIL)
		features = fsmml_prune_null_features(symbol, timeframe, bars, fsmml_window_start(bars, p),
											 features, p->horizon);
	ds = fsmml_dataset_build(symbol, timeframe, bars, fsmml_window_start(bars, p), bars->n,
							 features, p->horizon, true, cxt);
	if (ds->nrows == 0 && ds->dropped_null > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("every row of %s has a NULL feature", instance),
				 errdetail(INT64_FORMAT " rows dropped.", ds->dropped_null),
				 errhint("Choose features defined on this series in params.features, or load more bars (long look-backs need warm-up).")));
	plan = fsmml_plan_splits(ds, p, instance);

	fsmml_direction_rows_json(metrics, bars, ds, plan);

	/* Walk-forward folds: each scored on its own test block. */
	fit_seconds = fsmml_direction_folds(cxt, ds, plan, p, folds);

	/* The final fit on all development rows, scored on the hold-out. */
	fsmml_progress_phase("final", p->folds);
	final = fsmml_fit(cxt, ds, &plan->final_train, p, p->horizon);
	fit_seconds += final.seconds;
	fsmml_progress_phase("evaluating", p->folds);
	INSTR_TIME_SET_CURRENT(t0);
	prob = fsmml_predict_range(cxt, final.booster, ds, plan->holdout);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	/* Attached to the owned tree at once: the backtest may raise an ERROR. */
	holdout = fsmml_class_metrics_json(ds, plan->holdout, prob);
	cJSON_AddItemToObject(metrics, "holdout", holdout);
	fsmml_run_backtest(symbol, timeframe, bars, ds->ts + plan->holdout.start, prob,
					   plan->holdout.end - plan->holdout.start, p, &bt);
	btj = fsmml_backtest_json(&bt);
	cJSON_AddItemToObject(holdout, "backtest", btj);
	fsmml_json_num(btj, "long_threshold", p->long_threshold);
	fsmml_json_num(btj, "short_threshold", p->short_threshold);
	cJSON_AddStringToObject(btj, "thresholds_from", thresholds_from);
	cJSON_AddNumberToObject(metrics, "best_iteration", final.best_iteration);
	cJSON_AddNumberToObject(metrics, "rounds", final.rounds_run);
	fsmml_json_num(metrics, "fit_seconds", fit_seconds);
	fsmml_json_num(metrics, "score_seconds", INSTR_TIME_GET_DOUBLE(t1));
	fsmml_progress_fold_done(p->folds, "auc", cJSON_GetNumberValue(cJSON_GetObjectItem(holdout, "auc")));

	/* Register: the resolved params carry the feature list in order. */
	fsmml_progress_phase("storing", p->folds);
	features_json = cJSON_CreateArray();
	foreach(lc, features)
		cJSON_AddItemToArray(features_json, cJSON_CreateString(lfirst(lc)));
	if (cJSON_GetObjectItem(p->resolved, "features"))
		cJSON_ReplaceItemInObject(p->resolved, "features", features_json);
	else
		cJSON_AddItemToObject(p->resolved, "features", features_json);

	v.agent = agent;
	v.symbol = symbol;
	v.timeframe = timeframe;
	v.model = fsxgb_booster_save(final.booster, "ubj");
	v.model_format = "xgboost-ubj";
	v.params = fsxgb_json_print(p->resolved);
	v.metrics = fsxgb_json_print(metrics);
	v.feature_names = features;
	v.objective = fsxgb_booster_objective(final.booster);
	v.train_from = fsmml_unix_to_ts(ds->ts[0]);
	v.train_to = fsmml_unix_to_ts(ds->ts[Max(plan->dev_end - 1, 0)]);
	v.test_from = fsmml_unix_to_ts(ds->ts[plan->holdout.start]);
	v.test_to = fsmml_unix_to_ts(ds->ts[plan->holdout.end - 1]);

	{
		int64		champion;
		FsmmlVersionRow row;

		/*
		 * Numbering, the champion read and the promotion decided under one
		 * lock, taken only now: concurrent trainings of the instance run in
		 * parallel and register one after the other, each against the
		 * champion the previous one left (read after the lock).
		 */
		fsmml_registry_lock_instance(agent, symbol, timeframe);
		champion = fsmml_registry_champion(agent, symbol, timeframe);
		row = fsmml_registry_insert(&v);
		fsmml_drift_store_reference(symbol, row.id, ds, plan->dev_end);

		res.version_id = row.id;
		res.version = row.version;
		res.status = row.status;
		if (champion != 0 && p->auto_promote)
			res.status = fsmml_auto_promote(symbol, timeframe, agent, row.id, champion, p, &bt,
											v.metrics, bars, cxt);
	}
	res.instance = instance;
	res.metrics = pstrdup(v.metrics);
	fsmml_progress_end();
	return res;
}


static const char *const direction_keys[] = {
	"horizon", "lookback", "folds", "test_size", "embargo", "early_stopping_rounds",
	"rounds", "fee_bps", "threshold", "auto_promote", "features", "xgb", NULL
};

/* train_params.c checks DirectionXGB's params itself (fsmml_train_params). */
static void
direction_validate(cJSON *params, const char *timeframe)
{
}

typedef struct DirectionState
{
	FsXgbBooster *booster;
	int		   *cols;
	int			ncols;
	MemoryContext cxt;
} DirectionState;

static void
direction_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	DirectionState *s = MemoryContextAllocZero(cxt, sizeof(DirectionState));

	s->booster = fsxgb_booster_load_bytea(cxt, blob);
	s->cxt = cxt;
	m->state = s;
}

static void
direction_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	DirectionState *s = m->state;
	int			nf = list_length(m->features);
	int64		n = to - from;
	float	   *X = palloc(sizeof(float) * Max(n, 1) * nf);
	float	   *out = palloc(sizeof(float) * Max(n, 1));

	if (s->cols == NULL)
	{
		s->cols = MemoryContextAlloc(s->cxt, sizeof(int) * nf);
		for (int j = 0; j < nf; j++)
		{
			s->cols[j] = -1;
			for (int k = 0; k < b->ds->nfeat; k++)
				if (strcmp(b->ds->names[k], list_nth(m->features, j)) == 0)
					s->cols[j] = k;
			if (s->cols[j] < 0)
				elog(ERROR, "feature \"%s\" missing from the scoring matrix", (char *) list_nth(m->features, j));
		}
	}
	for (int64 i = 0; i < n; i++)
		for (int j = 0; j < nf; j++)
			X[i * nf + j] = b->ds->X[(from + i) * b->ds->nfeat + s->cols[j]];
	fsxgb_predict_dense(s->booster, X, n, nf, out, n);
	for (int64 i = 0; i < n; i++)
		b->rows[from + i].prob_up = out[i];
	pfree(X);
	pfree(out);
}

static Jsonb *
direction_payload(FsAgentModel *m, const FsAgentRow *r)
{
	return fsmml_prob_payload(r->prob_up);
}

const FsAgent fsmml_agent_direction_xgb = {
	.name = "DirectionXGB",
	.kind = "direction",
	.param_keys = direction_keys,
	.validate = direction_validate,
	.train = train_direction,
	.load = direction_load,
	.predict = direction_predict,
	.payload = direction_payload,
	.writes_preds = true,
};
