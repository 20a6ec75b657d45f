/*
 * regime_kmeans.c — RegimeKMeans: market regimes by k-means (kernel/kmeans.c)
 * on higher-timeframe snapshots (4h/1d features by default).
 *
 *   train    the development rows standardised with their own mean and sd
 *            (stored in the blob); k-means++ with params.n_init restarts and
 *            a fixed seed, Lloyd iterations to convergence.  Clusters map to
 *            regimes by the lag-1 autocorrelation of 1-bar returns measured
 *            inside each cluster on the development rows: the highest
 *            round(k/3) clusters are trend, the lowest round(k/3) mean_revert,
 *            the rest chop (k = 3: one of each).
 *   metrics  inertia, silhouette on an evenly spaced sample, regime shares;
 *            per regime on the hold-out: forward-return mean, volatility and
 *            the lag-1 autocorrelation of 1-bar returns.  Promotion metric:
 *            holdout.autocorr_spread (trend's autocorrelation minus
 *            mean_revert's on the hold-out; higher is better).
 *   payload  {"regime": "trend"|"mean_revert"|"chop", "gate": bool, "cluster": k};
 *            gate is false in chop.  No row while a feature is NULL.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"

#include "agent.h"
#include "fsmml.h"
#include "kmeans.h"
#include "xgb.h"

static const char *const regime_keys[] = {
	"k", "n_init", "max_iter", "seed", "features", "lookback", "test_size", "horizon",
	"silhouette_sample", "auto_promote", NULL
};

static const char *const default_features[] = {
	"h4_rsi_14", "h4_ema20_slope", "h4_ret_1", "h4_atr_14",
	"d1_rsi_14", "d1_ema20_slope", "d1_ret_1", "d1_atr_14", NULL
};

static void
regime_validate(cJSON *p, const char *timeframe)
{
	fsmml_param_int(p, "k", 2, 64, "3");
	fsmml_param_int(p, "n_init", 1, 100, "10");
	fsmml_param_int(p, "max_iter", 1, 10000, "300");
	fsmml_param_int(p, "seed", 0, INT_MAX, "42");
	fsmml_param_int(p, "horizon", 1, 10000, "10");
	fsmml_param_int(p, "silhouette_sample", 10, 100000, "2000");
	fsmml_param_num(p, "test_size", 0, 0.9, true, "a number in (0, 0.9)", "0.2");
	fsmml_param_bool(p, "auto_promote");
	fsmml_param_features(p, default_features);
}

static int
km_interrupted(void *arg)
{
	return InterruptPending ? 1 : 0;
}

/* Lag-1 autocorrelation of next-bar returns over consecutive rows both in group g (agent.h). */
double
fsmml_group_autocorr(const FsAgentData *d, const int *group, int64 from, int64 to, int g)
{
	double		sx = 0,
				sy = 0,
				sxx = 0,
				syy = 0,
				sxy = 0;
	int64		n = 0;
	const FsBar *bars = d->bars->bars;

	for (int64 i = from; i + 1 < to; i++)
	{
		int64		b0 = d->bar_index[i],
					b1 = d->bar_index[i + 1];
		double		x,
					y;

		if (group[i] != g || group[i + 1] != g || b1 != b0 + 1 || b1 + 1 >= d->bars->n)
			continue;
		x = bars[b0 + 1].close / bars[b0].close - 1;
		y = bars[b1 + 1].close / bars[b1].close - 1;
		sx += x;
		sy += y;
		sxx += x * x;
		syy += y * y;
		sxy += x * y;
		n++;
	}
	if (n < 3)
		return NAN;
	{
		double		cov = sxy / n - (sx / n) * (sy / n);
		double		vx = sxx / n - (sx / n) * (sx / n);
		double		vy = syy / n - (sy / n) * (sy / n);

		return vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN;
	}
}

static int
cmp_desc(const void *a, const void *b, void *arg)
{
	const double *ac = arg;
	double		x = ac[*(const int *) a],
				y = ac[*(const int *) b];

	if (isnan(x))
		x = 0;
	if (isnan(y))
		y = 0;
	return x > y ? -1 : x < y ? 1 : *(const int *) a - *(const int *) b;
}

