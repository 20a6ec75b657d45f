/*
 * model_validate.c — structural check of an XGBoost 1.7 model blob (JSON or
 * UBJSON) before XGBoost loads it.  Pure C, no PostgreSQL headers, so the
 * fuzzer (bench/fuzz/) builds it alone; src/xgb/xgb_validate.c wraps it.
 *
 * XGBoost 1.7 decides the format from the first two bytes: '{' '"' is JSON
 * text, '{' anything else is UBJSON, anything else the legacy binary format
 * (refused here).  The reader below walks either format with the same
 * grammar XGBoost's writer produces, checking every length against the
 * buffer, and collects what prediction trusts: per-tree node arrays, child
 * links (no out-of-range index, no cycle; XGBoost's CPU predictor also reads
 * left + 1), split feature indices < num_feature, tree_info < output groups,
 * tree ids, categorical segments, num_parallel_tree >= 1, dart weights and
 * gblinear weights.  A failure longjmps back to fs_model_validate(), which
 * frees every allocation of the run.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_validate.h"
#include "ubj.h"

#define Max(a, b) ((a) > (b) ? (a) : (b))
#define Min(a, b) ((a) < (b) ? (a) : (b))
#define lengthof(a) (sizeof(a) / sizeof((a)[0]))
/* PostgreSQL's MaxAllocSize: no array larger than what palloc would take */
#define MV_MAX_ALLOC ((size_t) 0x3fffffff)

#define MV_MAX_DEPTH 32
#define MV_MAX_FEATURES INT64_C(100000000)
#define MV_MAX_CLASSES INT64_C(1000000)
#define MV_MAX_CATEGORY INT64_C(16777216)

typedef enum MvKind
{
	MV_OBJECT,
	MV_ARRAY,
	MV_STRING,
	MV_NUMBER,
	MV_BOOL,
	MV_NULL
} MvKind;

/* Every allocation of one validation, freed together (also after a failure). */
typedef struct MvChunk
{
	struct MvChunk *prev;
	struct MvChunk *next;
} MvChunk;

typedef struct MvReader
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	bool		ubj;
	jmp_buf		fail;			/* mv_fail() jumps here */
	MvChunk		chunks;			/* list head of live allocations */
	bool		at_end;			/* the failure is not at a byte position */
	char		msg[256];
	int			rc;
} MvReader;

typedef struct MvCont
{
	bool		object;
	int64_t		remaining;		/* UBJ arrays: elements left */
	char		typed;			/* UBJ '$' element type, or 0 */
	bool		first;			/* JSON: no element read yet */
} MvCont;

/* Lengths of per-node arrays that must all equal the node count. */
static const char *const mv_pernode_keys[] = {
	"split_conditions", "default_left", "base_weights",
	"loss_changes", "sum_hessian"
};
#define MV_NPERNODE lengthof(mv_pernode_keys)

typedef struct MvObj
{
	/* integer-valued keys (XGBoost writes most of them as strings) */
	int64_t		num_feature;
	int64_t		num_class;
	int64_t		num_target;
	int64_t		num_nodes;
	int64_t		num_deleted;
	int64_t		num_trees;
	int64_t		num_parallel_tree;
	int64_t		id;
	/* tree arrays */
	int64_t	   *left,
			   *right,
			   *split_idx,
			   *split_type,
			   *parents,
			   *cat_nodes,
			   *cat_segs,
			   *cat_sizes,
			   *cats;
	int64_t		n_left,
				n_right,
				n_split,
				n_split_type,
				n_parents,
				n_cat_nodes,
				n_cat_segs,
				n_cat_sizes,
				n_cats;
	int64_t		pernode_len[MV_NPERNODE];
	/* model-level */
	int64_t		ntrees;			/* elements of "trees", -1 if none */
	int64_t		tree_info_len;
	int64_t		weights_len;
	int64_t		weight_drop_len;
	int64_t		feature_names_len;
	int64_t		feature_types_len;
	bool		gblinear;
	bool		is_tree;		/* had left_children */
	struct MvObj *tree_param;
	struct MvObj *gbtree_model_param;
} MvObj;

typedef struct MvState
{
	int64_t		max_split;
	int64_t		max_tree_info;
	int64_t		total_trees;
	int64_t		weight_drop_len;
	int64_t		weights_len;
	int64_t		feature_names_len;
	int64_t		feature_types_len;
	bool		gblinear;
	MvObj	   *learner_model_param;
} MvState;

static void mv_fail(MvReader *r, const char *fmt,...) __attribute__((format(printf, 2, 3), noreturn));

