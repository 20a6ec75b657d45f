/*
 * vol_quantile.c — VolQuantile: the next H bars' absolute move
 * |close(t+H)/close(t) - 1| by quantile regression.
 *
 *   train    per quantile q of params.quantiles: a linear quantile
 *            regression (kernel/quantreg.c, IRLS as statsmodels' QuantReg,
 *            at most params.linear_rounds reweightings), then an XGBoost
 *            booster from its margin, boosted with the pinball loss through
 *            XGBoosterBoostOneIter: gradient -q where the prediction is
 *            below the target, 1 - q above it, hessian 1 (XGBoost 1.7 has
 *            no quantile objective).  The target is divided by the row's
 *            atr_14 (ATR14 / close, a feature; by the development rows' mean
 *            move when atr_14 is not one): quantiles are equivariant under
 *            that positive scaling, leaf steps are of order one and the
 *            trees model a near-constant ratio instead of a multiplicative
 *            law.
 *   metrics  per quantile on the hold-out: pinball loss (in units of the
 *            relative move), coverage (share of targets at or below the
 *            prediction) and the linear stage's iterations; promotion metric
 *            holdout.pinball_mean (lower is better).
 *   payload  sigma = the median's move in price units; sl = sl_mult x the
 *            highest quantile's move, tp = tp_mult x sigma (price units);
 *            sl_atr / tp_atr = the same over ATR14 in price units.
 *            Quantiles are sorted per row so they never cross; no payload
 *            while ATR14 or a feature of the linear stage is undefined.
 *   blob     fsmml-json: {"format": "fsmml-vol-quantile/3", "quantiles",
 *            "scale", "normaliser", "boosters": [{"linear_coef": [intercept,
 *            one slope per feature], "trees": base64 UBJ}, ...]}; the
 *            prediction is the linear stage plus the trees.  Format /2 had a
 *            gblinear booster ("linear": base64 UBJ) instead; it still loads.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "agent.h"
#include "fsmml.h"
#include "quantreg.h"
#include "xgb.h"

static const char *const vol_keys[] = {
	"quantiles", "horizon", "lookback", "test_size", "rounds", "linear_rounds", "normaliser", "sl_mult", "tp_mult",
	"features", "auto_promote", "xgb", NULL
};

static const char *const default_features[] = {
	"atr_14", "atr_7", "parkinson_20", "vol_ret_20", "bb_width_20", "range_pct",
	"vol_ratio_20", "effort", "result", "compression", "speed", "ret_1", NULL
};

#define QUANTILES_EXAMPLE "[0.5, 0.9]"

static double *
parse_quantiles(cJSON *p, int *nq)
{
	double	   *q = fsmml_param_nums(p, "quantiles", nq, QUANTILES_EXAMPLE);
	bool		has_median = false;

	for (int i = 0; i < *nq; i++)
	{
		if (!(q[i] > 0 && q[i] < 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.quantiles: %g is outside (0, 1)", q[i]),
					 errhint("Quantiles are probabilities strictly between 0 and 1, e.g. " QUANTILES_EXAMPLE ".")));
		if (i > 0 && !(q[i] > q[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.quantiles must be sorted ascending without repeats"),
					 errhint("For example " QUANTILES_EXAMPLE ".")));
		has_median |= q[i] == 0.5;
	}
	if (!has_median)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.quantiles must include 0.5"),
				 errhint("sigma is the median's move, e.g. " QUANTILES_EXAMPLE ".")));
	if (*nq > 9)
		fsmml_param_error("quantiles", "at most 9 quantiles", QUANTILES_EXAMPLE);
	return q;
}

static Jsonb *
xgb_params(cJSON *p)
{
	cJSON	   *x = cJSON_GetObjectItemCaseSensitive(p, "xgb");

	if (!cJSON_IsObject(x))
		fsmml_param_error("xgb", "an object of XGBoost parameters", "{\"max_depth\": 4}");
	if (cJSON_GetObjectItemCaseSensitive(x, "objective"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.xgb.objective cannot be set for VolQuantile"),
				 errhint("VolQuantile boosts its own pinball loss; remove \"objective\".")));
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(fsxgb_json_print(x))));
}

static void
vol_validate(cJSON *p, const char *timeframe)
{
	int			nq;

	parse_quantiles(p, &nq);
	fsmml_param_int(p, "horizon", 1, 10000, "10");
	fsmml_param_int(p, "rounds", 1, 100000, "300");
	fsmml_param_int(p, "linear_rounds", 0, 100000, "100");
	{
		char	   *nm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "normaliser"));

		if (nm == NULL || (strcmp(nm, "atr_14") != 0 && strcmp(nm, "mean") != 0))
			fsmml_param_error("normaliser", "\"atr_14\" or \"mean\"", "\"atr_14\"");
	}
	fsmml_param_num(p, "sl_mult", 0, 100, true, "a positive number", "1.0");
	fsmml_param_num(p, "tp_mult", 0, 100, true, "a positive number", "3.0");
	fsmml_param_num(p, "test_size", 0, 0.9, true, "a number in (0, 0.9)", "0.2");
	fsmml_param_bool(p, "auto_promote");
	fsmml_param_features(p, default_features);
	fsxgb_limits_check_jsonb(xgb_params(p), fsmml_param_int(p, "rounds", 1, 100000, "300"));
}

static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return x < y ? -1 : x > y;
}

static double
pinball(const float *y, const float *pred, int64 n, double q, double *coverage)
{
	double		s = 0;
	int64		below = 0;

	for (int64 i = 0; i < n; i++)
	{
		double		r = (double) y[i] - pred[i];

		s += r >= 0 ? q * r : (q - 1) * r;
		below += y[i] <= pred[i];
	}
	*coverage = n ? (double) below / n : NAN;
	return n ? s / n : NAN;
}

static void
vol_interrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * The tree stage: boosts on a QuantileDMatrix (built in batches, so a cancel
 * stops its construction and round 0 builds no index), from the linear
 * stage's margin.  XGBoost 1.7 cannot predict from a QuantileDMatrix on the
 * CPU, so each round's predictions are in-place ones on the dense rows plus
 * that margin (base_score 0).
 */