static FsmmlTrainResult
regime_train(FsAgentTrainCtx *ctx)
{
	cJSON	   *p = fsmml_agent_params(&fsmml_agent_regime_kmeans, ctx->timeframe, ctx->params, ctx->cxt);
	int			k = fsmml_param_int(p, "k", 2, 64, "3");
	int			horizon = fsmml_param_int(p, "horizon", 1, 10000, "10");
	int			nsample = fsmml_param_int(p, "silhouette_sample", 10, 100000, "2000");
	FsKmParams	kp;
	FsKmResult	kr;
	FsKmStatus	st;
	FsAgentData *d = fsmml_agent_data(ctx, p, fsmml_param_features(p, default_features), horizon, 3);
	FsmmlDataset *ds = d->ds;
	int			nf = ds->nfeat;
	int64		n = ds->nrows,
				ndev = d->dev_end;
	double	   *mean = palloc0(sizeof(double) * nf);
	double	   *sd = palloc0(sizeof(double) * nf);
	double	   *Z = MemoryContextAllocHuge(ctx->cxt, sizeof(double) * n * nf);
	double	   *centers = palloc(sizeof(double) * k * nf);
	int		   *label = palloc(sizeof(int) * n);
	int		   *regime = palloc(sizeof(int) * n);
	int		   *order = palloc(sizeof(int) * k);
	int		   *regime_of = palloc(sizeof(int) * k);
	double	   *ac = palloc(sizeof(double) * k);
	size_t	   *sample;
	size_t		m;
	double		sil;
	cJSON	   *doc = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *arr,
			   *holdout,
			   *per;
	int			ntrend,
				nmr;
	double		ac_spread;
	FsAgentVersion av = {0};
	ListCell   *lc;

	if (k > ndev)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.k = %d clusters but only " INT64_FORMAT " training rows", k, ndev),
				 errhint("Lower params.k or load more bars.")));
	/* Standardise with the development rows' statistics. */
	for (int j = 0; j < nf; j++)
	{
		double		s = 0,
					ss = 0;

		for (int64 i = 0; i < ndev; i++)
			s += ds->X[i * nf + j];
		mean[j] = s / ndev;
		for (int64 i = 0; i < ndev; i++)
		{
			double		x = ds->X[i * nf + j] - mean[j];

			ss += x * x;
		}
		sd[j] = ndev > 1 ? sqrt(ss / (ndev - 1)) : 0;
		if (!(sd[j] > 0))
			sd[j] = 1;			/* a constant column adds nothing */
	}
	for (int64 i = 0; i < n; i++)
		for (int j = 0; j < nf; j++)
			Z[i * nf + j] = (ds->X[i * nf + j] - mean[j]) / sd[j];

	kp.k = k;
	kp.n_init = fsmml_param_int(p, "n_init", 1, 100, "10");
	kp.max_iter = fsmml_param_int(p, "max_iter", 1, 10000, "300");
	kp.seed = (uint64) fsmml_param_int(p, "seed", 0, INT_MAX, "42");
	kp.interrupted = km_interrupted;
	kp.arg = NULL;
	st = fs_kmeans(Z, ndev, nf, &kp, centers, label, &kr);
	CHECK_FOR_INTERRUPTS();
	if (st == FS_KM_NOMEM)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in k-means")));
	if (st != FS_KM_OK)
		elog(ERROR, "k-means failed (status %d)", (int) st);
	for (int64 i = ndev; i < n; i++)
		label[i] = fs_kmeans_nearest(centers, k, nf, Z + i * nf, NULL);

	/* Sample for the silhouette: evenly spaced development rows. */
	m = Min((size_t) nsample, (size_t) ndev);
	sample = palloc(sizeof(size_t) * m);
	for (size_t i = 0; i < m; i++)
		sample[i] = (size_t) ((double) i * ndev / m);
	/*
	 * O(m x ndev x nf): in slices of 64 sampled rows with an interrupt check
	 * between them (every sampled row counts in the mean, so the slices'
	 * means weighted by their sizes are the mean).
	 */
	sil = 0;
	for (size_t at = 0; at < m; at += 64)
	{
		size_t		len = Min((size_t) 64, m - at);

		CHECK_FOR_INTERRUPTS();
		sil += fs_kmeans_silhouette(Z, ndev, nf, label, k, sample + at, len) * len;
	}
	sil /= m;

	/* Regimes by measured autocorrelation inside each cluster. */
	for (int c = 0; c < k; c++)
	{
		ac[c] = fsmml_group_autocorr(d, label, 0, ndev, c);
		order[c] = c;
	}
	qsort_arg(order, k, sizeof(int), cmp_desc, ac);
	ntrend = nmr = Max((int) rint(k / 3.0), 1);
	for (int r = 0; r < k; r++)
		regime_of[order[r]] = r < ntrend ? FS_REGIME_TREND :
			r >= k - nmr ? FS_REGIME_MEAN_REVERT : FS_REGIME_CHOP;
	for (int64 i = 0; i < n; i++)
		regime[i] = regime_of[label[i]];

	/* Metrics. */
	fsmml_json_num(metrics, "inertia", kr.inertia);
	fsmml_json_num(metrics, "silhouette", sil);
	cJSON_AddNumberToObject(metrics, "silhouette_sample", (double) m);
	cJSON_AddNumberToObject(metrics, "iterations", kr.iterations);
	cJSON_AddBoolToObject(metrics, "converged", kr.converged);
	arr = cJSON_AddObjectToObject(metrics, "rows");
	cJSON_AddNumberToObject(arr, "used", (double) n);
	cJSON_AddNumberToObject(arr, "train", (double) ndev);
	cJSON_AddNumberToObject(arr, "holdout", (double) (n - d->holdout_start));
	cJSON_AddNumberToObject(arr, "dropped_null", (double) ds->dropped_null);
	arr = cJSON_AddArrayToObject(metrics, "clusters");
	for (int c = 0; c < k; c++)
	{
		cJSON	   *o = cJSON_CreateObject();
		int64		cnt = 0;

		cJSON_AddItemToArray(arr, o);
		for (int64 i = 0; i < ndev; i++)
			cnt += label[i] == c;
		cJSON_AddNumberToObject(o, "cluster", c);
		cJSON_AddStringToObject(o, "regime", fs_regime_names[regime_of[c]]);
		fsmml_json_num(o, "share", (double) cnt / ndev);
		fsmml_json_num(o, "train_autocorr", ac[c]);
	}
	holdout = cJSON_AddObjectToObject(metrics, "holdout");
	per = cJSON_AddObjectToObject(holdout, "regimes");
	for (int r = 0; r < 3; r++)
	{
		cJSON	   *o = cJSON_AddObjectToObject(per, fs_regime_names[r]);
		int64		cnt = 0;
		double		s = 0,
					ss = 0;

		for (int64 i = d->holdout_start; i < n; i++)
			if (regime[i] == r)
			{
				cnt++;
				s += ds->fwd_ret[i];
				ss += ds->fwd_ret[i] * ds->fwd_ret[i];
			}
		fsmml_json_num(o, "share", (double) cnt / (n - d->holdout_start));
		cJSON_AddNumberToObject(o, "rows", (double) cnt);
		fsmml_json_num(o, "fwd_ret_mean", cnt ? s / cnt : NAN);
		fsmml_json_num(o, "fwd_ret_vol", cnt > 1 ? sqrt(Max(ss - s * s / cnt, 0) / (cnt - 1)) : NAN);
		fsmml_json_num(o, "autocorr", fsmml_group_autocorr(d, regime, d->holdout_start, n, r));
	}
	ac_spread = fsmml_group_autocorr(d, regime, d->holdout_start, n, FS_REGIME_TREND) -
		fsmml_group_autocorr(d, regime, d->holdout_start, n, FS_REGIME_MEAN_REVERT);
	fsmml_json_num(holdout, "autocorr_spread", ac_spread);
	cJSON_AddNumberToObject(holdout, "horizon", horizon);

	/* The blob. */
	cJSON_AddStringToObject(doc, "format", "fsmml-regime-kmeans/1");
	arr = cJSON_AddArrayToObject(doc, "features");
	foreach(lc, d->features)
		cJSON_AddItemToArray(arr, cJSON_CreateString(lfirst(lc)));
	cJSON_AddItemToObject(doc, "mean", cJSON_CreateDoubleArray(mean, nf));
	cJSON_AddItemToObject(doc, "sd", cJSON_CreateDoubleArray(sd, nf));
	arr = cJSON_AddArrayToObject(doc, "centers");
	for (int c = 0; c < k; c++)
		cJSON_AddItemToArray(arr, cJSON_CreateDoubleArray(centers + c * nf, nf));
	arr = cJSON_AddArrayToObject(doc, "regime_of_cluster");
	for (int c = 0; c < k; c++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(fs_regime_names[regime_of[c]]));

	fsmml_agent_params_set_features(p, d->features);
	fsmml_agent_version_init(&av, ctx, d, p, doc, metrics, psprintf("kmeans:k=%d", k));
	av.score = ac_spread;
	av.score_name = "holdout.autocorr_spread";
	av.higher_better = true;
	av.data = d;				/* promotion re-scores the champion on its hold-out */
	if (isnan(av.score))
		av.score = -INFINITY;	/* undefined spread never beats a champion's */
	return fsmml_agent_register(ctx, &av);
}

