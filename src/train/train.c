/*
 * train.c — fsmml_train (dispatched to the agent table, src/agents/) and
 * the pieces of DirectionXGB's training the agents share: fit, hold-out
 * metrics, the ExecRules backtest, the walk-forward plan.
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

#include "agent.h"
#include "dataset.h"
#include "exec_rules.h"
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

/*
 * The rows of ranges as an XGBoost training matrix, fed range by range
 * straight from the dataset (no copy); ref: the training matrix whose bins
 * a validation matrix reuses.  Threads and max_bin follow params.xgb, as the
 * booster's do.
 */
static FsXgbMatrix *
matrix_from_ranges(MemoryContext cxt, const FsmmlDataset *ds, const FsRangeSet *rs,
				   TrainParams *p, FsXgbMatrix *ref)
{
	FsXgbRowBlock *blocks = palloc0(sizeof(FsXgbRowBlock) * Max(rs->n, 1));
	int			nthread = fsxgb_jsonb_get_int(p->xgb, "nthread",
											  fsxgb_jsonb_get_int(p->xgb, "n_jobs",
																  fsmml_train_nthread));
	FsXgbMatrix *m;

	for (int i = 0; i < rs->n; i++)
	{
		blocks[i].data = ds->X + rs->r[i].start * ds->nfeat;
		blocks[i].labels = ds->y + rs->r[i].start;
		blocks[i].nrow = rs->r[i].end - rs->r[i].start;
	}
	m = fsxgb_matrix_create_quantile(cxt, blocks, rs->n, ds->nfeat, ref,
									 fsxgb_jsonb_get_int(p->xgb, "max_bin", 256), nthread);
	fsxgb_matrix_set_feature_names(m, (const char *const *) ds->names, ds->nfeat);
	pfree(blocks);
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
	mats[0] = matrix_from_ranges(cxt, ds, &fitset, p, NULL);
	mats[1] = stopping ? matrix_from_ranges(cxt, ds, &valid, p, mats[0]) : NULL;
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

/* ---- what agents/direction_xgb.c and the other agents call (train.h) */

FsmmlFit
fsmml_fit(MemoryContext cxt, const FsmmlDataset *ds, const FsRangeSet *train, TrainParams *p,
		  int purge)
{
	FitResult	r = fit(cxt, ds, train, p, purge);
	FsmmlFit	out;

	out.booster = r.booster;
	out.best_iteration = r.best_iteration;
	out.rounds_run = r.rounds_run;
	out.valid_metric = r.valid_metric;
	out.seconds = r.seconds;
	return out;
}

double *
fsmml_predict_range(MemoryContext cxt, FsXgbBooster *b, const FsmmlDataset *ds, FsRange range)
{
	return predict_range(cxt, b, ds, range);
}

cJSON *
fsmml_class_metrics_json(const FsmmlDataset *ds, FsRange range, const double *prob)
{
	return class_metrics_json(ds, range, prob);
}

int64
fsmml_window_start(const FsmmlBars *bars, const TrainParams *p)
{
	return window_start(bars, p);
}

FsSplitPlan *
fsmml_plan_splits(const FsmmlDataset *ds, const TrainParams *p, const char *instance)
{
	return plan_splits(ds, p, instance);
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
	FsAgentTrainCtx ctx;
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
	/* the catalogue row (an ERROR for a name it lacks), then the table's agent */
	kind = fsmml_agent_kind(agent);
	(void) kind;
	ctx.agent = fsmml_agent_get(agent)->name;
	ctx.symbol = symbol;
	ctx.timeframe = timeframe;
	ctx.params = params ? params :
		DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	ctx.cxt = cxt;
	res = fsmml_agent_get(agent)->train(&ctx);

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