static void
mv_fail(MvReader *r, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	if (r->rc == FS_MODEL_OK)
		r->rc = FS_MODEL_CORRUPT;
	longjmp(r->fail, 1);
}

static void *
mv_alloc(MvReader *r, size_t n)
{
	MvChunk    *c;

	if (n > MV_MAX_ALLOC || (c = malloc(sizeof(MvChunk) + n)) == NULL)
	{
		r->rc = FS_MODEL_NOMEM;
		r->at_end = true;
		mv_fail(r, "out of memory");
	}
	c->prev = &r->chunks;
	c->next = r->chunks.next;
	if (c->next)
		c->next->prev = c;
	r->chunks.next = c;
	return c + 1;
}

static void *
mv_alloc0(MvReader *r, size_t n)
{
	void	   *p = mv_alloc(r, n);

	memset(p, 0, n);
	return p;
}

static void
mv_free(MvReader *r, void *p)
{
	MvChunk    *c = (MvChunk *) p - 1;

	c->prev->next = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void *
mv_realloc(MvReader *r, void *p, size_t n)
{
	MvChunk    *c = (MvChunk *) p - 1;
	MvChunk    *nc;

	if (n > MV_MAX_ALLOC || (nc = realloc(c, sizeof(MvChunk) + n)) == NULL)
	{
		r->rc = FS_MODEL_NOMEM;
		r->at_end = true;
		mv_fail(r, "out of memory");	/* c is still linked and freed later */
	}
	nc->prev->next = nc;
	if (nc->next)
		nc->next->prev = nc;
	return nc + 1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline void
mv_need(MvReader *r, size_t n)
{
	if ((size_t) (r->end - r->p) < n)
		mv_fail(r, "truncated");
}

static void
mv_json_ws(MvReader *r)
{
	while (r->p < r->end && is_space((char) *r->p))
		r->p++;
}

/* A fixed-size UBJ number of type t at r->p (consumed). */
static void
mv_ubj_number(MvReader *r, char t, double *d, int64_t *iv, bool *is_int)
{
	int			n = fs_ubj_size((unsigned char) t);

	if (n < 0)
		mv_fail(r, "expected a number");
	mv_need(r, n);
	*is_int = fs_ubj_number((unsigned char) t, r->p, d, iv);
	r->p += n;
}

/* UBJ lengths and counts: XGBoost writes them as 'L' int64_t. */
static int64_t
mv_ubj_length(MvReader *r)
{
	double		d;
	int64_t		v;
	bool		is_int;

	mv_need(r, 1);
	if (*r->p != 'L')
		mv_fail(r, "length is not an int64_t");
	r->p++;
	mv_ubj_number(r, 'L', &d, &v, &is_int);
	if (v < 0)
		mv_fail(r, "negative length");
	return v;
}

static MvKind
mv_kind(MvReader *r, MvCont *parent)
{
	char		c;

	if (r->ubj)
	{
		if (parent && parent->typed)
			return MV_NUMBER;
		mv_need(r, 1);
		c = (char) *r->p;
		switch (c)
		{
			case '{':
				return MV_OBJECT;
			case '[':
				return MV_ARRAY;
			case 'S':
				return MV_STRING;
			case 'T':
			case 'F':
				return MV_BOOL;
			case 'Z':
				return MV_NULL;
			default:
				if (fs_ubj_size((unsigned char) c) > 0)
					return MV_NUMBER;
				mv_fail(r, "unknown UBJSON marker 0x%02x", (unsigned char) c);
		}
	}
	mv_json_ws(r);
	mv_need(r, 1);
	c = (char) *r->p;
	if (c == '{')
		return MV_OBJECT;
	if (c == '[')
		return MV_ARRAY;
	if (c == '"')
		return MV_STRING;
	if (c == 't' || c == 'f')
		return MV_BOOL;
	if (c == 'n')
		return MV_NULL;
	if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I')
		return MV_NUMBER;
	mv_fail(r, "unexpected character 0x%02x", (unsigned char) c);
	return MV_NULL;				/* keep compiler quiet */
}

static void
mv_json_literal(MvReader *r, const char *lit)
{
	size_t		n = strlen(lit);

	mv_need(r, n);
	if (memcmp(r->p, lit, n) != 0)
		mv_fail(r, "invalid literal");
	r->p += n;
}

static void
mv_read_number(MvReader *r, MvCont *parent, double *d, int64_t *iv, bool *is_int)
{
	if (r->ubj)
	{
		char		t;

		if (parent && parent->typed)
			t = parent->typed;
		else
		{
			mv_need(r, 1);
			t = (char) *r->p++;
		}
		mv_ubj_number(r, t, d, iv, is_int);
		return;
	}
	else
	{
		const unsigned char *s;
		char		buf[64];
		size_t		n;
		bool		frac = false;
		char	   *stop;

		mv_json_ws(r);
		mv_need(r, 1);
		*is_int = false;
		if (*r->p == 'N')
		{
			mv_json_literal(r, "NaN");
			*d = NAN;
			return;
		}
		if (*r->p == 'I' || (*r->p == '-' && r->p + 1 < r->end && r->p[1] == 'I'))
		{
			bool		neg = (*r->p == '-');

			if (neg)
				r->p++;
			mv_json_literal(r, "Infinity");
			*d = neg ? -INFINITY : INFINITY;
			return;
		}
		s = r->p;
		if (r->p < r->end && *r->p == '-')
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			mv_fail(r, "invalid number");
		while (r->p < r->end &&
			   ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' ||
				*r->p == 'E' || *r->p == '+' || *r->p == '-'))
		{
			if (*r->p == '.' || *r->p == 'e' || *r->p == 'E')
				frac = true;
			r->p++;
		}
		n = r->p - s;
		if (n >= sizeof(buf))
			mv_fail(r, "number too long");
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		if (!frac)
		{
			*iv = strtoll(buf, &stop, 10);
			if (*stop != '\0' || errno != 0)
				mv_fail(r, "invalid integer");
			*d = (double) *iv;
			*is_int = true;
		}
		else
		{
			*d = strtod(buf, &stop);
			if (*stop != '\0')
				mv_fail(r, "invalid number");
		}
	}
}

/* String (raw bytes, JSON escapes not decoded). */
static void
mv_read_string(MvReader *r, const char **s, size_t *len)
{
	if (r->ubj)
	{
		int64_t		n;

		mv_need(r, 1);
		if (*r->p != 'S')
			mv_fail(r, "expected a string");
		r->p++;
		n = mv_ubj_length(r);
		mv_need(r, (size_t) n);
		*s = (const char *) r->p;
		*len = (size_t) n;
		r->p += n;
		return;
	}
	else
	{
		const unsigned char *b;

		mv_json_ws(r);
		mv_need(r, 1);
		if (*r->p != '"')
			mv_fail(r, "expected a string");
		r->p++;
		b = r->p;
		for (;;)
		{
			mv_need(r, 1);
			if (*r->p == '\\')
			{
				mv_need(r, 2);
				r->p += 2;
				continue;
			}
			if (*r->p == '"')
				break;
			r->p++;
		}
		*s = (const char *) b;
		*len = r->p - b;
		r->p++;
	}
}

static void
mv_object_begin(MvReader *r, MvCont *c)
{
	memset(c, 0, sizeof(*c));
	c->object = true;
	c->first = true;
	if (!r->ubj)
		mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != '{')
		mv_fail(r, "expected an object");
	r->p++;
	if (r->ubj)
	{
		mv_need(r, 1);
		if (*r->p == '$' || *r->p == '#')
			mv_fail(r, "counted UBJSON objects are not written by XGBoost");
	}
}

