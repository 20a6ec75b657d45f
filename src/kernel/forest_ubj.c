/*
 * forest_ubj.c — forest.c's flat forest from a model XGBoost saved as
 * UBJSON (XGBoosterSaveModelToBuffer, format "ubj").  The JSON route costs
 * a live series about 20 ms per backend: XGBoost prints every float as
 * decimal text, cJSON allocates a node per array element and strtod reads
 * them back.  Here the typed arrays are read in place.
 *
 * The grammar is XGBoost's writer's (model_validate.c checks all of it):
 * objects '{' (key: 'L' int64 length, bytes; value)* '}', arrays '['
 * ['$' type] '#' 'L' int64 count, elements; strings 'S' 'L' length, bytes;
 * numbers a type marker and big-endian bytes.  Every length is checked
 * against the buffer and nesting is bounded: a malformed blob is refused,
 * never read past.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"
#include "ubj.h"

#define UB_MAX_DEPTH 32

typedef const unsigned char *UbPtr;

typedef struct UbArray
{
	int64_t		n;
	char		type;			/* '$' element type; 0: untyped (a marker per element) */
	int			size;			/* bytes per typed element */
	UbPtr		data;			/* the first element */
} UbArray;

/* A number of type t at p (size already checked), as a double. */
static double
ub_decode(unsigned char t, UbPtr p)
{
	double		d;
	int64_t		iv;

	return fs_ubj_number(t, p, &d, &iv) ? (double) iv : d;
}

/* A length or count ('L' int64) at *p, within end; advances *p. */
static bool
ub_length(UbPtr *p, UbPtr end, int64_t *n)
{
	if (end - *p < 9 || **p != 'L')
		return false;
	*n = (int64_t) fs_ubj_be(*p + 1, 8);
	*p += 9;
	return *n >= 0 && *n <= end - *p;	/* every element, byte or key takes a byte */
}

/* An array's header at v: count, element type, first element. */
static bool
ub_array(UbPtr v, UbPtr end, UbArray *a)
{
	UbPtr		p = v;

	memset(a, 0, sizeof(*a));
	if (p == NULL || p >= end || *p++ != '[')
		return false;
	if (p < end && *p == '$')
	{
		if (end - p < 2 || (a->size = fs_ubj_size(p[1])) < 0)
			return false;
		a->type = (char) p[1];
		p += 2;
	}
	if (p >= end || *p++ != '#' || !ub_length(&p, end, &a->n))
		return false;
	if (a->type && a->n > (end - p) / a->size)
		return false;
	a->data = p;
	return true;
}

/* Skips the value at *p; false when malformed. */
static bool
ub_skip(UbPtr *p, UbPtr end, int depth)
{
	UbPtr		q = *p;
	int64_t		n;

	if (depth > UB_MAX_DEPTH || q >= end)
		return false;
	switch (*q)
	{
		case '{':
			q++;
			while (q < end && *q != '}')
			{
				if (!ub_length(&q, end, &n))
					return false;
				q += n;
				if (!ub_skip(&q, end, depth + 1))
					return false;
			}
			if (q >= end)
				return false;
			q++;
			break;
		case '[':
			{
				UbArray		a;

				if (!ub_array(q, end, &a))
					return false;
				q = a.data;
				if (a.type)
					q += a.n * a.size;
				else
					for (int64_t i = 0; i < a.n; i++)
						if (!ub_skip(&q, end, depth + 1))
							return false;
			}
			break;
		case 'S':
			q++;
			if (!ub_length(&q, end, &n))
				return false;
			q += n;
			break;
		case 'T':
		case 'F':
		case 'Z':
			q++;
			break;
		default:
			if (fs_ubj_size(*q) < 0 || end - q - 1 < fs_ubj_size(*q))
				return false;
			q += 1 + fs_ubj_size(*q);
	}
	*p = q;
	return true;
}

/* The value of key in the object at obj, or NULL. */
static UbPtr
ub_get(UbPtr obj, UbPtr end, const char *key)
{
	size_t		klen = strlen(key);
	UbPtr		p = obj;
	int64_t		n;

	if (p == NULL || p >= end || *p++ != '{')
		return NULL;
	while (p < end && *p != '}')
	{
		UbPtr		k;

		if (!ub_length(&p, end, &n))
			return NULL;
		k = p;
		p += n;
		if ((size_t) n == klen && memcmp(k, key, klen) == 0)
			return p;
		if (!ub_skip(&p, end, 1))
			return NULL;
	}
	return NULL;
}

