/*
 * state_fsm.c — StateFSM: the effort/result state machine (kernel/statefsm.c)
 * and its next-state classifier.
 *
 *   thresholds  effort_p20/p80, result_p20/p80, layer_sep, bias_slope from the
 *               active trading.calibrations row when it has them (all six),
 *               else from the development rows: the 20th/80th percentiles of
 *               effort and result, the median of compression (layer_sep) and
 *               the 70th percentile of |slope| (bias_slope).  Stored in the blob.
 *   classifier  XGBoost multi:softprob (train.c's fit) on effort, result,
 *               compression, slope, speed, rsi_14, macd_hist predicting the
 *               next bar's rule state; hold-out accuracy and per-state F1
 *               against the majority-class baseline.  Promotion metric:
 *               holdout.macro_f1 (higher is better).
 *   payload     {"state", "confidence" 0..100, "next_state", "metrics": {effort,
 *               result, compression, slope, speed, feat_score}}; no row while a
 *               metric is NULL.  fsmml_score also writes state_history and
 *               transitions from these rows.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "agent.h"
#include "fsmml.h"
#include "statefsm.h"
#include "xgb.h"

static const char *const state_keys[] = {
	"lookback", "test_size", "rounds", "early_stopping_rounds", "auto_promote", "xgb", NULL
};

/* Columns of the version: the five metrics, feat_score, then the classifier's extra inputs. */
static const char *const state_features[] = {
	"effort", "result", "compression", "slope", "speed", "feat_score", "rsi_14", "macd_hist", NULL
};
/* The classifier's inputs, as indexes into state_features. */
static const int clf_cols[] = {0, 1, 2, 3, 4, 6, 7};
#define NCLF lengthof(clf_cols)
#define NSTATES FS_FSM_NSTATES

static const char *const threshold_keys[6] = {
	"effort_p20", "effort_p80", "result_p20", "result_p80", "layer_sep", "bias_slope"
};

static Jsonb *
clf_xgb(cJSON *p)
{
	cJSON	   *x = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(p, "xgb"), true);
	char	   *s;

	if (!cJSON_IsObject(x))
	{
		cJSON_Delete(x);
		fsmml_param_error("xgb", "an object of XGBoost parameters", "{\"max_depth\": 4}");
	}
	if (cJSON_GetObjectItemCaseSensitive(x, "objective"))
		cJSON_ReplaceItemInObjectCaseSensitive(x, "objective", cJSON_CreateString("multi:softprob"));
	else
		cJSON_AddStringToObject(x, "objective", "multi:softprob");
	if (cJSON_GetObjectItemCaseSensitive(x, "num_class"))
		cJSON_DeleteItemFromObjectCaseSensitive(x, "num_class");
	cJSON_AddNumberToObject(x, "num_class", NSTATES);
	s = fsxgb_json_print(x);
	cJSON_Delete(x);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

static void
state_validate(cJSON *p, const char *timeframe)
{
	fsmml_param_num(p, "test_size", 0, 0.9, true, "a number in (0, 0.9)", "0.2");
	fsmml_param_int(p, "rounds", 1, 100000, "200");
	fsmml_param_int(p, "early_stopping_rounds", 0, 100000, "20");
	fsmml_param_bool(p, "auto_promote");
	fsxgb_limits_check_jsonb(clf_xgb(p), fsmml_param_int(p, "rounds", 1, 100000, "200"));
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
percentile(const FsmmlDataset *ds, int64 n, int col, double q, bool absolute)
{
	double	   *v = palloc(sizeof(double) * n);
	double		pos,
				r;
	int64		lo;

	for (int64 i = 0; i < n; i++)
	{
		v[i] = ds->X[i * ds->nfeat + col];
		if (absolute)
			v[i] = fabs(v[i]);
	}
	qsort(v, n, sizeof(double), cmp_double);
	pos = q * (n - 1);			/* linear interpolation, as numpy */
	lo = (int64) floor(pos);
	r = lo + 1 < n ? v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) : v[lo];
	pfree(v);
	return r;
}

