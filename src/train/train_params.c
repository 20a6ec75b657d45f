/*
 * train_params.c — training parameters: defaults, merge, type checks.
 *
 * Every key is checked, so a typo ("horizn") is an error rather than a
 * silently ignored setting.  XGBoost's own parameters (params.xgb) pass
 * through untouched: XGBoost judges those.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "features_kernel.h"
#include "train_params.h"
#include "xgb.h"

static const char *const known_keys[] = {
	"horizon", "lookback", "folds", "test_size", "embargo", "early_stopping_rounds",
	"rounds", "fee_bps", "threshold", "auto_promote", "features", "xgb"
};

#define PARAMS_HINT "Training parameters: horizon, lookback, folds, test_size, embargo, " \
	"early_stopping_rounds, rounds, fee_bps, threshold, auto_promote, features, xgb."

static void
bad_param(const char *key, const char *what, const char *example)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("params.%s must be %s", key, what),
			 errhint("For example {\"%s\": %s}.", key, example)));
}

static int
get_int(cJSON *obj, const char *key, int lo, int hi, const char *what, const char *example)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		v->valuedouble < lo || v->valuedouble > hi)
		bad_param(key, what, example);
	return (int) v->valuedouble;
}

static double
get_num(cJSON *obj, const char *key, double lo, double hi, bool lo_open,
		const char *what, const char *example)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble > hi ||
		(lo_open ? v->valuedouble <= lo : v->valuedouble < lo))
		bad_param(key, what, example);
	return v->valuedouble;
}

static void
lookback_context(void *arg)
{
	errcontext("while reading params.lookback (\"all\", an interval such as \"180 days\", or a number of bars)");
}

/*
 * The default training window, in bars of the series' timeframe (README,
 * "Training"): 180 days of 1m bars, then longer spans as bars get longer so
 * that every timeframe has thousands of rows (180 days of 1d bars were 180
 * rows, too few for five folds).
 */
static int64
default_lookback_bars(const char *timeframe)
{
	static const struct
	{
		const char *tf;
		int64		bars;
	}			table[] = {
		{"1m", 259200},			/* 180 days */
		{"5m", 105120},			/* 1 year */
		{"15m", 35040},			/* 1 year */
		{"1h", 17520},			/* 2 years */
		{"4h", 8760},			/* 4 years */
		{"1d", 3650},			/* 10 years */
	};

	for (int i = 0; i < lengthof(table); i++)
		if (strcmp(table[i].tf, timeframe) == 0)
			return table[i].bars;
	elog(ERROR, "no default look-back for timeframe \"%s\"", timeframe);
	return 0;					/* keep the compiler quiet */
}

/*
 * "auto" (or absent: the per-timeframe default in bars, written back into
 * the resolved params as that number), "all", an interval such as
 * "180 days", or a number of bars.
 */
static void
parse_lookback(cJSON *obj, TrainParams *p, const char *timeframe)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(obj, "lookback");

	if (v == NULL || cJSON_IsNull(v) ||
		(cJSON_IsString(v) && pg_strcasecmp(v->valuestring, "auto") == 0))
	{
		p->lookback_bars = default_lookback_bars(timeframe);
		if (v != NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(obj, "lookback");
		cJSON_AddNumberToObject(obj, "lookback", (double) p->lookback_bars);
		return;
	}

	if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= 1)
	{
		p->lookback_bars = (int64) v->valuedouble;
		return;
	}
	if (cJSON_IsString(v) && pg_strcasecmp(v->valuestring, "all") == 0)
		return;
	if (cJSON_IsString(v))
	{
		ErrorContextCallback ctx;
		Interval   *iv;

		/* PostgreSQL's interval input parses it; its errors get our context. */
		ctx.callback = lookback_context;
		ctx.arg = NULL;
		ctx.previous = error_context_stack;
		error_context_stack = &ctx;
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(v->valuestring),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		error_context_stack = ctx.previous;
		p->lookback_us = iv->time + (int64) iv->day * USECS_PER_DAY +
			(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
		if (p->lookback_us > 0)
			return;
	}
	bad_param("lookback", "\"auto\", \"all\", a positive interval or a number of bars", "\"180 days\"");
}

static List *
parse_features(cJSON *obj)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(obj, "features");
	cJSON	   *item;
	List	   *names = NIL;

	if (v == NULL || cJSON_IsNull(v))
		return NIL;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		bad_param("features", "a non-empty array of feature names", "[\"ret_1\", \"rsi_14\"]");
	cJSON_ArrayForEach(item, v)
	{
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
			bad_param("features", "a non-empty array of feature names", "[\"ret_1\", \"rsi_14\"]");
		names = lappend(names, pstrdup(item->valuestring));
	}
	return names;
}