/* Next key of an object; false at its end. */
static bool
mv_object_next(MvReader *r, MvCont *c, const char **key, size_t *klen)
{
	if (r->ubj)
	{
		int64_t		n;

		mv_need(r, 1);
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
		n = mv_ubj_length(r);
		mv_need(r, (size_t) n);
		*key = (const char *) r->p;
		*klen = (size_t) n;
		r->p += n;
		return true;
	}
	mv_json_ws(r);
	mv_need(r, 1);
	if (c->first)
	{
		c->first = false;
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
	}
	else
	{
		if (*r->p == '}')
		{
			r->p++;
			return false;
		}
		if (*r->p != ',')
			mv_fail(r, "expected ',' or '}'");
		r->p++;
	}
	mv_read_string(r, key, klen);
	mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != ':')
		mv_fail(r, "expected ':'");
	r->p++;
	return true;
}

static void
mv_array_begin(MvReader *r, MvCont *c)
{
	memset(c, 0, sizeof(*c));
	c->first = true;
	if (!r->ubj)
		mv_json_ws(r);
	mv_need(r, 1);
	if (*r->p != '[')
		mv_fail(r, "expected an array");
	r->p++;
	if (!r->ubj)
		return;
	mv_need(r, 1);
	if (*r->p == '$')
	{
		r->p++;
		mv_need(r, 1);
		c->typed = (char) *r->p++;
		if (fs_ubj_size((unsigned char) c->typed) < 0)
			mv_fail(r, "unsupported typed array");
		mv_need(r, 1);
		if (*r->p != '#')
			mv_fail(r, "typed array without a count");
	}
	mv_need(r, 1);
	if (*r->p != '#')
		mv_fail(r, "UBJSON array without a count is not written by XGBoost");
	r->p++;
	c->remaining = mv_ubj_length(r);
	/* every element takes at least one byte (typed: its size) */
	if ((uint64_t) c->remaining > (uint64_t) (r->end - r->p) /
		(uint64_t) (c->typed ? fs_ubj_size((unsigned char) c->typed) : 1))
		mv_fail(r, "array count exceeds the blob");
}