/* The thresholds: the calibration's, else the development rows' percentiles. */
static const char *
thresholds(FsAgentTrainCtx *ctx, const FsAgentData *d, FsFsmThresholds *t)
{
	int64		cal_id = 0;
	cJSON	   *cal = fsmml_active_calibration(ctx->symbol, ctx->timeframe, &cal_id, ctx->cxt);
	bool		any = false;
	double		v[6];
	const char *bad;

	for (int i = 0; i < 6 && cal; i++)
		any |= cJSON_GetObjectItemCaseSensitive(cal, threshold_keys[i]) != NULL;
	if (any)
	{
		for (int i = 0; i < 6; i++)
		{
			v[i] = fsmml_json_get_num(cal, threshold_keys[i]);
			if (isnan(v[i]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("active calibration " INT64_FORMAT " lacks a number for key \"%s\"",
								cal_id, threshold_keys[i]),
						 errhint("The state machine needs effort_p20, effort_p80, result_p20, result_p80, layer_sep and bias_slope; fix the row or set is_active = false.")));
		}
		t->effort_p20 = v[0];
		t->effort_p80 = v[1];
		t->result_p20 = v[2];
		t->result_p80 = v[3];
		t->layer_sep = v[4];
		t->bias_slope = v[5];
	}
	else
	{
		t->effort_p20 = percentile(d->ds, d->dev_end, 0, 0.2, false);
		t->effort_p80 = percentile(d->ds, d->dev_end, 0, 0.8, false);
		t->result_p20 = percentile(d->ds, d->dev_end, 1, 0.2, false);
		t->result_p80 = percentile(d->ds, d->dev_end, 1, 0.8, false);
		t->layer_sep = percentile(d->ds, d->dev_end, 2, 0.5, false);
		t->bias_slope = percentile(d->ds, d->dev_end, 3, 0.7, true);
	}
	bad = fs_fsm_thresholds_invalid(t);
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state machine thresholds %s are unusable: %s",
						any ? psprintf("of calibration " INT64_FORMAT, cal_id) : "of the training window", bad),
				 errhint(any ? "Fix the calibration row or set is_active = false." :
						 "Load more bars: the window's effort and result do not spread.")));
	return any ? psprintf("calibration " INT64_FORMAT, cal_id) : "training percentiles";
}

static FsFsmState
row_state(const float *x, const FsFsmThresholds *t, double *conf)
{
	FsFsmMetrics m = {x[0], x[1], x[2], x[3], x[4]};

	return fs_fsm_classify(&m, t, conf);
}

