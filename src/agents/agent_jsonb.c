/*
 * agent_jsonb.c — payloads built as jsonb directly (no JSON text, no
 * jsonb_in): numbers in their shortest round-trip decimal (float32 values
 * as float32, prices as double), keys ordered by jsonb itself.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"

#include "agent.h"
#include "serve.h"

static void
key(FsJb *b, const char *k)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) k;
	v.val.string.len = strlen(k);
	b->res = pushJsonbValue(&b->st, WJB_KEY, &v);
}

void
fsmml_jb_begin(FsJb *b)
{
	b->st = NULL;
	b->res = pushJsonbValue(&b->st, WJB_BEGIN_OBJECT, NULL);
}

void
fsmml_jb_object(FsJb *b, const char *k)
{
	key(b, k);
	b->res = pushJsonbValue(&b->st, WJB_BEGIN_OBJECT, NULL);
}

void
fsmml_jb_end_object(FsJb *b)
{
	b->res = pushJsonbValue(&b->st, WJB_END_OBJECT, NULL);
}

static void
number(FsJb *b, double x, bool f32, JsonbIteratorToken tok)
{
	JsonbValue	v;

	if (!isfinite(x))
		v.type = jbvNull;
	else
	{
		char		buf[40];

		if (f32)
			float_to_shortest_decimal_buf((float) x, buf);
		else
			double_to_shortest_decimal_buf(x, buf);
		v.type = jbvNumeric;
		v.val.numeric = fsmml_decimal_numeric(buf);
	}
	b->res = pushJsonbValue(&b->st, tok, &v);
}

void
fsmml_jb_num(FsJb *b, const char *k, double x, bool f32)
{
	key(b, k);
	number(b, x, f32, WJB_VALUE);
}

void
fsmml_jb_str(FsJb *b, const char *k, const char *s)
{
	JsonbValue	v;

	key(b, k);
	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	b->res = pushJsonbValue(&b->st, WJB_VALUE, &v);
}

void
fsmml_jb_bool(FsJb *b, const char *k, int x)
{
	JsonbValue	v;

	key(b, k);
	if (x < 0)
		v.type = jbvNull;
	else
	{
		v.type = jbvBool;
		v.val.boolean = x != 0;
	}
	b->res = pushJsonbValue(&b->st, WJB_VALUE, &v);
}

void
fsmml_jb_nums(FsJb *b, const char *k, const double *x, int n)
{
	key(b, k);
	b->res = pushJsonbValue(&b->st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		number(b, x[i], false, WJB_ELEM);
	b->res = pushJsonbValue(&b->st, WJB_END_ARRAY, NULL);
}

void
fsmml_jb_strs(FsJb *b, const char *k, const char *const *s, int n)
{
	key(b, k);
	b->res = pushJsonbValue(&b->st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = (char *) s[i];
		v.val.string.len = strlen(s[i]);
		b->res = pushJsonbValue(&b->st, WJB_ELEM, &v);
	}
	b->res = pushJsonbValue(&b->st, WJB_END_ARRAY, NULL);
}

Jsonb *
fsmml_jb_end(FsJb *b)
{
	b->res = pushJsonbValue(&b->st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(b->res);
}