/* Whether another element follows. */
static bool
mv_array_next(MvReader *r, MvCont *c)
{
	if (r->ubj)
	{
		if (c->remaining == 0)
			return false;
		c->remaining--;
		return true;
	}
	mv_json_ws(r);
	mv_need(r, 1);
	if (c->first)
	{
		c->first = false;
		if (*r->p == ']')
		{
			r->p++;
			return false;
		}
		return true;
	}
	if (*r->p == ']')
	{
		r->p++;
		return false;
	}
	if (*r->p != ',')
		mv_fail(r, "expected ',' or ']'");
	r->p++;
	return true;
}

static void mv_skip(MvReader *r, MvCont *parent, int depth);

static int64_t
mv_array_skip_count(MvReader *r, int depth)
{
	MvCont		c;
	int64_t		n = 0;

	mv_array_begin(r, &c);
	if (r->ubj && c.typed)
	{
		n = c.remaining;
		r->p += n * fs_ubj_size((unsigned char) c.typed);	/* checked by mv_array_begin */
		return n;
	}
	while (mv_array_next(r, &c))
	{
		mv_skip(r, &c, depth + 1);
		n++;
	}
	return n;
}

static void
mv_skip(MvReader *r, MvCont *parent, int depth)
{
	double		d;
	int64_t		iv;
	bool		is_int;
	const char *s;
	size_t		len;

	if (depth > MV_MAX_DEPTH)
		mv_fail(r, "nested too deeply");
	switch (mv_kind(r, parent))
	{
		case MV_OBJECT:
			{
				MvCont		c;

				mv_object_begin(r, &c);
				while (mv_object_next(r, &c, &s, &len))
					mv_skip(r, &c, depth + 1);
				break;
			}
		case MV_ARRAY:
			(void) mv_array_skip_count(r, depth);
			break;
		case MV_STRING:
			mv_read_string(r, &s, &len);
			break;
		case MV_NUMBER:
			mv_read_number(r, parent, &d, &iv, &is_int);
			break;
		case MV_BOOL:
			if (r->ubj)
				r->p++;
			else
				mv_json_literal(r, *r->p == 't' ? "true" : "false");
			break;
		case MV_NULL:
			if (r->ubj)
				r->p++;
			else
				mv_json_literal(r, "null");
			break;
	}
}

/* An array of integers into a palloc'd int64_t array. */
static int64_t *
mv_read_int_array(MvReader *r, const char *what, int64_t *count)
{
	MvCont		c;
	int64_t		n = 0;
	int64_t		cap = 16;
	int64_t	   *v;

	mv_array_begin(r, &c);
	if (r->ubj)
		cap = Max(c.remaining, 1);
	if ((uint64_t) cap > MV_MAX_ALLOC / sizeof(int64_t))
		mv_fail(r, "array \"%s\" too large", what);
	v = mv_alloc(r, sizeof(int64_t) * cap);
	while (mv_array_next(r, &c))
	{
		double		d;
		int64_t		iv;
		bool		is_int;

		if (mv_kind(r, &c) != MV_NUMBER)
			mv_fail(r, "\"%s\" holds a non-number", what);
		mv_read_number(r, &c, &d, &iv, &is_int);
		if (!is_int)
			mv_fail(r, "\"%s\" holds a non-integer", what);
		if (n == cap)
		{
			if ((uint64_t) cap * 2 > MV_MAX_ALLOC / sizeof(int64_t))
				mv_fail(r, "array \"%s\" too large", what);
			cap *= 2;
			v = mv_realloc(r, v, sizeof(int64_t) * cap);
		}
		v[n++] = iv;
	}
	*count = n;
	return v;
}

