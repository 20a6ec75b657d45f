/*
 * agent_jsonb.c — payloads built as jsonb directly (no JSON text, no
 * jsonb_in, no pushJsonbValue): numbers in their shortest round-trip decimal
 * (float32 values as float32, prices as double), each object's keys sorted
 * in jsonb's order (shorter first, then bytewise) before JsonbValueToJsonb
 * lays the tree out.  fsmml_score builds one payload per bar and agent, so
 * the tree lives in the caller's FsJb and the result is the only palloc
 * that survives.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"

#include "agent.h"
#include "serve.h"

/* jsonb's key order (lengthCompareJsonbStringValue); keys of one object are unique. */
static void
sort_pairs(JsonbPair *p, int n)
{
	for (int i = 1; i < n; i++)
	{
		JsonbPair	x = p[i];
		int			j = i;

		while (j > 0)
		{
			const JsonbValue *a = &p[j - 1].key;
			int			c = a->val.string.len != x.key.val.string.len ?
				(a->val.string.len > x.key.val.string.len ? 1 : -1) :
				memcmp(a->val.string.val, x.key.val.string.val, x.key.val.string.len);

			if (c == 0)
				elog(ERROR, "payload key \"%s\" given twice", x.key.val.string.val);
			if (c < 0)
				break;
			p[j] = p[j - 1];
			j--;
		}
		p[j] = x;
	}
}

/* The value slot of a new pair keyed k in the innermost open object. */
static JsonbValue *
key(FsJb *b, const char *k)
{
	JsonbPair  *p;

	if (b->npairs + b->nback >= FS_JB_MAXPAIRS)
		elog(ERROR, "payload has more than %d keys", FS_JB_MAXPAIRS);
	p = &b->pairs[b->npairs++];
	p->key.type = jbvString;
	p->key.val.string.val = (char *) k;
	p->key.val.string.len = strlen(k);
	p->order = 0;
	return &p->value;
}

void
fsmml_jb_begin(FsJb *b)
{
	b->npairs = b->nback = b->nelems = 0;
	b->depth = 1;
	b->start[0] = 0;
}

void
fsmml_jb_object(FsJb *b, const char *k)
{
	(void) key(b, k);
	if (b->depth >= FS_JB_MAXDEPTH)
		elog(ERROR, "payload nested deeper than %d", FS_JB_MAXDEPTH);
	b->start[b->depth++] = b->npairs;
}

/* A nested object is complete: its pairs move to the back, its key's value points there. */
void
fsmml_jb_end_object(FsJb *b)
{
	int			first = b->start[--b->depth];
	int			n = b->npairs - first;
	JsonbPair  *dst = &b->pairs[FS_JB_MAXPAIRS - b->nback - n];
	JsonbValue *v = &b->pairs[first - 1].value;

	memmove(dst, &b->pairs[first], sizeof(JsonbPair) * n);
	b->nback += n;
	b->npairs = first;
	sort_pairs(dst, n);
	v->type = jbvObject;
	v->val.object.nPairs = n;
	v->val.object.pairs = dst;
}

static void
number(JsonbValue *v, double x, bool f32)
{
	if (!isfinite(x))
		v->type = jbvNull;
	else
	{
		char		buf[40];

		if (f32)
			float_to_shortest_decimal_buf((float) x, buf);
		else
			double_to_shortest_decimal_buf(x, buf);
		v->type = jbvNumeric;
		v->val.numeric = fsmml_decimal_numeric(buf);
	}
}

static void
string(JsonbValue *v, const char *s)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = strlen(s);
}

void
fsmml_jb_num(FsJb *b, const char *k, double x, bool f32)
{
	number(key(b, k), x, f32);
}

void
fsmml_jb_str(FsJb *b, const char *k, const char *s)
{
	string(key(b, k), s);
}

void
fsmml_jb_bool(FsJb *b, const char *k, int x)
{
	JsonbValue *v = key(b, k);

	if (x < 0)
		v->type = jbvNull;
	else
	{
		v->type = jbvBool;
		v->val.boolean = x != 0;
	}
}

static JsonbValue *
array(FsJb *b, const char *k, int n)
{
	JsonbValue *v = key(b, k);

	if (b->nelems + n > FS_JB_MAXELEMS)
		elog(ERROR, "payload has more than %d array elements", FS_JB_MAXELEMS);
	v->type = jbvArray;
	v->val.array.nElems = n;
	v->val.array.elems = &b->elems[b->nelems];
	v->val.array.rawScalar = false;
	b->nelems += n;
	return v->val.array.elems;
}

void
fsmml_jb_nums(FsJb *b, const char *k, const double *x, int n)
{
	JsonbValue *e = array(b, k, n);

	for (int i = 0; i < n; i++)
		number(&e[i], x[i], false);
}

void
fsmml_jb_strs(FsJb *b, const char *k, const char *const *s, int n)
{
	JsonbValue *e = array(b, k, n);

	for (int i = 0; i < n; i++)
		string(&e[i], s[i]);
}

/*
 * The jsonb, in a chunk of its own size: JsonbValueToJsonb returns its
 * StringInfo's buffer (1 kB and more), which would make a batch of payloads
 * cost a kilobyte each.
 */
Jsonb *
fsmml_jb_end(FsJb *b)
{
	Jsonb	   *j;
	Jsonb	   *out;

	if (b->depth != 1)
		elog(ERROR, "payload has an unclosed object");
	sort_pairs(b->pairs, b->npairs);
	b->root.type = jbvObject;
	b->root.val.object.nPairs = b->npairs;
	b->root.val.object.pairs = b->pairs;
	j = JsonbValueToJsonb(&b->root);
	out = palloc(VARSIZE(j));
	memcpy(out, j, VARSIZE(j));
	pfree(j);
	/* the numerics were copied: their chunks serve the next payload */
	for (int i = 0; i < b->npairs; i++)
		if (b->pairs[i].value.type == jbvNumeric)
			pfree(b->pairs[i].value.val.numeric);
	for (int i = FS_JB_MAXPAIRS - b->nback; i < FS_JB_MAXPAIRS; i++)
		if (b->pairs[i].value.type == jbvNumeric)
			pfree(b->pairs[i].value.val.numeric);
	for (int i = 0; i < b->nelems; i++)
		if (b->elems[i].type == jbvNumeric)
			pfree(b->elems[i].val.numeric);
	return out;
}
