/*
 * forest.c — XGBoost 1.7 gbtree models as flat node arrays, and their
 * single-row prediction in XGBoost's float arithmetic (see forest.h).
 *
 * XGBoost's CPU predictor starts each output at the base margin and adds
 * the trees' leaf values one tree at a time, in float, in the model's tree
 * order; a missing value (NaN) takes the default child, anything else goes
 * left when value < split condition.  The link functions below are
 * XGBoost 1.7's (common/math.h).  Callers compare a few rows against
 * XGBoost itself before trusting a forest (xgb_forest.c).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"

int
fs_forest_fail(char *err, size_t errlen, const char *msg, const char *detail)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
	return -1;
}

static const cJSON *
path(const cJSON *o, const char *const *keys, int n)
{
	for (int i = 0; i < n && o; i++)
		o = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
	return o;
}

/* XGBoost writes its parameters as strings ("5E-1"); accept numbers too. */
static bool
number_of(const cJSON *v, double *out)
{
	char	   *end;

	if (cJSON_IsNumber(v))
	{
		*out = v->valuedouble;
		return true;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return false;
	*out = strtod(v->valuestring, &end);
	return end != v->valuestring && *end == '\0';
}

static bool
int_of(const cJSON *v, int64_t *out)
{
	if (cJSON_IsBool(v))
	{
		*out = cJSON_IsTrue(v);
		return true;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
		return false;
	*out = (int64_t) v->valuedouble;
	return true;
}

/* Every node reached from the root at most once: each walk ends. */
bool
fs_forest_is_tree(const FsForestNode *nodes, int32_t base, int n)
{
	unsigned char *seen = calloc(n, 1);
	int32_t    *stack = malloc(sizeof(int32_t) * n);
	int			top = 0;
	bool		ok = true;

	if (seen == NULL || stack == NULL)
		ok = false;
	else
		stack[top++] = 0;
	while (ok && top > 0)
	{
		int32_t		i = stack[--top];

		if (seen[i])
			ok = false;
		else
		{
			seen[i] = 1;
			if (nodes[i].left >= 0)
			{
				if (top + 2 > n)
					ok = false;
				else
				{
					stack[top++] = nodes[i].left - base;
					stack[top++] = nodes[i].right - base;
				}
			}
		}
	}
	free(seen);
	free(stack);
	return ok;
}

/* The forest's arrays for its ntrees trees of total nodes, from alloc. */
int
fs_forest_alloc_nodes(FsForest *f, int64_t total, FsForestAlloc alloc, void *arg, char *err, size_t errlen)
{
	f->nnodes = total;
	f->root = alloc(sizeof(int32_t) * (f->ntrees > 0 ? f->ntrees : 1), arg);
	f->group = alloc(sizeof(int32_t) * (f->ntrees > 0 ? f->ntrees : 1), arg);
	f->nodes = alloc(sizeof(FsForestNode) * (total > 0 ? total : 1), arg);
	if (f->root == NULL || f->group == NULL || f->nodes == NULL)
		return fs_forest_fail(err, errlen, "out of memory", NULL);
	return 0;
}

/*
 * Node i of a tree of n nodes starting at total: its children, split feature
 * and default direction as XGBoost stores them (left_children -1: a leaf),
 * checked to stay inside the tree and the model's features.
 */
int
fs_forest_set_node(FsForest *f, int64_t total, int n, int i, int64_t l, int64_t r, int64_t feat,
				   int64_t default_left, double value, char *err, size_t errlen)
{
	FsForestNode *nd = &f->nodes[total + i];

	nd->value = (float) value;
	if (l == -1)
	{
		nd->left = nd->right = -1;
		nd->feature = 0;
		return 0;
	}
	if (l < 0 || r < 0 || l >= n || r >= n || feat < 0 || feat >= f->nfeatures)
		return fs_forest_fail(err, errlen, "tree node links out of range", NULL);
	nd->left = (int32_t) (total + l);
	nd->right = (int32_t) (total + r);
	nd->feature = (uint32_t) feat | (default_left ? FS_MISSING_LEFT : 0);
	return 0;
}

/*
 * The link, base margin, outputs and features of f from the learner's
 * objective name and learner_model_param (shared with forest_ubj.c).
 */
int
fs_forest_set_objective(FsForest *f, const char *objective, double base, double nclass, double nfeat,
						char *err, size_t errlen)
{
	if (nfeat < 1 || nfeat > INT32_MAX || nclass < 0 || nclass > 100000)
		return fs_forest_fail(err, errlen, "malformed learner_model_param", NULL);
	f->nfeatures = (int32_t) nfeat;
	f->ngroups = nclass > 1 ? (int32_t) nclass : 1;
	if (strcmp(objective, "binary:logistic") == 0 && f->ngroups == 1)
	{
		if (!(base > 0 && base < 1))
			return fs_forest_fail(err, errlen, "base_score outside (0, 1)", NULL);
		f->link = FS_LINK_SIGMOID;
		f->base_margin = -logf(1.0f / (float) base - 1.0f);
	}
	else if (strcmp(objective, "multi:softprob") == 0 && f->ngroups > 1)
	{
		f->link = FS_LINK_SOFTMAX;
		f->base_margin = (float) base;
	}
	else if ((strcmp(objective, "reg:squarederror") == 0 ||
			  strcmp(objective, "reg:pseudohubererror") == 0) && f->ngroups == 1)
	{
		f->link = FS_LINK_IDENTITY;
		f->base_margin = (float) base;
	}
	else
		return fs_forest_fail(err, errlen, "objective not reproduced", objective);
	return 0;
}

int
fs_forest_from_json(const cJSON *model, FsForestAlloc alloc, void *arg, FsForest *f,
					char *err, size_t errlen)
{
	static const char *const k_gbm[] = {"learner", "gradient_booster"};
	static const char *const k_obj[] = {"learner", "objective", "name"};
	static const char *const k_base[] = {"learner", "learner_model_param", "base_score"};
	static const char *const k_nclass[] = {"learner", "learner_model_param", "num_class"};
	static const char *const k_nfeat[] = {"learner", "learner_model_param", "num_feature"};
	const cJSON *gbm = path(model, k_gbm, 2);
	const cJSON *obj = path(model, k_obj, 3);
	const cJSON *trees;
	const cJSON *info;
	const cJSON *tr;
	const cJSON *ti;
	double		base;
	double		nclass;
	double		nfeat;
	int64_t		total = 0;

	memset(f, 0, sizeof(*f));
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(gbm, "name")) ||
		strcmp(cJSON_GetObjectItemCaseSensitive(gbm, "name")->valuestring, "gbtree") != 0)
		return fs_forest_fail(err, errlen, "not a gbtree model", NULL);
	if (!cJSON_IsString(obj))
		return fs_forest_fail(err, errlen, "no objective", NULL);
	if (!number_of(path(model, k_base, 3), &base) || !number_of(path(model, k_nclass, 3), &nclass) ||
		!number_of(path(model, k_nfeat, 3), &nfeat))
		return fs_forest_fail(err, errlen, "malformed learner_model_param", NULL);
	if (fs_forest_set_objective(f, obj->valuestring, base, nclass, nfeat, err, errlen) != 0)
		return -1;

	gbm = cJSON_GetObjectItemCaseSensitive(gbm, "model");
	trees = cJSON_GetObjectItemCaseSensitive(gbm, "trees");
	info = cJSON_GetObjectItemCaseSensitive(gbm, "tree_info");
	if (!cJSON_IsArray(trees) || !cJSON_IsArray(info) ||
		cJSON_GetArraySize(trees) != cJSON_GetArraySize(info))
		return fs_forest_fail(err, errlen, "malformed tree list", NULL);
	f->ntrees = cJSON_GetArraySize(trees);

	/* sizes first, then one allocation per array; lists walked, not indexed (cJSON's are linked) */
	tr = trees->child;
	for (int t = 0; t < f->ntrees; t++, tr = tr->next)
	{
		const cJSON *cats = cJSON_GetObjectItemCaseSensitive(tr, "categories_nodes");
		int			n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tr, "left_children"));

		if (cats != NULL && cJSON_GetArraySize(cats) > 0)
			return fs_forest_fail(err, errlen, "categorical splits not reproduced", NULL);
		if (n < 1 || n > FS_MAX_NODES_PER_TREE || total + n > INT32_MAX)
			return fs_forest_fail(err, errlen, "malformed tree", NULL);
		total += n;
	}
	if (fs_forest_alloc_nodes(f, total, alloc, arg, err, errlen) < 0)
		return -1;

	total = 0;
	tr = trees->child;
	ti = info->child;
	for (int t = 0; t < f->ntrees; t++, tr = tr->next, ti = ti->next)
	{
		const cJSON *lc = cJSON_GetObjectItemCaseSensitive(tr, "left_children");
		const cJSON *rc = cJSON_GetObjectItemCaseSensitive(tr, "right_children");
		const cJSON *si = cJSON_GetObjectItemCaseSensitive(tr, "split_indices");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(tr, "split_conditions");
		const cJSON *dl = cJSON_GetObjectItemCaseSensitive(tr, "default_left");
		int			n = cJSON_GetArraySize(lc);
		const cJSON *cl,
				   *cr,
				   *cs,
				   *cc,
				   *cd;
		int64_t		g;

		if (!int_of(ti, &g) || g < 0 || g >= f->ngroups)
			return fs_forest_fail(err, errlen, "tree_info outside the output groups", NULL);
		if (cJSON_GetArraySize(rc) != n || cJSON_GetArraySize(si) != n ||
			cJSON_GetArraySize(sc) != n || cJSON_GetArraySize(dl) != n)
			return fs_forest_fail(err, errlen, "tree arrays of different lengths", NULL);
		f->root[t] = (int32_t) total;
		f->group[t] = (int32_t) g;
		cl = lc->child;
		cr = rc->child;
		cs = si->child;
		cc = sc->child;
		cd = dl->child;
		for (int i = 0; i < n; i++, cl = cl->next, cr = cr->next, cs = cs->next, cc = cc->next, cd = cd->next)
		{
			int64_t		l,
						r,
						feat,
						d;

			if (!int_of(cl, &l) || !int_of(cr, &r) || !int_of(cs, &feat) ||
				!int_of(cd, &d) || !cJSON_IsNumber(cc))
				return fs_forest_fail(err, errlen, "malformed tree node", NULL);
			if (fs_forest_set_node(f, total, n, i, l, r, feat, d, cc->valuedouble, err, errlen) < 0)
				return -1;
		}
		if (!fs_forest_is_tree(&f->nodes[total], (int32_t) total, n))
			return fs_forest_fail(err, errlen, "tree nodes do not form a tree", NULL);
		total += n;
	}
	return 0;
}