/* An integer written as a number or as a decimal string. */
static int64_t
mv_read_int_value(MvReader *r, MvCont *parent, const char *what)
{
	MvKind		k = mv_kind(r, parent);

	if (k == MV_NUMBER)
	{
		double		d;
		int64_t		iv;
		bool		is_int;

		mv_read_number(r, parent, &d, &iv, &is_int);
		if (!is_int)
			mv_fail(r, "\"%s\" is not an integer", what);
		return iv;
	}
	if (k == MV_STRING)
	{
		const char *s;
		size_t		len;
		char		buf[32];
		char	   *stop;
		int64_t		v;

		mv_read_string(r, &s, &len);
		if (len == 0 || len >= sizeof(buf))
			mv_fail(r, "\"%s\" is not an integer", what);
		memcpy(buf, s, len);
		buf[len] = '\0';
		errno = 0;
		v = strtoll(buf, &stop, 10);
		if (*stop != '\0' || errno != 0)
			mv_fail(r, "\"%s\" is not an integer", what);
		return v;
	}
	mv_fail(r, "\"%s\" is not an integer", what);
	return 0;					/* keep compiler quiet */
}

static void
mv_check_tree(MvReader *r, MvObj *o, MvState *st)
{
	int64_t		n = o->n_left;
	uint8_t	   *color;
	bool	   *is_cat_node = NULL;
	int64_t	   *stack_node;
	int8_t	   *stack_edge;
	int64_t		sp = 0;
	int64_t		i;

	if (o->left == NULL || o->right == NULL || o->split_idx == NULL)
		mv_fail(r, "tree lacks left_children, right_children or split_indices");
	if (n < 1)
		mv_fail(r, "tree without nodes");
	if (n > INT32_MAX)
		mv_fail(r, "tree too large");
	if (o->n_right != n || o->n_split != n ||
		(o->split_type && o->n_split_type != n) ||
		(o->parents && o->n_parents != n))
		mv_fail(r, "tree node arrays differ in length");
	/* parents: the root's is 0x7fffffff (no parent), the others in range */
	if (o->parents)
		for (i = 0; i < n; i++)
			if (!(o->parents[i] == INT32_MAX || o->parents[i] == -1 ||
				  (o->parents[i] >= 0 && o->parents[i] < n && i > 0)))
				mv_fail(r, "tree node %lld has a parent index out of range", (long long) i);
	/*
	 * XGBoost fills a missing key with its default (num_nodes 1, num_trees
	 * 0, ...) and then trusts it, so everything it sizes arrays by must be
	 * present and agree.
	 */
	if (o->parents == NULL)
		mv_fail(r, "tree lacks parents");
	for (i = 0; i < (int64_t) MV_NPERNODE; i++)
		if (o->pernode_len[i] != n)
			mv_fail(r, "tree array \"%s\" has %lld entries for %lld nodes",
					mv_pernode_keys[i], (long long) o->pernode_len[i], (long long) n);
	if (o->tree_param == NULL || o->tree_param->num_nodes != n)
		mv_fail(r, "tree_param.num_nodes does not match the tree's arrays");
	if (o->tree_param->num_deleted >= n)
		mv_fail(r, "tree num_deleted out of range");

	/* categorical segments */
	if (o->cat_nodes || o->cat_segs || o->cat_sizes)
	{
		if (!o->cat_nodes || !o->cat_segs || !o->cat_sizes ||
			o->n_cat_segs != o->n_cat_nodes || o->n_cat_sizes != o->n_cat_nodes)
			mv_fail(r, "tree categories arrays differ in length");
		is_cat_node = mv_alloc0(r, sizeof(bool) * n);
		for (i = 0; i < o->n_cat_nodes; i++)
		{
			if (o->cat_nodes[i] < 0 || o->cat_nodes[i] >= n)
				mv_fail(r, "categorical node index out of range");
			if (o->cat_segs[i] < 0 || o->cat_sizes[i] < 0 ||
				o->cat_segs[i] > o->n_cats || o->cat_sizes[i] > o->n_cats - o->cat_segs[i])
				mv_fail(r, "categorical segment out of range");
			is_cat_node[o->cat_nodes[i]] = true;
		}
		for (i = 0; i < o->n_cats; i++)
			if (o->cats[i] < 0 || o->cats[i] >= MV_MAX_CATEGORY)
				mv_fail(r, "category out of range");
	}
	else if (o->cats && o->n_cats > 0)
		mv_fail(r, "tree categories without segments");

	/*
	 * Depth-first walk from the root over the edges prediction can follow
	 * (left, right and left + 1): every index in range and no cycle.
	 */
	color = mv_alloc0(r, n);
	stack_node = mv_alloc(r, sizeof(int64_t) * (n + 1));
	stack_edge = mv_alloc(r, sizeof(int8_t) * (n + 1));
	stack_node[0] = 0;
	stack_edge[0] = 0;
	color[0] = 1;
	sp = 1;
	while (sp > 0)
	{
		int64_t		v = stack_node[sp - 1];
		int64_t		l = o->left[v];
		int64_t		w;

		if (l == -1)
		{
			color[v] = 2;
			sp--;
			continue;
		}
		if (stack_edge[sp - 1] == 0)
		{
			int64_t		rt = o->right[v];

			if (l < 1 || l >= n || rt < 1 || rt >= n || l + 1 >= n)
				mv_fail(r, "tree node %lld has a child index out of range", (long long) v);
			if (o->split_idx[v] < 0 || o->split_idx[v] >= MV_MAX_FEATURES)
				mv_fail(r, "tree node %lld splits on an invalid feature", (long long) v);
			st->max_split = Max(st->max_split, o->split_idx[v]);
			if (o->split_type)
			{
				if (o->split_type[v] != 0 && o->split_type[v] != 1)
					mv_fail(r, "invalid split type");
				if (o->split_type[v] == 1 && (is_cat_node == NULL || !is_cat_node[v]))
					mv_fail(r, "categorical split without categories");
			}
		}
		if (stack_edge[sp - 1] == 3)
		{
			color[v] = 2;
			sp--;
			continue;
		}
		w = stack_edge[sp - 1] == 0 ? l :
			stack_edge[sp - 1] == 1 ? o->right[v] : l + 1;
		stack_edge[sp - 1]++;
		if (color[w] == 1)
			mv_fail(r, "tree has a cycle at node %lld", (long long) w);
		if (color[w] == 0)
		{
			if (sp > n)
				mv_fail(r, "tree too deep");
			color[w] = 1;
			stack_node[sp] = w;
			stack_edge[sp] = 0;
			sp++;
		}
	}
	mv_free(r, color);
	mv_free(r, stack_node);
	mv_free(r, stack_edge);
	if (is_cat_node)
		mv_free(r, is_cat_node);
}