static void
boost_pinball_trees(FsXgbBooster *b, FsXgbMatrix *dq, const float *X, int nfeat, const float *y,
					const float *margin, float *grad, float *hess, float *pred, int64 n,
					double q, int rounds)
{
	for (int it = 0; it < rounds; it++)
	{
		CHECK_FOR_INTERRUPTS();
		if (it == 0)
			memset(pred, 0, sizeof(float) * n);
		else
			fsxgb_predict_dense(b, X, n, nfeat, pred, n);
		for (int64 i = 0; i < n; i++)
		{
			float		p = pred[i] + margin[i];

			grad[i] = y[i] > p ? (float) -q : (float) (1 - q);
			hess[i] = 1.0f;
		}
		fsxgb_booster_boost_grad(b, it, dq, grad, hess, n);
	}
}

static FsmmlTrainResult
vol_train(FsAgentTrainCtx *ctx)
{
	cJSON	   *p = fsmml_agent_params(&fsmml_agent_vol_quantile, ctx->timeframe, ctx->params, ctx->cxt);
	int			nq;
	double	   *q = parse_quantiles(p, &nq);
	int			horizon = fsmml_param_int(p, "horizon", 1, 10000, "10");
	int			rounds = fsmml_param_int(p, "rounds", 1, 100000, "300");
	Jsonb	   *xgb = xgb_params(p);
	FsAgentData *d = fsmml_agent_data(ctx, p, fsmml_param_features(p, default_features), horizon, 200);
	FsmmlDataset *ds = d->ds;
	int64		ndev = d->dev_end,
				nho = ds->nrows - d->holdout_start;
	const float *Xho = ds->X + d->holdout_start * ds->nfeat;
	float	   *y = palloc(sizeof(float) * ds->nrows);
	float	   *grad = palloc(sizeof(float) * ndev);
	float	   *hess = palloc(sizeof(float) * ndev);
	float	   *pred = palloc(sizeof(float) * Max(ndev, nho));
	float	   *yho = palloc(sizeof(float) * nho);
	double		scale = 0,
				pin_sum = 0;
	double	   *norm;
	int			atr_col = -1;
	int			nthread;
	bool		by_atr = strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "normaliser")), "atr_14") == 0;
	int			linear_rounds = fsmml_param_int(p, "linear_rounds", 0, 100000, "100");
	float	   *linho = palloc(sizeof(float) * Max(nho, 1));
	FsXgbMatrix *dtrees;
	float	   *linmargin;
	double	   *coef = palloc(sizeof(double) * (ds->nfeat + 1));
	double	   *qrwork = palloc(sizeof(double) * fs_quantreg_work_size(ndev, ds->nfeat));
	cJSON	   *doc = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *boosters,
			   *holdout,
			   *perq,
			   *arr;
	FsAgentVersion av = {0};
	ListCell   *lc;

	for (int64 i = 0; i < ds->nrows; i++)
		y[i] = (float) fabs(ds->fwd_ret[i]);
	for (int64 i = 0; i < ndev; i++)
		scale += y[i];
	scale /= ndev;
	if (!(scale > 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the price never moves over %d bars in the training window", horizon),
				 errhint("VolQuantile needs moving prices.")));
	for (int j = 0; j < ds->nfeat; j++)
		if (strcmp(ds->names[j], "atr_14") == 0 && by_atr)
			atr_col = j;
	norm = palloc(sizeof(double) * ds->nrows);
	for (int64 i = 0; i < ds->nrows; i++)
	{
		double		a = atr_col >= 0 ? ds->X[i * ds->nfeat + atr_col] : NAN;

		norm[i] = a > 0 ? a : scale;
		y[i] = (float) (y[i] / norm[i]);
	}
	for (int64 i = 0; i < nho; i++)
		yho[i] = y[d->holdout_start + i];

	/* params.xgb.nthread for the matrix too, as the boosters take it */
	nthread = fsxgb_jsonb_get_int(xgb, "nthread", fsxgb_jsonb_get_int(xgb, "n_jobs", fsmml_train_nthread));
	{
		FsXgbRowBlock block = {ds->X, y, (uint64) ndev};

		dtrees = fsxgb_matrix_create_quantile(ctx->cxt, &block, 1, ds->nfeat, NULL,
											  fsxgb_jsonb_get_int(xgb, "max_bin", 256), nthread);
	}
	linmargin = palloc(sizeof(float) * Max(ndev, 1));
	boosters = cJSON_AddArrayToObject(doc, "boosters");
	holdout = cJSON_AddObjectToObject(metrics, "holdout");
	perq = cJSON_AddArrayToObject(holdout, "quantiles");
	for (int k = 0; k < nq; k++)
	{
		FsXgbBooster *b;
		int			iters;
		double		pin,
					cov;
		cJSON	   *o;
		cJSON	   *pair = cJSON_CreateObject();

		cJSON_AddItemToArray(boosters, pair);
		/* Stage 1: a linear quantile fit (IRLS, kernel/quantreg.c), the margin the trees start from. */
		iters = fs_quantreg_fit(ds->X, y, ndev, ds->nfeat, q[k], linear_rounds, coef, qrwork,
								vol_interrupt);
		for (int64 i = 0; i < ndev; i++)
			pred[i] = (float) fs_quantreg_predict(coef, ds->nfeat, ds->X + i * ds->nfeat);
		cJSON_AddItemToObject(pair, "linear_coef", cJSON_CreateDoubleArray(coef, ds->nfeat + 1));
		/* Stage 2: trees on the rest, from the linear margin (base_score 0). */
		memcpy(linmargin, pred, sizeof(float) * ndev);
		b = fsxgb_booster_create(ctx->cxt, &dtrees, 1, true);
		fsxgb_booster_set_params_jsonb(b, xgb);
		fsxgb_booster_set_param(b, "objective", "reg:squarederror");
		fsxgb_booster_set_param(b, "base_score", "0");
		boost_pinball_trees(b, dtrees, ds->X, ds->nfeat, y, linmargin, grad, hess, pred, ndev,
							q[k], rounds);
		for (int64 i = 0; i < nho; i++)
			linho[i] = (float) fs_quantreg_predict(coef, ds->nfeat, Xho + i * ds->nfeat);
		fsxgb_predict_dense(b, Xho, nho, ds->nfeat, pred, nho);
		for (int64 i = 0; i < nho; i++)
		{
			/* back to units of the relative move */
			pred[i] = (float) ((pred[i] + linho[i]) * norm[d->holdout_start + i]);
			yho[i] = (float) fabs(ds->fwd_ret[d->holdout_start + i]);
		}
		pin = pinball(yho, pred, nho, q[k], &cov);
		pin_sum += pin;
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(perq, o);
		cJSON_AddNumberToObject(o, "q", q[k]);
		fsmml_json_num(o, "pinball", pin);
		fsmml_json_num(o, "coverage", cov);
		cJSON_AddNumberToObject(o, "linear_iterations", Max(iters, 0));
		cJSON_AddStringToObject(pair, "trees", fsmml_b64(fsxgb_booster_save(b, "ubj")));
		fsxgb_booster_free(b);
	}
	fsxgb_matrix_free(dtrees);
	fsmml_json_num(holdout, "pinball_mean", pin_sum / nq);
	cJSON_AddNumberToObject(holdout, "rows", (double) nho);
	arr = cJSON_AddObjectToObject(metrics, "rows");
	cJSON_AddNumberToObject(arr, "used", (double) ds->nrows);
	cJSON_AddNumberToObject(arr, "train", (double) ndev);
	cJSON_AddNumberToObject(arr, "holdout", (double) nho);
	cJSON_AddNumberToObject(arr, "dropped_null", (double) ds->dropped_null);
	fsmml_json_num(metrics, "target_scale", scale);
	cJSON_AddNumberToObject(metrics, "rounds", rounds);

	cJSON_AddStringToObject(doc, "format", "fsmml-vol-quantile/3");
	cJSON_AddItemToObject(doc, "quantiles", cJSON_CreateDoubleArray(q, nq));
	fsmml_json_num(doc, "scale", scale);
	cJSON_AddStringToObject(doc, "normaliser", atr_col >= 0 ? "atr_14" : "scale");
	arr = cJSON_AddArrayToObject(doc, "features");
	foreach(lc, d->features)
		cJSON_AddItemToArray(arr, cJSON_CreateString(lfirst(lc)));

	fsmml_agent_params_set_features(p, d->features);
	fsmml_agent_version_init(&av, ctx, d, p, doc, metrics, psprintf("pinball:%d", nq));
	av.score = pin_sum / nq;
	av.score_name = "holdout.pinball_mean";
	av.higher_better = false;
	av.data = d;				/* promotion re-scores the champion on its hold-out */
	return fsmml_agent_register(ctx, &av);
}

