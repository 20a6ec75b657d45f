/*
 * xgb_params.c — XGBoost parameters onto a booster: one key/value, or a
 * jsonb object of them (numbers as written, booleans 1/0, eval_metric
 * arrays).  A training booster's parameters pass fsxgb_limits_param first.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "xgb.h"
#include "xgb_internal.h"

void
fsxgb_booster_set_param(FsXgbBooster *b, const char *key, const char *value)
{
	sigset_t	oldmask;
	int			rc;

	fsxgb_booster_check(b);
	value = fsxgb_limits_param(b, key, value);
	fsxgb_signals_block(&oldmask);
	rc = XGBoosterSetParam(b->handle, key, value);
	fsxgb_signals_restore(&oldmask);
	if (rc != 0)
	{
		char	   *err = pstrdup(XGBGetLastError());

		fsxgb_log_flush();
		fsxgb_raise(err, psprintf("parameter \"%s\"", key), ERRCODE_INVALID_PARAMETER_VALUE);
	}
	fsxgb_after_call(0, NULL, 0);
}

/* Numeric as text; an integral value written as 6.0 becomes "6". */
static char *
fsxgb_numeric_text(Numeric num)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	char	   *dot = strchr(s, '.');

	if (dot != NULL && strpbrk(s, "eE") == NULL)
	{
		char	   *t = dot + 1;

		while (*t == '0')
			t++;
		if (*t == '\0')
			*dot = '\0';
	}
	return s;
}

/* The string XGBoost gets for a scalar jsonb value; NULL if not scalar. */
char *
fsxgb_jsonb_scalar_text(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return fsxgb_numeric_text(v->val.numeric);
		case jbvBool:
			return pstrdup(v->val.boolean ? "1" : "0");
		default:
			return NULL;
	}
}

void
fsxgb_booster_set_params_jsonb(FsXgbBooster *b, Jsonb *params)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	fsxgb_booster_check(b);
	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost parameters must be a JSON object"),
				 errhint("For example '{\"max_depth\": 4, \"eta\": 0.1}'.")));

	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (v.type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" is null", key),
					 errhint("Leave the key out to use XGBoost's default.")));
		if (v.type == jbvBinary)
		{
			JsonbContainer *jc = v.val.binary.data;

			if (strcmp(key, "eval_metric") == 0 && JsonContainerIsArray(jc) &&
				!JsonContainerIsScalar(jc))
			{
				JsonbIterator *ait = JsonbIteratorInit(jc);
				JsonbValue	ev;
				JsonbIteratorToken atok;

				while ((atok = JsonbIteratorNext(&ait, &ev, true)) != WJB_DONE)
				{
					char	   *s;

					if (atok != WJB_ELEM)
						continue;
					if (ev.type != jbvString || (s = fsxgb_jsonb_scalar_text(&ev)) == NULL)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("XGBoost parameter \"eval_metric\" must be a string or an array of strings")));
					fsxgb_booster_set_param(b, key, s);
				}
				continue;
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost parameter \"%s\" must be a string, number or boolean", key),
					 errhint("XGBoost parameters are flat key/value pairs; only \"eval_metric\" takes an array (of metric names). Write structured values such as monotone_constraints as strings, e.g. \"(1,0,-1)\".")));
		}
		fsxgb_booster_set_param(b, key, fsxgb_jsonb_scalar_text(&v));
	}
}

char *
fsxgb_jsonb_get_string(Jsonb *params, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
	if (v != NULL && v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	return NULL;
}

int
fsxgb_jsonb_get_int(Jsonb *params, const char *key, int dflt)
{
	JsonbValue	k;
	JsonbValue *v;
	char	   *s;
	char	   *end;
	long		n;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return dflt;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
	if (v == NULL || (s = fsxgb_jsonb_scalar_text(v)) == NULL)
		return dflt;
	errno = 0;
	n = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (end == s || *end != '\0' || errno != 0 || n < INT_MIN || n > INT_MAX)
		return dflt;
	return (int) n;
}