static MvObj *mv_walk_object(MvReader *r, MvState *st, int depth);

#define MV_KEY(k) (klen == strlen(k) && memcmp(key, (k), klen) == 0)

static MvObj *
mv_walk_object(MvReader *r, MvState *st, int depth)
{
	MvCont		c;
	MvObj	   *o;
	const char *key;
	size_t		klen;
	int			i;

	if (depth > MV_MAX_DEPTH)
		mv_fail(r, "nested too deeply");

	o = mv_alloc0(r, sizeof(MvObj));
	o->num_feature = o->num_class = o->num_target = o->num_nodes = -1;
	o->num_deleted = o->num_trees = o->num_parallel_tree = o->id = -1;
	o->ntrees = o->tree_info_len = o->weights_len = o->weight_drop_len = -1;
	o->feature_names_len = o->feature_types_len = -1;
	for (i = 0; i < (int) MV_NPERNODE; i++)
		o->pernode_len[i] = -1;

	mv_object_begin(r, &c);
	while (mv_object_next(r, &c, &key, &klen))
	{
		MvKind		kind = mv_kind(r, &c);
		bool		done = false;

		if (kind == MV_ARRAY)
		{
			done = true;
			if (MV_KEY("left_children"))
				o->left = mv_read_int_array(r, "left_children", &o->n_left);
			else if (MV_KEY("right_children"))
				o->right = mv_read_int_array(r, "right_children", &o->n_right);
			else if (MV_KEY("split_indices"))
				o->split_idx = mv_read_int_array(r, "split_indices", &o->n_split);
			else if (MV_KEY("split_type"))
				o->split_type = mv_read_int_array(r, "split_type", &o->n_split_type);
			else if (MV_KEY("parents"))
				o->parents = mv_read_int_array(r, "parents", &o->n_parents);
			else if (MV_KEY("categories_nodes"))
				o->cat_nodes = mv_read_int_array(r, "categories_nodes", &o->n_cat_nodes);
			else if (MV_KEY("categories_segments"))
				o->cat_segs = mv_read_int_array(r, "categories_segments", &o->n_cat_segs);
			else if (MV_KEY("categories_sizes"))
				o->cat_sizes = mv_read_int_array(r, "categories_sizes", &o->n_cat_sizes);
			else if (MV_KEY("categories"))
				o->cats = mv_read_int_array(r, "categories", &o->n_cats);
			else if (MV_KEY("tree_info"))
			{
				int64_t	   *ti = mv_read_int_array(r, "tree_info", &o->tree_info_len);
				int64_t		k;

				for (k = 0; k < o->tree_info_len; k++)
				{
					if (ti[k] < 0)
						mv_fail(r, "negative tree_info");
					st->max_tree_info = Max(st->max_tree_info, ti[k]);
				}
				mv_free(r, ti);
			}
			else if (MV_KEY("trees"))
			{
				MvCont		tc;
				bool	   *seen;
				int64_t		nt = 0;
				int64_t		cap = 16;
				int64_t	   *ids = mv_alloc(r, sizeof(int64_t) * cap);
				int64_t		k;

				mv_array_begin(r, &tc);
				while (mv_array_next(r, &tc))
				{
					MvObj	   *t;

					if (mv_kind(r, &tc) != MV_OBJECT)
						mv_fail(r, "a tree is not an object");
					t = mv_walk_object(r, st, depth + 2);
					if (!t->is_tree)
						mv_fail(r, "a tree lacks left_children");
					if (t->id < 0)
						mv_fail(r, "a tree lacks its id");
					if (nt == cap)
					{
						cap *= 2;
						ids = mv_realloc(r, ids, sizeof(int64_t) * cap);
					}
					ids[nt++] = t->id;
					mv_free(r, t);
				}
				seen = mv_alloc0(r, sizeof(bool) * Max(nt, 1));
				for (k = 0; k < nt; k++)
				{
					if (ids[k] >= nt || seen[ids[k]])
						mv_fail(r, "tree ids are not 0..%lld", (long long) (nt - 1));
					seen[ids[k]] = true;
				}
				mv_free(r, seen);
				mv_free(r, ids);
				o->ntrees = nt;
			}
			else if (MV_KEY("weight_drop"))
				o->weight_drop_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("weights"))
				o->weights_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("feature_names"))
				o->feature_names_len = mv_array_skip_count(r, depth);
			else if (MV_KEY("feature_types"))
				o->feature_types_len = mv_array_skip_count(r, depth);
			else
			{
				done = false;
				for (i = 0; i < (int) MV_NPERNODE; i++)
					if (MV_KEY(mv_pernode_keys[i]))
					{
						o->pernode_len[i] = mv_array_skip_count(r, depth);
						done = true;
						break;
					}
			}
		}
		else if (kind == MV_OBJECT)
		{
			MvObj	   *child = mv_walk_object(r, st, depth + 1);

			done = true;
			if (MV_KEY("tree_param"))
				o->tree_param = child;
			else if (MV_KEY("gbtree_model_param"))
				o->gbtree_model_param = child;
			else if (MV_KEY("learner_model_param") && depth == 1)
				st->learner_model_param = child;	/* learner.learner_model_param */
			else
				mv_free(r, child);
		}
		else if (kind == MV_STRING && MV_KEY("name"))
		{
			const char *s;
			size_t		len;

			mv_read_string(r, &s, &len);
			if (len == 8 && memcmp(s, "gblinear", 8) == 0)
				o->gblinear = true;
			done = true;
		}
		else if (kind == MV_STRING || kind == MV_NUMBER)
		{
			int64_t	   *slot = NULL;

			if (MV_KEY("num_feature"))
				slot = &o->num_feature;
			else if (MV_KEY("num_class"))
				slot = &o->num_class;
			else if (MV_KEY("num_target"))
				slot = &o->num_target;
			else if (MV_KEY("num_nodes"))
				slot = &o->num_nodes;
			else if (MV_KEY("num_deleted"))
				slot = &o->num_deleted;
			else if (MV_KEY("num_trees"))
				slot = &o->num_trees;
			else if (MV_KEY("num_parallel_tree"))
				slot = &o->num_parallel_tree;
			else if (MV_KEY("id"))
				slot = &o->id;
			if (slot)
			{
				char		name[32];

				snprintf(name, sizeof(name), "%.*s", (int) Min(klen, 31), key);
				*slot = mv_read_int_value(r, &c, name);
				if (*slot < 0)
					mv_fail(r, "\"%s\" is negative", name);
				done = true;
			}
		}
		if (!done)
			mv_skip(r, &c, depth + 1);
	}

	if (o->left != NULL || o->right != NULL)
	{
		mv_check_tree(r, o, st);
		o->is_tree = true;
	}
	if (o->ntrees >= 0)
	{
		if (o->tree_info_len != o->ntrees)
			mv_fail(r, "tree_info has %lld entries for %lld trees",
					(long long) o->tree_info_len, (long long) o->ntrees);
		if (o->gbtree_model_param == NULL ||
			o->gbtree_model_param->num_trees != o->ntrees)
			mv_fail(r, "gbtree_model_param.num_trees does not match the trees");
		if (o->gbtree_model_param->num_parallel_tree == 0)
			mv_fail(r, "num_parallel_tree is 0");
		st->total_trees += o->ntrees;
	}
	if (o->gblinear)
		st->gblinear = true;
	if (o->weights_len >= 0)
		st->weights_len = o->weights_len;
	if (o->weight_drop_len >= 0)
		st->weight_drop_len = o->weight_drop_len;
	if (o->feature_names_len >= 0)
		st->feature_names_len = o->feature_names_len;
	if (o->feature_types_len >= 0)
		st->feature_types_len = o->feature_types_len;

	/* free the big arrays now; the caller only needs the scalars */
