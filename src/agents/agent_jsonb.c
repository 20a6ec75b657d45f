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

/* ---------------------------------------------------------------- layout */

/*
 * The tree laid out as jsonb into a buffer on the stack, the way
 * JsonbValueToJsonb lays it out (jsonb_util.c's convertToJsonb): a
 * container's header, its JEntries (an object's keys, then its values; every
 * JB_OFFSET_STRIDE-th holds an end offset, the others a length), then the
 * data, numerics and containers padded to int alignment counted from the
 * varlena's start.  fsmml_score lays out a million of these, and the
 * generic path's StringInfo (a 1 kB chunk, grown, copied) costs more than
 * the layout.  Checked against JsonbValueToJsonb on each backend's first
 * payload (every payload in assert-enabled builds); should they ever
 * differ, the generic path is used from then on.
 */
#define LAYOUT_MAX 2048

typedef struct JbOut
{
	char	   *buf;
	int			len;
	bool		overflow;
} JbOut;

static void
out_bytes(JbOut *o, const void *p, int n)
{
	if (o->len + n > LAYOUT_MAX)
		o->overflow = true;
	else
	{
		memcpy(o->buf + o->len, p, n);
		o->len += n;
	}
}

static int
out_pad(JbOut *o)
{
	static const char zero[sizeof(int32)] = {0};
	int			pad = INTALIGN(o->len) - o->len;

	out_bytes(o, zero, pad);
	return pad;
}

static JEntry out_container(JbOut *o, const JsonbValue *v);

static JEntry
out_value(JbOut *o, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return JENTRY_ISNULL;
		case jbvString:
			out_bytes(o, v->val.string.val, v->val.string.len);
			return JENTRY_ISSTRING | v->val.string.len;
		case jbvNumeric:
			{
				int			n = VARSIZE_ANY(v->val.numeric);
				int			pad = out_pad(o);

				out_bytes(o, v->val.numeric, n);
				return JENTRY_ISNUMERIC | (pad + n);
			}
		case jbvBool:
			return v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case jbvArray:
		case jbvObject:
			return out_container(o, v);
		default:
			elog(ERROR, "unexpected jsonb value type %d in a payload", (int) v->type);
	}
	return 0;					/* keep compiler quiet */
}

static JEntry
out_container(JbOut *o, const JsonbValue *v)
{
	int			base = o->len;
	bool		obj = v->type == jbvObject;
	int			n = obj ? v->val.object.nPairs : v->val.array.nElems;
	int			nent = obj ? 2 * n : n;
	uint32		head = (uint32) n | (obj ? JB_FOBJECT : JB_FARRAY);
	uint32		total = 0;
	int			at;

	Assert(obj || !v->val.array.rawScalar);
	out_pad(o);
	out_bytes(o, &head, sizeof(head));
	at = o->len;
	o->len += sizeof(JEntry) * nent;	/* the JEntries, filled below */
	if (o->len > LAYOUT_MAX)
	{
		o->overflow = true;
		return 0;
	}
	for (int i = 0; i < nent && !o->overflow; i++)
	{
		const JsonbValue *x = !obj ? &v->val.array.elems[i] :
			i < n ? &v->val.object.pairs[i].key : &v->val.object.pairs[i - n].value;
		JEntry		meta = out_value(o, x);

		total += JBE_OFFLENFLD(meta);
		if (i % JB_OFFSET_STRIDE == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(o->buf + at + i * sizeof(JEntry), &meta, sizeof(JEntry));
	}
	return JENTRY_ISCONTAINER | (o->len - base);
}

/* The root object laid out; NULL when it does not fit LAYOUT_MAX. */
static Jsonb *
layout(const JsonbValue *root)
{
	char		buf[LAYOUT_MAX];
	JbOut		o = {buf, VARHDRSZ, false};
	Jsonb	   *j;

	(void) out_container(&o, root);
	if (o.overflow)
		return NULL;
	j = palloc(o.len);
	memcpy(j, buf, o.len);
	SET_VARSIZE(j, o.len);
	return j;
}

/* JsonbValueToJsonb's bytes, in a chunk of their own size (its StringInfo's is 1 kB and more). */
static Jsonb *
layout_generic(const JsonbValue *root)
{
	Jsonb	   *j = JsonbValueToJsonb((JsonbValue *) root);
	Jsonb	   *out = palloc(VARSIZE(j));

	memcpy(out, j, VARSIZE(j));
	pfree(j);
	return out;
}

/* 1: layout() gives JsonbValueToJsonb's bytes; -1: it did not; 0: not checked yet. */
static int	layout_ok = 0;

/* The jsonb of the tree, in a chunk of its own size. */
Jsonb *
fsmml_jb_end(FsJb *b)
{
	Jsonb	   *out = NULL;

	if (b->depth != 1)
		elog(ERROR, "payload has an unclosed object");
	sort_pairs(b->pairs, b->npairs);
	b->root.type = jbvObject;
	b->root.val.object.nPairs = b->npairs;
	b->root.val.object.pairs = b->pairs;
	if (layout_ok >= 0)
		out = layout(&b->root);
	if (out != NULL)
	{
#ifdef USE_ASSERT_CHECKING
		bool		check = true;
#else
		bool		check = layout_ok == 0;
#endif

		if (check)
		{
			Jsonb	   *g = layout_generic(&b->root);

			layout_ok = VARSIZE(g) == VARSIZE(out) && memcmp(g, out, VARSIZE(g)) == 0 ? 1 : -1;
			Assert(layout_ok == 1);
			if (layout_ok < 0)
			{
				pfree(out);
				out = g;
			}
			else
				pfree(g);
		}
	}
	else
		out = layout_generic(&b->root);
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