typedef struct VolState
{
	int			nq;
	int			median;			/* index of q = 0.5 */
	double		scale,
				sl_mult,
				tp_mult;
	FsXgbBooster **boosters;	/* trees */
	FsXgbBooster **linear;		/* format /2: a gblinear stage */
	double	  **coef;			/* format /3: intercept and one slope per feature */
	int		   *cols;
	int			nf;
	int			atr;			/* index of atr_14 in the model's features, -1: scale */
} VolState;

static void
vol_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	/* the parsed document, hundreds of kB of base64, is not kept with the model */
	MemoryContext scratch = AllocSetContextCreate(cxt, "fsmml model document", ALLOCSET_DEFAULT_SIZES);
	cJSON	   *doc = fsmml_blob_to_json(blob, scratch);
	cJSON	   *qs = cJSON_GetObjectItemCaseSensitive(doc, "quantiles");
	cJSON	   *bs = cJSON_GetObjectItemCaseSensitive(doc, "boosters");
	VolState   *s = palloc0(sizeof(VolState));
	cJSON	   *x;
	int			i = 0;

	s->nq = cJSON_GetArraySize(qs);
	s->scale = fsmml_json_get_num(doc, "scale");
	s->sl_mult = fsmml_json_get_num(params, "sl_mult");
	s->tp_mult = fsmml_json_get_num(params, "tp_mult");
	s->median = -1;
	if (s->nq < 1 || cJSON_GetArraySize(bs) != s->nq || !(s->scale > 0) ||
		isnan(s->sl_mult) || isnan(s->tp_mult))
		fsmml_agent_damaged(m, "a damaged model");
	cJSON_ArrayForEach(x, qs)
	{
		if (cJSON_IsNumber(x) && x->valuedouble == 0.5)
			s->median = i;
		i++;
	}
	s->boosters = palloc(sizeof(FsXgbBooster *) * s->nq);
	s->linear = palloc0(sizeof(FsXgbBooster *) * s->nq);
	s->coef = palloc0(sizeof(double *) * s->nq);
	s->nf = list_length(m->features);
	i = 0;
	cJSON_ArrayForEach(x, bs)
	{
		cJSON	   *l = cJSON_GetObjectItemCaseSensitive(x, "linear");
		cJSON	   *t = cJSON_GetObjectItemCaseSensitive(x, "trees");

		cJSON	   *c = cJSON_GetObjectItemCaseSensitive(x, "linear_coef");

		if (!(cJSON_IsString(l) || (cJSON_IsArray(c) && cJSON_GetArraySize(c) == s->nf + 1)) ||
			!cJSON_IsString(t))
			fsmml_agent_damaged(m, "a damaged model");
		if (cJSON_IsString(l))
			s->linear[i] = fsmml_booster_from_b64(cxt, l->valuestring);
		else
		{
			cJSON	   *e;
			int			j = 0;

			s->coef[i] = palloc(sizeof(double) * (s->nf + 1));
			cJSON_ArrayForEach(e, c)
				s->coef[i][j++] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
		}
		s->boosters[i++] = fsmml_booster_from_b64(cxt, t->valuestring);
	}
	if (s->median < 0)
		s->median = s->nq / 2;
	s->nf = list_length(m->features);
	s->atr = -1;
	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "normaliser")) ?
			   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "normaliser")) : "", "atr_14") == 0)
		for (int j = 0; j < s->nf; j++)
			if (strcmp(list_nth(m->features, j), "atr_14") == 0)
				s->atr = j;
	m->state = s;
	MemoryContextDelete(scratch);
	MemoryContextSwitchTo(old);
}