#define MV_FREE(f) do { if (o->f) { mv_free(r, o->f); o->f = NULL; } } while (0)
	MV_FREE(left);
	MV_FREE(right);
	MV_FREE(split_idx);
	MV_FREE(split_type);
	MV_FREE(parents);
	MV_FREE(cat_nodes);
	MV_FREE(cat_segs);
	MV_FREE(cat_sizes);
	MV_FREE(cats);
#undef MV_FREE
	return o;
}


static void
mv_run(MvReader *r, MvState *st)
{
	MvObj	   *lmp;
	int64_t		nf;
	int64_t		ngroup;

	(void) mv_walk_object(r, st, 0);
	if (!r->ubj)
		mv_json_ws(r);
	if (r->p != r->end)
		mv_fail(r, "trailing bytes after the model");

	r->at_end = true;
	lmp = st->learner_model_param;
	if (lmp == NULL || lmp->num_feature < 0)
		mv_fail(r, "no learner_model_param.num_feature");
	nf = lmp->num_feature;
	if (nf > MV_MAX_FEATURES)
		mv_fail(r, "num_feature %lld out of range", (long long) nf);
	if (lmp->num_class > MV_MAX_CLASSES || lmp->num_target > MV_MAX_CLASSES)
		mv_fail(r, "num_class or num_target out of range");
	ngroup = Max(Max(lmp->num_class, lmp->num_target), 1);
	if (st->max_split >= nf)
		mv_fail(r, "a split uses feature %lld but the model has %lld features",
				(long long) st->max_split, (long long) nf);
	if (st->max_tree_info >= ngroup)
		mv_fail(r, "a tree belongs to output group %lld of %lld",
				(long long) st->max_tree_info, (long long) ngroup);
	if (st->weight_drop_len >= 0 && st->weight_drop_len != st->total_trees)
		mv_fail(r, "dart weight_drop has %lld entries for %lld trees",
				(long long) st->weight_drop_len, (long long) st->total_trees);
	if (st->gblinear && st->weights_len != (nf + 1) * ngroup)
		mv_fail(r, "gblinear weights do not match num_feature and num_class");
	if (st->feature_names_len > 0 && st->feature_names_len != nf)
		mv_fail(r, "feature_names does not match num_feature");
	if (st->feature_types_len > 0 && st->feature_types_len != nf)
		mv_fail(r, "feature_types does not match num_feature");
}