/* common::Sigmoid of XGBoost 1.7 */
static inline float
sigmoid(float x)
{
	const float eps = 1e-16f;
	float		nx = -x < 88.7f ? -x : 88.7f;

	return 1.0f / (expf(nx) + 1.0f + eps);
}

/* common::Softmax of XGBoost 1.7: float exponentials, a double sum */
static void
softmax(float *v, int n)
{
	float		wmax = v[0];
	double		wsum = 0.0;

	for (int i = 1; i < n; i++)
		wmax = fmaxf(v[i], wmax);
	for (int i = 0; i < n; i++)
	{
		v[i] = expf(v[i] - wmax);
		wsum += v[i];
	}
	for (int i = 0; i < n; i++)
		v[i] /= (float) wsum;
}

void
fs_forest_predict_row(const FsForest *f, const float *x, float *out)
{
	const FsForestNode *nodes = f->nodes;

	for (int g = 0; g < f->ngroups; g++)
		out[g] = f->base_margin;
	for (int t = 0; t < f->ntrees; t++)
	{
		const FsForestNode *nd = &nodes[f->root[t]];

		while (nd->left >= 0)
		{
			float		v = x[nd->feature & ~FS_MISSING_LEFT];

			if (isnan(v))
				nd = &nodes[(nd->feature & FS_MISSING_LEFT) ? nd->left : nd->right];
			else
				nd = &nodes[v < nd->value ? nd->left : nd->right];
		}
		out[f->group[t]] += nd->value;
	}
	if (f->link == FS_LINK_SIGMOID)
		out[0] = sigmoid(out[0]);
	else if (f->link == FS_LINK_SOFTMAX)
		softmax(out, f->ngroups);
}