static UbPtr
ub_path(UbPtr v, UbPtr end, const char *const *keys, int n)
{
	for (int i = 0; i < n && v; i++)
		v = ub_get(v, end, keys[i]);
	return v;
}

/* A string value, copied NUL-terminated into buf (false when longer). */
static bool
ub_string(UbPtr v, UbPtr end, char *buf, size_t buflen)
{
	int64_t		n;

	if (v == NULL || v >= end || *v++ != 'S' || !ub_length(&v, end, &n) || (size_t) n >= buflen)
		return false;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return true;
}

/* XGBoost writes its parameters as strings ("5E-1"); accept numbers too. */
static bool
ub_number(UbPtr v, UbPtr end, double *out)
{
	char		buf[64];
	char	   *stop;

	if (v == NULL || v >= end)
		return false;
	if (*v == 'S')
	{
		if (!ub_string(v, end, buf, sizeof(buf)))
			return false;
		*out = strtod(buf, &stop);
		return stop != buf && *stop == '\0';
	}
	if (fs_ubj_size(*v) < 0 || end - v - 1 < fs_ubj_size(*v))
		return false;
	*out = ub_decode(*v, v + 1);
	return true;
}

/* Element i of a typed array, as a double (integer types exact up to 2^53). */
static inline double
ub_at(const UbArray *a, int64_t i)
{
	return ub_decode((unsigned char) a->type, a->data + i * a->size);
}

static bool
ub_int_at(const UbArray *a, int64_t i, int64_t *out)
{
	double		d = ub_at(a, i);

	if (a->type == 'd' || a->type == 'D' || d != floor(d))
		return false;
	*out = (int64_t) d;
	return true;
}

/* A tree's node arrays, read in one pass over its keys. */
typedef struct UbTree
{
	UbArray		lc,
				rc,
				si,
				sc,
				dl;
	int64_t		ncats;			/* categorical split nodes */
	UbPtr		next;			/* just past the tree */
} UbTree;

/* False when an array is missing, untyped or of another length, or the tree is malformed. */
static bool
ub_tree(UbPtr tr, UbPtr end, UbTree *t)
{
	UbPtr		p = tr;
	int64_t		n;
	UbArray		cats;

	memset(t, 0, sizeof(*t));
	if (p == NULL || p >= end || *p++ != '{')
		return false;
	while (p < end && *p != '}')
	{
		UbPtr		k;
		UbArray    *a = NULL;

		if (!ub_length(&p, end, &n))
			return false;
		k = p;
		p += n;
#define UB_KEY(s) ((size_t) n == strlen(s) && memcmp(k, (s), n) == 0)
		if (UB_KEY("left_children"))
			a = &t->lc;
		else if (UB_KEY("right_children"))
			a = &t->rc;
		else if (UB_KEY("split_indices"))
			a = &t->si;
		else if (UB_KEY("split_conditions"))
			a = &t->sc;
		else if (UB_KEY("default_left"))
			a = &t->dl;
		else if (UB_KEY("categories_nodes"))
		{
			if (!ub_array(p, end, &cats))
				return false;
			t->ncats = cats.n;
		}
#undef UB_KEY
		if (a && !ub_array(p, end, a))
			return false;
		if (!ub_skip(&p, end, 3))
			return false;
	}
	if (p >= end)
		return false;
	t->next = p + 1;
	if (!t->lc.type || !t->rc.type || !t->si.type || !t->sc.type || !t->dl.type)
		return false;
	return t->rc.n == t->lc.n && t->si.n == t->lc.n && t->sc.n == t->lc.n && t->dl.n == t->lc.n;
}