static FsmmlTrainResult
state_train(FsAgentTrainCtx *ctx)
{
	cJSON	   *p = fsmml_agent_params(&fsmml_agent_state_fsm, ctx->timeframe, ctx->params, ctx->cxt);
	List	   *features = NIL;
	FsAgentData *d;
	FsmmlDataset *ds,
			   *cd;
	FsFsmThresholds t;
	const char *thr_from;
	int		   *state;
	int64		n,
				nc = 0,
				cdev = 0,
				cho;
	TrainParams tp = {0};
	FsRangeSet	dev = {0};
	FsmmlFit	fit;
	float	   *prob;
	int64		confusion[NSTATES][NSTATES] = {{0}};
	int64		dev_count[NSTATES] = {0};
	int64		correct = 0,
				base_correct = 0;
	int			majority = 0;
	double		macro = 0;
	int			nmacro = 0;
	cJSON	   *doc = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *holdout,
			   *o,
			   *arr;
	FsAgentVersion av = {0};
	ListCell   *lc;

	for (int i = 0; state_features[i]; i++)
		features = lappend(features, (char *) state_features[i]);
	{
		/* fixed inputs, recorded in the resolved params (and never pruned) */
		cJSON	   *f = cJSON_CreateArray();

		for (int i = 0; state_features[i]; i++)
			cJSON_AddItemToArray(f, cJSON_CreateString(state_features[i]));
		cJSON_AddItemToObject(p, "features", f);
	}
	d = fsmml_agent_data(ctx, p, features, 1, 300);
	ds = d->ds;
	n = ds->nrows;
	thr_from = thresholds(ctx, d, &t);

	/* Rule states, then the classifier's rows: a row whose next bar is the next row. */
	state = palloc(sizeof(int) * n);
	for (int64 i = 0; i < n; i++)
	{
		double		c;

		state[i] = row_state(ds->X + i * ds->nfeat, &t, &c);
	}
	cd = palloc0(sizeof(FsmmlDataset));
	cd->nfeat = NCLF;
	cd->names = palloc(sizeof(char *) * NCLF);
	for (int j = 0; j < NCLF; j++)
		cd->names[j] = (char *) state_features[clf_cols[j]];
	cd->X = MemoryContextAllocHuge(ctx->cxt, sizeof(float) * n * NCLF);
	cd->y = MemoryContextAllocHuge(ctx->cxt, sizeof(float) * n);
	cd->ts = MemoryContextAllocHuge(ctx->cxt, sizeof(int64) * n);
	for (int64 i = 0; i + 1 < n; i++)
	{
		if (d->bar_index[i + 1] != d->bar_index[i] + 1 || state[i + 1] < 0)
			continue;
		for (int j = 0; j < NCLF; j++)
			cd->X[nc * NCLF + j] = ds->X[i * ds->nfeat + clf_cols[j]];
		cd->y[nc] = (float) state[i + 1];
		cd->ts[nc] = ds->ts[i];
		if (i < d->dev_end)
			cdev = nc + 1;
		nc++;
	}
	cd->nrows = nc;
	/* hold-out rows: those at or after holdout_start */
	cho = cdev;
	while (cho < nc && cd->ts[cho] < ds->ts[d->holdout_start])
		cho++;
	if (cdev < 200 || nc - cho < 20)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few rows to train StateFSM's classifier: " INT64_FORMAT " development, " INT64_FORMAT " hold-out",
						cdev, nc - cho),
				 errhint("Load more bars or widen params.lookback (\"all\").")));

	tp.horizon = 1;
	tp.rounds = fsmml_param_int(p, "rounds", 1, 100000, "200");
	tp.early_stopping_rounds = fsmml_param_int(p, "early_stopping_rounds", 0, 100000, "20");
	tp.xgb = clf_xgb(p);
	dev.n = 1;
	dev.r[0].start = 0;
	dev.r[0].end = cdev;
	fit = fsmml_fit(ctx->cxt, cd, &dev, &tp, 1);

	prob = palloc(sizeof(float) * (nc - cho) * NSTATES);
	fsxgb_predict_dense(fit.booster, cd->X + cho * NCLF, nc - cho, NCLF, prob, (nc - cho) * NSTATES);
	for (int64 i = 0; i < cdev; i++)
		dev_count[(int) cd->y[i]]++;
	for (int s = 1; s < NSTATES; s++)
		if (dev_count[s] > dev_count[majority])
			majority = s;
	for (int64 i = cho; i < nc; i++)
	{
		const float *pr = prob + (i - cho) * NSTATES;
		int			best = 0;
		int			truth = (int) cd->y[i];

		for (int s = 1; s < NSTATES; s++)
			if (pr[s] > pr[best])
				best = s;
		confusion[truth][best]++;
		correct += best == truth;
		base_correct += majority == truth;
	}

	holdout = cJSON_AddObjectToObject(metrics, "holdout");
	cJSON_AddNumberToObject(holdout, "rows", (double) (nc - cho));
	fsmml_json_num(holdout, "accuracy", (double) correct / (nc - cho));
	fsmml_json_num(holdout, "baseline_accuracy", (double) base_correct / (nc - cho));
	cJSON_AddStringToObject(holdout, "baseline_state", fs_fsm_state_name(majority));
	o = cJSON_AddObjectToObject(holdout, "f1");
	for (int s = 0; s < NSTATES; s++)
	{
		int64		tp_ = confusion[s][s],
					fp = 0,
					fn = 0;
		double		f1;

		for (int u = 0; u < NSTATES; u++)
			if (u != s)
			{
				fp += confusion[u][s];
				fn += confusion[s][u];
			}
		f1 = (2 * tp_ + fp + fn) > 0 ? 2.0 * tp_ / (2 * tp_ + fp + fn) : NAN;
		fsmml_json_num(o, fs_fsm_state_name(s), f1);
		if (!isnan(f1))
		{
			macro += f1;
			nmacro++;
		}
	}
	fsmml_json_num(holdout, "macro_f1", nmacro ? macro / nmacro : NAN);
	{
		/* the baseline's macro F1: F1 of the majority state only, 0 for the others present */
		int64		tp_ = 0,
					present = 0;

		for (int s = 0; s < NSTATES; s++)
		{
			int64		cnt = 0;

			for (int u = 0; u < NSTATES; u++)
				cnt += confusion[s][u];
			present += cnt > 0 || s == majority;
		}
		for (int u = 0; u < NSTATES; u++)
			tp_ += confusion[majority][u];
		fsmml_json_num(holdout, "baseline_macro_f1",
					   present ? (2.0 * tp_ / (tp_ + (nc - cho))) / present : NAN);
	}
	o = cJSON_AddObjectToObject(metrics, "state_shares");
	for (int s = 0; s < NSTATES; s++)
	{
		int64		cnt = 0;

		for (int64 i = 0; i < n; i++)
			cnt += state[i] == s;
		fsmml_json_num(o, fs_fsm_state_name(s), (double) cnt / n);
	}
	o = cJSON_AddObjectToObject(metrics, "thresholds");
	fsmml_json_num(o, "effort_p20", t.effort_p20);
	fsmml_json_num(o, "effort_p80", t.effort_p80);
	fsmml_json_num(o, "result_p20", t.result_p20);
	fsmml_json_num(o, "result_p80", t.result_p80);
	fsmml_json_num(o, "layer_sep", t.layer_sep);
	fsmml_json_num(o, "bias_slope", t.bias_slope);
	cJSON_AddStringToObject(metrics, "thresholds_from", thr_from);
	cJSON_AddNumberToObject(metrics, "best_iteration", fit.best_iteration);
	arr = cJSON_AddObjectToObject(metrics, "rows");
	cJSON_AddNumberToObject(arr, "used", (double) n);
	cJSON_AddNumberToObject(arr, "classifier_train", (double) cdev);
	cJSON_AddNumberToObject(arr, "classifier_holdout", (double) (nc - cho));

	cJSON_AddStringToObject(doc, "format", "fsmml-state-fsm/1");
	cJSON_AddItemToObject(doc, "thresholds", cJSON_Duplicate(o, true));
	cJSON_AddStringToObject(doc, "thresholds_from", thr_from);
	cJSON_AddStringToObject(doc, "classifier", fsmml_b64(fsxgb_booster_save(fit.booster, "ubj")));
	arr = cJSON_AddArrayToObject(doc, "states");
	for (int s = 0; s < NSTATES; s++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(fs_fsm_state_name(s)));

	fsmml_agent_version_init(&av, ctx, d, p, doc, metrics, "fsm+multi:softprob");
	av.v.feature_names = features;	/* fixed inputs, never pruned */
	av.score = nmacro ? macro / nmacro : -INFINITY;
	av.score_name = "holdout.macro_f1";
	av.higher_better = true;
	av.data = d;				/* promotion re-scores the champion on its hold-out */
	(void) lc;
	return fsmml_agent_register(ctx, &av);
}

