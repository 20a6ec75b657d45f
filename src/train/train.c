/*
 * train.c — fsmml_train: DirectionXGB trained, validated and registered.
 *
 *   dataset     features in memory from the bars (dataset.c), label
 *               y = 1[close(t+H) > close(t)], rows with a NULL feature dropped
 *   validation  folds-1 purged expanding-window walk-forward folds over the
 *               development rows, then the final fit on all of them, scored
 *               on the hold-out (the last test_size of the rows); no
 *               shuffling anywhere; early stopping on the last 10% of each
 *               fit's own training rows, never on its test block
 *   registry    the final model (UBJ), its metrics, windows and resolved
 *               params become a version; promotion follows promotion.c
 *
 * Everything lives in one memory context per call: XGBoost handles and cJSON
 * trees are owned by it, so an ERROR or a cancel frees them too.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgw.h"
#include "dataset.h"
#include "fsmml.h"
#include "metrics.h"
#include "progress.h"
#include "promotion.h"
#include "registry.h"
#include "train.h"
#include "train_params.h"
#include "walkforward.h"
#include "xgb.h"

/* Smallest training set and test block a fit may have. */
#define MIN_TRAIN_ROWS 200
#define MIN_TEST_ROWS 50
/* Share of a fit's training rows used for early stopping. */
#define ES_VALID_FRACTION 0.1

typedef struct FitResult
{
	FsXgbBooster *booster;
	int			best_iteration; /* 0-based */
	int			rounds_run;
	double		valid_metric;	/* NaN without early stopping */
	double		seconds;
} FitResult;

/* Metrics XGBoost maximises (as its Python early stopping decides). */
static bool
metric_maximize(const char *name)
{
	static const char *const up[] = {"auc", "aucpr", "map", "ndcg", "pre"};

	for (int i = 0; i < lengthof(up); i++)
		if (strncmp(name, up[i], strlen(up[i])) == 0)
			return true;
	return false;
}

static const char *
eval_metric_name(TrainParams *p)
{
	char	   *m = fsxgb_jsonb_get_string(p->xgb, "eval_metric");

	return m ? m : "logloss";
}

/* The rows of ranges copied into one dense block, with their labels. */
static FsXgbMatrix *
matrix_from_ranges(MemoryContext cxt, const FsmmlDataset *ds, const FsRangeSet *rs)
{
	int64		n = fs_rangeset_count(rs);
	float	   *X;
	float	   *y;
	int64		at = 0;
	FsXgbMatrix *m;

	/* One range is already contiguous: XGBoost copies it anyway. */
	if (rs->n == 1)
	{
		m = fsxgb_matrix_create(cxt, ds->X + rs->r[0].start * ds->nfeat, n, ds->nfeat,
								ds->y + rs->r[0].start, fsmml_train_nthread);
		fsxgb_matrix_set_feature_names(m, (const char *const *) ds->names, ds->nfeat);
		return m;
	}
	X = MemoryContextAllocHuge(cxt, sizeof(float) * Max(n, 1) * ds->nfeat);
	y = MemoryContextAllocHuge(cxt, sizeof(float) * Max(n, 1));
	for (int i = 0; i < rs->n; i++)
	{
		int64		len = rs->r[i].end - rs->r[i].start;

		memcpy(X + at * ds->nfeat, ds->X + rs->r[i].start * ds->nfeat,
			   sizeof(float) * len * ds->nfeat);
		memcpy(y + at, ds->y + rs->r[i].start, sizeof(float) * len);
		at += len;
	}
	m = fsxgb_matrix_create(cxt, X, n, ds->nfeat, y, fsmml_train_nthread);
	fsxgb_matrix_set_feature_names(m, (const char *const *) ds->names, ds->nfeat);
	pfree(X);
	pfree(y);
	return m;
}

/*
 * Boosts on train, early-stopping on the last ES_VALID_FRACTION of it when
 * params.early_stopping_rounds > 0.  The booster is cut back to the best
 * iteration.
 */