int
fs_model_validate(const void *buf, size_t len, FsModelError *err)
{
	MvReader   *volatile r;
	MvState		st;
	int			rc;

	if (err)
	{
		err->message[0] = '\0';
		err->offset = -1;
	}
	if (buf == NULL || len < 2 || ((const unsigned char *) buf)[0] != '{')
	{
		if (err)
			snprintf(err->message, sizeof(err->message), "%s",
					 (buf == NULL || len < 2) ? "too short to be a model" :
					 "not an XGBoost JSON or UBJSON model");
		return FS_MODEL_CORRUPT;
	}
	/* on the heap: setjmp/longjmp leave locals changed after setjmp undefined */
	r = calloc(1, sizeof(MvReader));
	if (r == NULL)
	{
		if (err)
			snprintf(err->message, sizeof(err->message), "out of memory");
		return FS_MODEL_NOMEM;
	}
	r->start = r->p = (const unsigned char *) buf;
	r->end = r->start + len;
	r->ubj = (r->p[1] != '"');
	r->rc = FS_MODEL_OK;

	memset(&st, 0, sizeof(st));
	st.max_split = -1;
	st.max_tree_info = -1;
	st.weight_drop_len = -1;
	st.weights_len = -1;
	st.feature_names_len = -1;
	st.feature_types_len = -1;

	if (setjmp(r->fail) == 0)
		mv_run(r, &st);

	rc = r->rc;
	if (err && rc != FS_MODEL_OK)
	{
		snprintf(err->message, sizeof(err->message), "%s", r->msg);
		err->offset = r->at_end ? -1 : (long) (r->p - r->start);
	}
	while (r->chunks.next)
		mv_free(r, r->chunks.next + 1);
	free(r);
	return rc;
}