typedef struct StateState
{
	FsFsmThresholds t;
	FsXgbBooster *clf;
	int		   *cols;
} StateState;

static void
state_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	/* the parsed document (the classifier as base64) is not kept with the model */
	MemoryContext scratch = AllocSetContextCreate(cxt, "fsmml model document", ALLOCSET_DEFAULT_SIZES);
	cJSON	   *doc = fsmml_blob_to_json(blob, scratch);
	cJSON	   *t = cJSON_GetObjectItemCaseSensitive(doc, "thresholds");
	cJSON	   *c = cJSON_GetObjectItemCaseSensitive(doc, "classifier");
	StateState *s = palloc0(sizeof(StateState));

	s->t.effort_p20 = fsmml_json_get_num(t, "effort_p20");
	s->t.effort_p80 = fsmml_json_get_num(t, "effort_p80");
	s->t.result_p20 = fsmml_json_get_num(t, "result_p20");
	s->t.result_p80 = fsmml_json_get_num(t, "result_p80");
	s->t.layer_sep = fsmml_json_get_num(t, "layer_sep");
	s->t.bias_slope = fsmml_json_get_num(t, "bias_slope");
	if (fs_fsm_thresholds_invalid(&s->t) || !cJSON_IsString(c) ||
		list_length(m->features) != lengthof(state_features) - 1)
		fsmml_agent_damaged(m, "a damaged model");
	s->clf = fsmml_booster_from_b64(cxt, c->valuestring);
	m->state = s;
	MemoryContextDelete(scratch);
	MemoryContextSwitchTo(old);
}

