/*
 * optimize_params.c — fsmml_optimize's parameters and objectives (optimize.h).
 */
#include "postgres.h"

#include <math.h>

#include "optimize.h"

static const char *const obj_names[] = {"sharpe", "sortino", "calmar", "total_return"};

const char *
opt_objective_name(Objective o)
{
	return obj_names[o];
}

/* ---------------------------------------------------------------- objective */


void
opt_ret_stats(const double *r, int64 n, RetStats *st)
{
	double		m = 0,
				m2 = 0,
				m3 = 0,
				m4 = 0;

	st->n = n;
	for (int64 i = 0; i < n; i++)
		m += r[i];
	m = n > 0 ? m / n : NAN;
	for (int64 i = 0; i < n; i++)
	{
		double		d = r[i] - m;

		m2 += d * d;
		m3 += d * d * d;
		m4 += d * d * d * d;
	}
	st->mean = m;
	st->sd = n > 1 ? sqrt(m2 / (n - 1)) : NAN;
	st->skew = n > 2 && m2 > 0 ? (m3 / n) / pow(m2 / n, 1.5) : NAN;
	st->kurt = n > 2 && m2 > 0 ? (m4 / n) / pow(m2 / n, 2) : NAN;
}

/* Sharpe per period: 0 for a flat (zero-variance) curve. */
double
opt_sharpe_pp(const double *r, int64 n)
{
	RetStats	st;

	opt_ret_stats(r, n, &st);
	if (n < 2)
		return NAN;
	if (!(st.sd > 1e-15))
		return 0;
	return st.mean / st.sd;
}

double
opt_objective_value(Objective o, const double *r, int64 n, double ppy)
{
	double		eq = 1,
				peak = 1,
				dd = 0,
				down = 0;
	RetStats	st;

	if (n < 2)
		return NAN;
	if (o == OBJ_SHARPE)
		return opt_sharpe_pp(r, n) * sqrt(ppy);
	opt_ret_stats(r, n, &st);
	for (int64 i = 0; i < n; i++)
	{
		eq *= 1 + r[i];
		peak = fmax(peak, eq);
		dd = fmax(dd, 1 - eq / peak);
		if (r[i] < 0)
			down += r[i] * r[i];
	}
	switch (o)
	{
		case OBJ_SORTINO:
			return down > 0 ? st.mean / sqrt(down / n) * sqrt(ppy) : (st.mean > 0 ? 10 : 0);
		case OBJ_CALMAR:
			{
				double		ann = eq > 0 ? pow(eq, ppy / n) - 1 : -1;

				return dd > 0 ? ann / dd : (ann > 0 ? 10 : 0);
			}
		case OBJ_TOTAL_RETURN:
		default:
			return eq - 1;
	}
}

/* ---------------------------------------------------------------- parameters */

static const char *const opt_keys[] = {
	"objective", "method", "seed", "test_size", "folds", "prune", "activate", "dsr_threshold",
	"fsm_sl_atr", NULL
};

void
opt_parse_params(Jsonb *params, OptParams *o)
{
	cJSON	   *root,
			   *v;

	bt_parse_params(params, &o->bt, opt_keys, &root);
	o->objective = OBJ_SHARPE;
	o->random = false;
	o->seed = 42;
	o->test_size = 0.3;
	o->folds = 4;
	o->prune = true;
	o->activate = false;
	o->dsr_threshold = 0.95;
	o->fsm_sl_atr = 2.0;
	if (root == NULL)
		return;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "objective")) != NULL)
	{
		bool		ok = false;

		for (int i = 0; i < lengthof(obj_names); i++)
			if (cJSON_IsString(v) && strcmp(v->valuestring, opt_objective_name(i)) == 0)
			{
				o->objective = (Objective) i;
				ok = true;
			}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.objective must be one of sharpe, sortino, calmar, total_return")));
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "method")) != NULL)
	{
		if (!cJSON_IsString(v) || (strcmp(v->valuestring, "tpe") != 0 && strcmp(v->valuestring, "random") != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.method must be \"tpe\" or \"random\"")));
		o->random = strcmp(v->valuestring, "random") == 0;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "seed")) != NULL)
	{
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 || v->valuedouble != floor(v->valuedouble))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.seed must be a whole number >= 0")));
		o->seed = (uint64) v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "test_size")) != NULL)
	{
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.05 && v->valuedouble <= 0.8))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.test_size must be a fraction between 0.05 and 0.8")));
		o->test_size = v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "folds")) != NULL)
	{
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 20 || v->valuedouble != floor(v->valuedouble))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.folds must be a whole number between 1 and 20")));
		o->folds = (int) v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "prune")) != NULL)
	{
		if (!cJSON_IsBool(v))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("params.prune must be true or false")));
		o->prune = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "activate")) != NULL)
	{
		if (!cJSON_IsBool(v))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("params.activate must be true or false")));
		o->activate = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "dsr_threshold")) != NULL)
	{
		if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.5 && v->valuedouble < 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.dsr_threshold must lie in (0.5, 1)")));
		o->dsr_threshold = v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "fsm_sl_atr")) != NULL)
	{
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 100))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.fsm_sl_atr must lie in [0, 100] (0: no stop)")));
		o->fsm_sl_atr = v->valuedouble;
	}
}