int
fs_forest_from_ubj(const void *buf, size_t len, FsForestAlloc alloc, void *arg, FsForest *f,
				   char *err, size_t errlen)
{
	static const char *const k_gbm[] = {"learner", "gradient_booster"};
	static const char *const k_obj[] = {"learner", "objective", "name"};
	static const char *const k_param[] = {"learner", "learner_model_param"};
	UbPtr		start = buf;
	UbPtr		end = start + len;
	UbPtr		gbm = ub_path(start, end, k_gbm, 2);
	UbPtr		param = ub_path(start, end, k_param, 2);
	UbPtr		model;
	UbPtr		tr;
	UbPtr		ti;
	UbArray		trees;
	UbArray		info;
	char		name[64];
	char		objective[64];
	double		base;
	double		nclass;
	double		nfeat;
	int64_t		total = 0;

	memset(f, 0, sizeof(*f));
	if (!ub_string(ub_get(gbm, end, "name"), end, name, sizeof(name)) || strcmp(name, "gbtree") != 0)
		return fs_forest_fail(err, errlen, "not a gbtree model", NULL);
	if (!ub_string(ub_path(start, end, k_obj, 3), end, objective, sizeof(objective)))
		return fs_forest_fail(err, errlen, "no objective", NULL);
	if (!ub_number(ub_get(param, end, "base_score"), end, &base) ||
		!ub_number(ub_get(param, end, "num_class"), end, &nclass) ||
		!ub_number(ub_get(param, end, "num_feature"), end, &nfeat))
		return fs_forest_fail(err, errlen, "malformed learner_model_param", NULL);
	if (fs_forest_set_objective(f, objective, base, nclass, nfeat, err, errlen) != 0)
		return -1;

	model = ub_get(gbm, end, "model");
	if (!ub_array(ub_get(model, end, "trees"), end, &trees) || trees.type ||
		!ub_array(ub_get(model, end, "tree_info"), end, &info) || info.n != trees.n ||
		trees.n > INT32_MAX)
		return fs_forest_fail(err, errlen, "malformed tree list", NULL);
	f->ntrees = (int32_t) trees.n;

	/* sizes first, then one allocation per array */
	tr = trees.data;
	for (int t = 0; t < f->ntrees; t++)
	{
		UbTree		tree;
		bool		ok = ub_tree(tr, end, &tree);

		if (ok && tree.ncats > 0)
			return fs_forest_fail(err, errlen, "categorical splits not reproduced", NULL);
		if (!ok || tree.lc.n < 1 || tree.lc.n > FS_MAX_NODES_PER_TREE || total + tree.lc.n > INT32_MAX)
			return fs_forest_fail(err, errlen, "malformed tree", NULL);
		total += tree.lc.n;
		tr = tree.next;
	}
	if (fs_forest_alloc_nodes(f, total, alloc, arg, err, errlen) < 0)
		return -1;

	total = 0;
	tr = trees.data;
	ti = info.data;
	for (int t = 0; t < f->ntrees; t++)
	{
		UbTree		tree;
		double		gd;
		int			n;

		/* tree_info: typed or a marker per element */
		if (info.type)
			gd = ub_at(&info, t);
		else if (!ub_number(ti, end, &gd) || !ub_skip(&ti, end, 3))
			return fs_forest_fail(err, errlen, "malformed tree list", NULL);
		if (gd != floor(gd) || gd < 0 || gd >= f->ngroups)
			return fs_forest_fail(err, errlen, "tree_info outside the output groups", NULL);
		if (!ub_tree(tr, end, &tree))
			return fs_forest_fail(err, errlen, "tree arrays of different lengths", NULL);
		if (tree.sc.type != 'd' && tree.sc.type != 'D')
			return fs_forest_fail(err, errlen, "malformed tree node", NULL);
		n = (int) tree.lc.n;
		f->root[t] = (int32_t) total;
		f->group[t] = (int32_t) gd;
		for (int i = 0; i < n; i++)
		{
			int64_t		l,
						r,
						feat,
						d;

			if (!ub_int_at(&tree.lc, i, &l) || !ub_int_at(&tree.rc, i, &r) ||
				!ub_int_at(&tree.si, i, &feat) || !ub_int_at(&tree.dl, i, &d))
				return fs_forest_fail(err, errlen, "malformed tree node", NULL);
			if (fs_forest_set_node(f, total, n, i, l, r, feat, d, ub_at(&tree.sc, i), err, errlen) < 0)
				return -1;
		}
		if (!fs_forest_is_tree(&f->nodes[total], (int32_t) total, n))
			return fs_forest_fail(err, errlen, "tree nodes do not form a tree", NULL);
		total += n;
		tr = tree.next;
	}
	return 0;
}