static void
state_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	StateState *s = m->state;
	int64		n = to - from;
	float	   *X = palloc(sizeof(float) * Max(n, 1) * NCLF);
	float	   *prob = palloc(sizeof(float) * Max(n, 1) * NSTATES);

	if (s->cols == NULL)
		s->cols = fsmml_agent_columns(m, b->ds);
	for (int64 i = 0; i < n; i++)
	{
		const float *x = b->ds->X + (from + i) * b->ds->nfeat;
		FsAgentRow *r = &b->rows[from + i];
		float		v[lengthof(state_features) - 1];
		double		conf;

		for (int j = 0; j < lengthof(state_features) - 1; j++)
			v[j] = x[s->cols[j]];
		for (int j = 0; j < NCLF; j++)
			X[i * NCLF + j] = v[clf_cols[j]];
		r->state = row_state(v, &s->t, &conf);
		r->confidence = rint(conf * 100) / 100;
		for (int j = 0; j < 6; j++)
			r->m[j] = v[j];
	}
	fsxgb_predict_dense(s->clf, X, n, NCLF, prob, n * NSTATES);
	for (int64 i = 0; i < n; i++)
	{
		const float *pr = prob + i * NSTATES;
		int			best = 0;

		for (int k = 1; k < NSTATES; k++)
			if (pr[k] > pr[best])
				best = k;
		b->rows[from + i].next_state = b->rows[from + i].state >= 0 ? best : -1;
	}
	pfree(X);
	pfree(prob);
}

static Jsonb *
state_payload(FsAgentModel *m, const FsAgentRow *r)
{
	static const char *const mnames[6] = {"effort", "result", "compression", "slope", "speed", "feat_score"};
	FsJb		b;

	if (r->state < 0)
		return NULL;
	fsmml_jb_begin(&b);
	fsmml_jb_str(&b, "state", fs_fsm_state_name(r->state));
	fsmml_jb_num(&b, "confidence", rint(r->confidence * 100) / 100, false);
	fsmml_jb_str(&b, "next_state", fs_fsm_state_name(r->next_state));
	fsmml_jb_object(&b, "metrics");
	for (int j = 0; j < 6; j++)
		fsmml_jb_num(&b, mnames[j], r->m[j], true);
	fsmml_jb_end_object(&b);
	return fsmml_jb_end(&b);
}

const FsAgent fsmml_agent_state_fsm = {
	.name = "StateFSM",
	.kind = "state",
	.param_keys = state_keys,
	.validate = state_validate,
	.train = state_train,
	.load = state_load,
	.predict = state_predict,
	.payload = state_payload,
	.writes_preds = true,
};