static FitResult
fit(MemoryContext cxt, const FsmmlDataset *ds, const FsRangeSet *train, TrainParams *p,
	int purge)
{
	FitResult	r = {0};
	FsRangeSet	fitset = *train;
	FsRangeSet	valid = {0};
	FsXgbMatrix *mats[2];
	const char *names[1] = {"valid"};
	const char *metric = eval_metric_name(p);
	bool		maximize = metric_maximize(metric);
	bool		stopping = p->early_stopping_rounds > 0;
	double		best = NAN;
	instr_time	start,
				elapsed;

	if (stopping &&
		fs_walkforward_es_split(train, ES_VALID_FRACTION, purge, MIN_TRAIN_ROWS,
								&fitset, &valid) != FS_SPLIT_OK)
		stopping = false;		/* too small to hold out a slice: fixed rounds */

	INSTR_TIME_SET_CURRENT(start);
	mats[0] = matrix_from_ranges(cxt, ds, &fitset);
	mats[1] = stopping ? matrix_from_ranges(cxt, ds, &valid) : NULL;
	r.booster = fsxgb_booster_create(cxt, mats, stopping ? 2 : 1, true);
	fsxgb_booster_set_params_jsonb(r.booster, p->xgb);

	for (int it = 0; it < p->rounds; it++)
	{
		double		value = NAN;

		CHECK_FOR_INTERRUPTS();
		fsxgb_booster_update(r.booster, it, mats[0]);
		r.rounds_run = it + 1;
		if (stopping)
		{
			char	   *ev = fsxgb_booster_eval(r.booster, it, &mats[1], names, 1);

			if (!fsxgb_eval_metric(ev, "valid", NULL, &value))
				value = NAN;
			pfree(ev);
			if (isnan(best) || (maximize ? value > best : value < best))
			{
				best = value;
				r.best_iteration = it;
			}
			else if (it - r.best_iteration >= p->early_stopping_rounds)
				break;
		}
		else
			r.best_iteration = it;
		fsmml_progress_round(it + 1, metric, stopping ? value : NAN);
	}
	r.valid_metric = best;
	if (r.best_iteration + 1 < r.rounds_run)
	{
		FsXgbBooster *cut = fsxgb_booster_slice(cxt, r.booster, 0, r.best_iteration + 1);

		fsxgb_booster_free(r.booster);
		r.booster = cut;
	}
	fsxgb_matrix_free(mats[0]);
	if (mats[1])
		fsxgb_matrix_free(mats[1]);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	r.seconds = INSTR_TIME_GET_DOUBLE(elapsed);
	return r;
}

/* prob_up of rows [range) in double precision, predicted in place (no DMatrix). */
static double *
predict_range(MemoryContext cxt, FsXgbBooster *b, const FsmmlDataset *ds, FsRange range)
{
	int64		n = range.end - range.start;
	float	   *pf = MemoryContextAllocHuge(cxt, sizeof(float) * Max(n, 1));
	double	   *pd = MemoryContextAllocHuge(cxt, sizeof(double) * Max(n, 1));

	fsxgb_predict_dense(b, ds->X + range.start * ds->nfeat, n, ds->nfeat, pf, n);
	for (int64 i = 0; i < n; i++)
		pd[i] = pf[i];
	pfree(pf);
	return pd;
}

static void
json_num(cJSON *o, const char *key, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* The caller attaches the result to an owned tree before its next call that can raise. */
static cJSON *
class_metrics_json(const FsmmlDataset *ds, FsRange range, const double *prob)
{
	int64		n = range.end - range.start;
	double	   *y = palloc(sizeof(double) * Max(n, 1));
	size_t	   *scratch = palloc(sizeof(size_t) * Max(n, 1));
	FsClassMetrics m;
	char	   *from = fsmml_iso8601(ds->ts[range.start]);
	char	   *to = fsmml_iso8601(ds->ts[range.end - 1]);
	cJSON	   *o;

	for (int64 i = 0; i < n; i++)
		y[i] = ds->y[range.start + i];
	fs_class_metrics(y, prob, n, scratch, &m);
	/* malloc'd and unowned until the caller attaches it: nothing below may raise */
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "rows", (double) n);
	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddStringToObject(o, "to", to);
	json_num(o, "auc", m.auc);
	json_num(o, "brier", m.brier);
	json_num(o, "logloss", m.logloss);
	json_num(o, "accuracy", m.accuracy);
	json_num(o, "pos_rate", m.pos_rate);
	pfree(y);
	pfree(scratch);
	return o;
}

cJSON *
fsmml_backtest_json(const FsBacktest *bt)
{
	cJSON	   *o = cJSON_CreateObject();

	json_num(o, "pnl", bt->pnl);
	json_num(o, "sharpe", bt->sharpe);
	json_num(o, "sortino", bt->sortino);
	json_num(o, "max_drawdown", bt->max_drawdown);
	json_num(o, "calmar", bt->calmar);
	json_num(o, "profit_factor", bt->profit_factor);
	json_num(o, "win_rate", bt->win_rate);
	cJSON_AddNumberToObject(o, "trades", (double) bt->trades);
	json_num(o, "exposure", bt->exposure);
	json_num(o, "fees", bt->fees);
	return o;
}

