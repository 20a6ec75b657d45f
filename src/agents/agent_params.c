/*
 * agent_params.c — an agent's parameters: trading.agents defaults merged
 * with the caller's jsonb, every key known, every value checked.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "agent.h"
#include "xgb.h"

void
fsmml_param_error(const char *key, const char *what, const char *example)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("params.%s must be %s", key, what),
			 errhint("For example {\"%s\": %s}.", key, example)));
}

int
fsmml_param_int(cJSON *o, const char *key, int lo, int hi, const char *example)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		v->valuedouble < lo || v->valuedouble > hi)
		fsmml_param_error(key, psprintf("an integer from %d to %d", lo, hi), example);
	return (int) v->valuedouble;
}

double
fsmml_param_num(cJSON *o, const char *key, double lo, double hi, bool open,
				const char *what, const char *example)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
		(open ? (v->valuedouble <= lo || v->valuedouble >= hi)
		 : (v->valuedouble < lo || v->valuedouble > hi)))
		fsmml_param_error(key, what, example);
	return v->valuedouble;
}

bool
fsmml_param_bool(cJSON *o, const char *key)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsBool(v))
		fsmml_param_error(key, "true or false", "false");
	return cJSON_IsTrue(v);
}

double *
fsmml_param_nums(cJSON *o, const char *key, int *n, const char *example)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(o, key);
	cJSON	   *item;
	double	   *out;
	int			i = 0;

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		fsmml_param_error(key, "a non-empty array of numbers", example);
	out = palloc(sizeof(double) * cJSON_GetArraySize(v));
	cJSON_ArrayForEach(item, v)
	{
		if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
			fsmml_param_error(key, "a non-empty array of numbers", example);
		out[i++] = item->valuedouble;
	}
	*n = i;
	return out;
}

List *
fsmml_param_features(cJSON *o, const char *const *defaults)
{
	cJSON	   *v = cJSON_GetObjectItemCaseSensitive(o, "features");
	cJSON	   *item;
	List	   *names = NIL;

	if (v == NULL || cJSON_IsNull(v))
	{
		for (int i = 0; defaults[i]; i++)
			names = lappend(names, pstrdup(defaults[i]));
		return names;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		fsmml_param_error("features", "a non-empty array of feature names", "[\"h4_rsi_14\", \"d1_atr_14\"]");
	cJSON_ArrayForEach(item, v)
	{
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
			fsmml_param_error("features", "a non-empty array of feature names", "[\"h4_rsi_14\", \"d1_atr_14\"]");
		names = lappend(names, pstrdup(item->valuestring));
	}
	return names;
}

static void
merge(cJSON *dst, cJSON *src)
{
	cJSON	   *item;

	cJSON_ArrayForEach(item, src)
	{
		cJSON	   *old = cJSON_GetObjectItemCaseSensitive(dst, item->string);

		if (cJSON_IsObject(item) && cJSON_IsObject(old))
			merge(old, item);	/* xgb, weights: key by key */
		else if (old)
			cJSON_ReplaceItemInObjectCaseSensitive(dst, item->string, cJSON_Duplicate(item, true));
		else
			cJSON_AddItemToObject(dst, item->string, cJSON_Duplicate(item, true));
	}
}

cJSON *
fsmml_agent_params(const FsAgent *a, const char *timeframe, Jsonb *params, MemoryContext cxt)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	cJSON	   *defaults;
	cJSON	   *user;
	cJSON	   *item;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errhint("Pass '{}' for the defaults.")));
	values[0] = CStringGetTextDatum(a->name);
	if (SPI_execute_with_args("SELECT default_params::text FROM trading.agents WHERE name = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent \"%s\" is not in trading.agents", a->name),
				 errhint("Run ALTER EXTENSION fsmml UPDATE.")));
	defaults = fsxgb_json_parse_owned(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), cxt);
	user = fsxgb_json_parse_owned(JsonbToCString(NULL, &params->root, VARSIZE(params)), cxt);
	cJSON_ArrayForEach(item, user)
	{
		bool		known = false;
		StringInfoData keys;

		for (int i = 0; a->param_keys[i]; i++)
			known |= strcmp(item->string, a->param_keys[i]) == 0;
		if (known)
			continue;
		initStringInfo(&keys);
		for (int i = 0; a->param_keys[i]; i++)
			appendStringInfo(&keys, "%s%s", i ? ", " : "", a->param_keys[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown %s parameter \"%s\"", a->name, item->string),
				 errhint("%s parameters: %s.", a->name, keys.data)));
	}
	merge(defaults, user);
	a->validate(defaults, timeframe);
	return defaults;
}