typedef struct RegimeState
{
	int			k,
				nf;
	double	   *mean,
			   *sd,
			   *centers;
	int		   *regime_of;
	int		   *cols;
} RegimeState;

static double *
json_doubles(cJSON *a, int n, const char *what)
{
	double	   *out = palloc(sizeof(double) * n);
	int			i = 0;
	cJSON	   *x;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("RegimeKMeans model: \"%s\" is not an array of %d numbers", what, n),
				 errhint("The stored model is damaged; train the agent again.")));
	cJSON_ArrayForEach(x, a)
		out[i++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
	return out;
}

static void
regime_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	cJSON	   *doc = fsmml_blob_to_json(blob, cxt);
	RegimeState *s = palloc0(sizeof(RegimeState));
	cJSON	   *c = cJSON_GetObjectItemCaseSensitive(doc, "centers");
	cJSON	   *r = cJSON_GetObjectItemCaseSensitive(doc, "regime_of_cluster");
	cJSON	   *x;
	int			i = 0;

	s->nf = list_length(m->features);
	s->k = cJSON_GetArraySize(c);
	if (s->k < 2 || s->nf < 1 || cJSON_GetArraySize(r) != s->k)
		fsmml_agent_damaged(m, "a damaged model");
	s->mean = json_doubles(cJSON_GetObjectItemCaseSensitive(doc, "mean"), s->nf, "mean");
	s->sd = json_doubles(cJSON_GetObjectItemCaseSensitive(doc, "sd"), s->nf, "sd");
	s->centers = palloc(sizeof(double) * s->k * s->nf);
	s->regime_of = palloc(sizeof(int) * s->k);
	cJSON_ArrayForEach(x, c)
	{
		double	   *row = json_doubles(x, s->nf, "centers");

		memcpy(s->centers + i * s->nf, row, sizeof(double) * s->nf);
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(x, r)
	{
		s->regime_of[i] = FS_REGIME_CHOP;
		for (int g = 0; g < 3; g++)
			if (cJSON_IsString(x) && strcmp(x->valuestring, fs_regime_names[g]) == 0)
				s->regime_of[i] = g;
		i++;
	}
	m->state = s;
	MemoryContextSwitchTo(old);
}