/* Merges src into dst (both objects): params.xgb key by key, the rest replaced. */
static void
merge_params(cJSON *dst, cJSON *src)
{
	cJSON	   *item;

	cJSON_ArrayForEach(item, src)
	{
		cJSON	   *old = cJSON_GetObjectItemCaseSensitive(dst, item->string);

		if (strcmp(item->string, "xgb") == 0 && cJSON_IsObject(item) && cJSON_IsObject(old))
		{
			cJSON	   *x;

			cJSON_ArrayForEach(x, item)
			{
				if (cJSON_GetObjectItemCaseSensitive(old, x->string))
					cJSON_ReplaceItemInObjectCaseSensitive(old, x->string, cJSON_Duplicate(x, true));
				else
					cJSON_AddItemToObject(old, x->string, cJSON_Duplicate(x, true));
			}
		}
		else if (old)
			cJSON_ReplaceItemInObjectCaseSensitive(dst, item->string, cJSON_Duplicate(item, true));
		else
			cJSON_AddItemToObject(dst, item->string, cJSON_Duplicate(item, true));
	}
}

static char *
jsonb_text(Jsonb *j)
{
	return JsonbToCString(NULL, &j->root, VARSIZE(j));
}

/*
 * params.xgb and params.rounds against the superuser's fsmml.xgb_* limits,
 * before any data is read (the data size is checked when boosting starts).
 */
static void
check_xgb_limits(TrainParams *p)
{
	fsxgb_limits_check_jsonb(p->xgb, p->rounds);
}

TrainParams *
fsmml_train_params(const char *agent, const char *timeframe, Jsonb *params, MemoryContext mcxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(mcxt);
	TrainParams *p = palloc0(sizeof(TrainParams));
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	cJSON	   *defaults;
	cJSON	   *user;
	cJSON	   *item;
	cJSON	   *xgb;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errhint("Pass '{}' for the defaults, or e.g. '{\"folds\": 3, \"xgb\": {\"max_depth\": 4}}'.")));

	values[0] = CStringGetTextDatum(agent);
	if (SPI_execute_with_args("SELECT default_params::text FROM trading.agents WHERE name = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the defaults of agent \"%s\" failed", agent);
	defaults = fsxgb_json_parse_owned(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), mcxt);
	user = fsxgb_json_parse_owned(jsonb_text(params), mcxt);

	cJSON_ArrayForEach(item, user)
	{
		bool		known = false;

		for (int i = 0; i < lengthof(known_keys); i++)
			known |= strcmp(item->string, known_keys[i]) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown training parameter \"%s\"", item->string),
					 errhint(PARAMS_HINT " XGBoost's own parameters go inside \"xgb\".")));
	}
	item = cJSON_GetObjectItemCaseSensitive(user, "xgb");
	if (item && !cJSON_IsObject(item))
		bad_param("xgb", "an object of XGBoost parameters", "{\"max_depth\": 4}");
	merge_params(defaults, user);

	/* Embargo defaults to the longest look-back of the base features. */
	if (!cJSON_GetObjectItemCaseSensitive(defaults, "embargo"))
		cJSON_AddNumberToObject(defaults, "embargo", FS_MAX_LOOKBACK);

	p->horizon = get_int(defaults, "horizon", 1, 10000, "a positive integer (bars ahead)", "5");
	parse_lookback(defaults, p, timeframe);
	p->folds = get_int(defaults, "folds", 1, 20, "an integer from 1 to 20", "5");
	p->test_size = get_num(defaults, "test_size", 0, 0.9, true, "a number in (0, 0.9]", "0.2");
	p->embargo = get_int(defaults, "embargo", 0, 1000000, "a non-negative integer (rows)", "50");
	p->early_stopping_rounds = get_int(defaults, "early_stopping_rounds", 0, 100000,
									   "a non-negative integer (0 turns it off)", "20");
	p->rounds = get_int(defaults, "rounds", 1, 100000, "a positive integer", "200");
	p->fee_bps = get_num(defaults, "fee_bps", 0, 10000, false, "a non-negative number", "5");
	p->threshold = get_num(defaults, "threshold", 0, 0.5, false, "a number in [0, 0.5]", "0.05");
	item = cJSON_GetObjectItemCaseSensitive(defaults, "auto_promote");
	if (!cJSON_IsBool(item))
		bad_param("auto_promote", "true or false", "false");
	p->auto_promote = cJSON_IsTrue(item);
	p->features = parse_features(defaults);

	xgb = cJSON_GetObjectItemCaseSensitive(defaults, "xgb");
	if (!cJSON_IsObject(xgb))
		bad_param("xgb", "an object of XGBoost parameters", "{\"max_depth\": 4}");
	p->xgb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(fsxgb_json_print(xgb))));
	p->resolved = defaults;
	check_xgb_limits(p);
	MemoryContextSwitchTo(oldcxt);
	return p;
}