double
fsmml_bars_per_year(const char *timeframe)
{
	/* Crypto trades around the clock: a year is 365.25 days of bars. */
	return 365.25 * USECS_PER_DAY / (double) fsmml_timeframe_usec(timeframe);
}

void
fsmml_run_backtest(const double *prob, const double *fwd_ret, int64 n, const TrainParams *p,
				   const char *timeframe, FsBacktest *bt)
{
	const char *err = fs_backtest(prob, fwd_ret, n, p->threshold, p->fee_bps, p->horizon,
								  fsmml_bars_per_year(timeframe), bt);

	if (err)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backtest: %s", err)));
}

/* First bar of the window that params.lookback asks for. */
static int64
window_start(const FsmmlBars *bars, const TrainParams *p)
{
	int64		from = 0;

	if (bars->n == 0)
		return 0;
	if (p->lookback_bars > 0)
		from = Max(bars->n - p->lookback_bars, 0);
	else if (p->lookback_us > 0)
	{
		int64		cut = bars->bars[bars->n - 1].ts - p->lookback_us;

		while (from < bars->n && bars->bars[from].ts < cut)
			from++;
	}
	return from;
}

static FsSplitPlan *
plan_splits(const FsmmlDataset *ds, const TrainParams *p, const char *instance)
{
	FsSplitPlan *plan = palloc0(sizeof(FsSplitPlan));
	FsSplitStatus st;

	st = fs_walkforward_plan(ds->nrows, p->folds - 1, p->test_size, p->horizon, p->embargo,
							 MIN_TRAIN_ROWS, MIN_TEST_ROWS, plan);
	if (st == FS_SPLIT_TOO_FEW_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few rows to train %s: " INT64_FORMAT " usable rows for %d folds",
						instance, ds->nrows, p->folds),
				 errdetail("%s (%lld rows dropped for a NULL feature, %lld without a label yet).",
						   plan->detail, (long long) ds->dropped_null,
						   (long long) ds->dropped_unlabeled),
				 errhint("Load more bars, lower params.folds or params.test_size, or widen params.lookback (\"all\").")));
	if (st != FS_SPLIT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid split parameters: %s", fs_split_status_message(st)),
				 errdetail("%s", plan->detail)));
	return plan;
}