static void
vol_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	VolState   *s = m->state;
	int64		n = to - from;
	float	   *X = palloc(sizeof(float) * Max(n, 1) * s->nf);
	float	   *out = palloc(sizeof(float) * Max(n, 1) * s->nq);
	float	   *one = palloc(sizeof(float) * Max(n, 1));
	float		qv[9];

	if (s->cols == NULL)
		s->cols = fsmml_agent_columns(m, b->ds);
	for (int64 i = 0; i < n; i++)
		for (int j = 0; j < s->nf; j++)
			X[i * s->nf + j] = b->ds->X[(from + i) * b->ds->nfeat + s->cols[j]];
	for (int k = 0; k < s->nq; k++)
	{
		fsxgb_predict_dense(s->boosters[k], X, n, s->nf, one, n);
		for (int64 i = 0; i < n; i++)
			out[i * s->nq + k] = one[i];
		if (s->linear[k])
		{
			fsxgb_predict_dense(s->linear[k], X, n, s->nf, one, n);
			for (int64 i = 0; i < n; i++)
				out[i * s->nq + k] += one[i];
		}
		else
			for (int64 i = 0; i < n; i++)
				out[i * s->nq + k] += (float) fs_quantreg_predict(s->coef[k], s->nf, X + i * s->nf);
	}
	for (int64 i = 0; i < n; i++)
	{
		FsAgentRow *r = &b->rows[from + i];
		double		close = r->close;
		double		unit = s->atr >= 0 ? X[i * s->nf + s->atr] : s->scale;

		bool		defined = unit > 0;

		memcpy(qv, out + i * s->nq, sizeof(float) * s->nq);
		for (int k = 0; k < s->nq; k++)
			defined &= !isnan(qv[k]);
		if (!defined)
			continue;			/* ATR or a feature of the linear stage not yet defined */
		qsort(qv, s->nq, sizeof(float), cmp_float);		/* no crossing */
		r->sigma = (float) (Max(qv[s->median], 0) * unit * close);
		r->sl_dist = (float) (s->sl_mult * Max(qv[s->nq - 1], 0) * unit * close);
		r->tp_dist = (float) (s->tp_mult * r->sigma);
	}
	pfree(X);
	pfree(out);
	pfree(one);
}

static Jsonb *
vol_payload(FsAgentModel *m, const FsAgentRow *r)
{
	FsJb		b;

	if (isnan(r->sigma))
		return NULL;
	fsmml_jb_begin(&b);
	fsmml_jb_num(&b, "sigma", r->sigma, true);
	fsmml_jb_num(&b, "sl", r->sl_dist, true);
	fsmml_jb_num(&b, "tp", r->tp_dist, true);
	fsmml_jb_num(&b, "sl_atr", r->atr > 0 ? r->sl_dist / r->atr : NAN, true);
	fsmml_jb_num(&b, "tp_atr", r->atr > 0 ? r->tp_dist / r->atr : NAN, true);
	return fsmml_jb_end(&b);
}

const FsAgent fsmml_agent_vol_quantile = {
	.name = "VolQuantile",
	.kind = "volatility",
	.param_keys = vol_keys,
	.validate = vol_validate,
	.train = vol_train,
	.load = vol_load,
	.predict = vol_predict,
	.payload = vol_payload,
	.writes_preds = true,
};