/* Column of each model feature in the batch's matrix. */
int *
fsmml_agent_columns(FsAgentModel *m, const FsmmlDataset *ds)
{
	int			nf = list_length(m->features);
	int		   *cols = palloc(sizeof(int) * nf);

	for (int j = 0; j < nf; j++)
	{
		cols[j] = -1;
		for (int c = 0; c < ds->nfeat; c++)
			if (strcmp(ds->names[c], list_nth(m->features, j)) == 0)
				cols[j] = c;
		if (cols[j] < 0)
			elog(ERROR, "feature \"%s\" missing from the scoring matrix",
				 (char *) list_nth(m->features, j));
	}
	return cols;
}

static void
regime_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	RegimeState *s = m->state;
	double	   *z = palloc(sizeof(double) * s->nf);

	if (s->cols == NULL)
		s->cols = fsmml_agent_columns(m, b->ds);
	for (int64 i = from; i < to; i++)
	{
		const float *x = b->ds->X + i * b->ds->nfeat;
		bool		ok = true;
		int			c;

		for (int j = 0; j < s->nf && ok; j++)
		{
			z[j] = (x[s->cols[j]] - s->mean[j]) / s->sd[j];
			ok = isfinite(z[j]);
		}
		if (!ok)
			continue;
		c = fs_kmeans_nearest(s->centers, s->k, s->nf, z, NULL);
		b->rows[i].cluster = c;
		b->rows[i].regime = s->regime_of[c];
		b->rows[i].gate = s->regime_of[c] != FS_REGIME_CHOP;
	}
	pfree(z);
}

static Jsonb *
regime_payload(FsAgentModel *m, const FsAgentRow *r)
{
	FsJb		b;

	if (r->regime < 0)
		return NULL;			/* no prediction: no row */
	fsmml_jb_begin(&b);
	fsmml_jb_str(&b, "regime", fs_regime_names[(int) r->regime]);
	fsmml_jb_bool(&b, "gate", r->gate);
	fsmml_jb_num(&b, "cluster", r->cluster, false);
	return fsmml_jb_end(&b);
}

const FsAgent fsmml_agent_regime_kmeans = {
	.name = "RegimeKMeans",
	.kind = "regime",
	.param_keys = regime_keys,
	.validate = regime_validate,
	.train = regime_train,
	.load = regime_load,
	.predict = regime_predict,
	.payload = regime_payload,
	.writes_preds = true,
};