/* The body of fsmml_train for DirectionXGB; returns the new version. */
static FsmmlTrainResult
train_direction(const char *agent, const char *symbol, const char *timeframe, Jsonb *params,
				MemoryContext cxt)
{
	char	   *instance = fsmml_instance_name(agent, symbol, timeframe);
	TrainParams *p = fsmml_train_params(agent, timeframe, params, cxt);
	List	   *features = fsmml_resolve_features(timeframe, p->features);
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	FsSplitPlan *plan;
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), cxt);
	cJSON	   *folds = cJSON_AddArrayToObject(metrics, "folds");
	cJSON	   *rows;
	cJSON	   *holdout;
	cJSON	   *features_json;
	FitResult	final;
	double	   *prob;
	FsBacktest	bt;
	double		fit_seconds = 0;
	instr_time	t0,
				t1;
	FsmmlNewVersion v = {0};
	FsmmlTrainResult res;
	ListCell   *lc;

	fsmml_progress_begin(instance, p->folds, p->rounds);
	fsmml_progress_phase("loading", 0);
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, DT_NOEND, cxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe),
				 errhint("Load bars for the symbol and timeframe first; symbols are case-sensitive.")));
	if (p->features == NIL)
		features = fsmml_prune_null_features(symbol, timeframe, bars, window_start(bars, p),
											 features, p->horizon);
	ds = fsmml_dataset_build(symbol, timeframe, bars, window_start(bars, p), bars->n,
							 features, p->horizon, true, cxt);
	if (ds->nrows == 0 && ds->dropped_null > 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("every row of %s has a NULL feature", instance),
				 errdetail(INT64_FORMAT " rows dropped.", ds->dropped_null),
				 errhint("Choose features defined on this series in params.features, or load more bars (long look-backs need warm-up).")));
	plan = plan_splits(ds, p, instance);

	rows = cJSON_AddObjectToObject(metrics, "rows");
	cJSON_AddNumberToObject(rows, "bars", (double) bars->n);
	cJSON_AddNumberToObject(rows, "dropped_null", (double) ds->dropped_null);
	cJSON_AddNumberToObject(rows, "dropped_unlabeled", (double) ds->dropped_unlabeled);
	cJSON_AddNumberToObject(rows, "used", (double) ds->nrows);
	cJSON_AddNumberToObject(rows, "train", (double) plan->final_ntrain);
	cJSON_AddNumberToObject(rows, "holdout", (double) (plan->holdout.end - plan->holdout.start));

	/* Walk-forward folds: each scored on its own test block. */
	for (int k = 0; k < plan->folds; k++)
	{
		FsFold	   *f = &plan->fold[k];
		FitResult	r;
		cJSON	   *fj;

		fsmml_progress_phase("fold", k + 1);
		r = fit(cxt, ds, &f->train, p, p->horizon);
		fit_seconds += r.seconds;
		prob = predict_range(cxt, r.booster, ds, f->test);
		fj = class_metrics_json(ds, f->test, prob);
		cJSON_AddNumberToObject(fj, "fold", k + 1);
		cJSON_AddNumberToObject(fj, "train_rows", (double) f->ntrain);
		cJSON_AddNumberToObject(fj, "best_iteration", r.best_iteration);
		cJSON_AddItemToArray(folds, fj);
		fsmml_progress_fold_done(k + 1, "auc", cJSON_GetNumberValue(cJSON_GetObjectItem(fj, "auc")));
		fsxgb_booster_free(r.booster);
		pfree(prob);
	}

	/* The final fit on all development rows, scored on the hold-out. */
	fsmml_progress_phase("final", p->folds);
	final = fit(cxt, ds, &plan->final_train, p, p->horizon);
	fit_seconds += final.seconds;
	fsmml_progress_phase("evaluating", p->folds);
	INSTR_TIME_SET_CURRENT(t0);
	prob = predict_range(cxt, final.booster, ds, plan->holdout);
	INSTR_TIME_SET_CURRENT(t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	/* Attached to the owned tree at once: the backtest may raise an ERROR. */
	holdout = class_metrics_json(ds, plan->holdout, prob);
	cJSON_AddItemToObject(metrics, "holdout", holdout);
	fsmml_run_backtest(prob, ds->fwd_ret + plan->holdout.start,
					   plan->holdout.end - plan->holdout.start, p, timeframe, &bt);
	cJSON_AddItemToObject(holdout, "backtest", fsmml_backtest_json(&bt));
	cJSON_AddNumberToObject(metrics, "best_iteration", final.best_iteration);
	cJSON_AddNumberToObject(metrics, "rounds", final.rounds_run);
	json_num(metrics, "fit_seconds", fit_seconds);
	json_num(metrics, "score_seconds", INSTR_TIME_GET_DOUBLE(t1));
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
											v.metrics, bars, ds->ts[plan->holdout.start],
											ds->ts[plan->holdout.end - 1], cxt);
	}
	res.instance = instance;
	res.metrics = pstrdup(v.metrics);
	fsmml_progress_end();
	return res;
}

PG_FUNCTION_INFO_V1(fsmml_train);

Datum
fsmml_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt;
	MemoryContext oldcxt;
	char	   *agent;
	char	   *symbol;
	char	   *timeframe;
	Jsonb	   *params;
	char	   *kind;
	FsmmlTrainResult res;
	Datum		values[5];
	bool		nulls[5] = {false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("agent, symbol and timeframe must not be NULL")));
	agent = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(2));
	params = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	fsmml_timeframe_usec(timeframe);

	InitMaterializedSRF(fcinfo, 0);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml train", ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	kind = fsmml_agent_kind(agent);
	if (strcmp(agent, "DirectionXGB") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("training agent \"%s\" (%s) is not supported by fsmml %s",
						agent, kind, FSMML_VERSION),
				 errhint("fsmml_train trains DirectionXGB; other agents come in later versions.")));
	if (params == NULL)
		params = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	res = train_direction(agent, symbol, timeframe, params, cxt);

	MemoryContextSwitchTo(oldcxt);
	values[0] = Int64GetDatum(res.version_id);
	values[1] = CStringGetTextDatum(res.instance);
	values[2] = CStringGetTextDatum(res.version);
	values[3] = CStringGetTextDatum(res.status);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(res.metrics));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	SPI_finish();				/* returns to cxt, current at SPI_connect */
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
