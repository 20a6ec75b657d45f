/*
 * forest_test.c — src/kernel/forest.c and forest_ubj.c against XGBoost 1.7
 * itself (C API, no PostgreSQL): models trained here on rows with missing
 * values, saved as JSON and as UBJSON, compiled into forests (the two
 * identical node for node), and every prediction compared bit for bit with
 * XGBoosterPredictFromDense on fresh rows; truncated and corrupted UBJSON
 * refused or read within its bounds.  Prints TAP lines.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "forest.h"

#define NF 12
#define NTRAIN 2000
#define NTEST 20000

static int	failures = 0;
static int	checks = 0;

static void
check(int ok, const char *what)
{
	checks++;
	if (!ok)
		failures++;
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
}

static uint64_t rng = 88172645463325252ULL;

static double
unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double) (rng >> 11) / 9007199254740992.0;
}

static void
rows(float *x, int n, double missing)
{
	for (int i = 0; i < n * NF; i++)
	{
		double		u = unif();

		x[i] = unif() < missing ? NAN : (float) ((u - 0.5) * 8.0 * (1 + i % 3));
	}
}

static void *
alloc(size_t size, void *arg)
{
	(void) arg;
	return malloc(size);
}

static int
same_forest(const FsForest *a, const FsForest *b)
{
	return a->ntrees == b->ntrees && a->ngroups == b->ngroups && a->nfeatures == b->nfeatures &&
		a->link == b->link && memcmp(&a->base_margin, &b->base_margin, sizeof(float)) == 0 &&
		a->nnodes == b->nnodes &&
		memcmp(a->root, b->root, sizeof(int32_t) * a->ntrees) == 0 &&
		memcmp(a->group, b->group, sizeof(int32_t) * a->ntrees) == 0 &&
		memcmp(a->nodes, b->nodes, sizeof(FsForestNode) * a->nnodes) == 0;
}

static void
free_forest(FsForest *f)
{
	free(f->root);
	free(f->group);
	free(f->nodes);
	memset(f, 0, sizeof(*f));
}

/* Every root, child, group and split feature inside the forest's arrays; each tree's links inside it. */
static int
in_bounds(const FsForest *f)
{
	for (int t = 0; t < f->ntrees; t++)
	{
		int64_t		lo = f->root[t];
		int64_t		hi = t + 1 < f->ntrees ? f->root[t + 1] : f->nnodes;

		if (lo < 0 || hi > f->nnodes || lo >= hi || f->group[t] < 0 || f->group[t] >= f->ngroups)
			return 0;
		for (int64_t i = lo; i < hi; i++)
		{
			const FsForestNode *nd = &f->nodes[i];

			if (nd->left < 0)
				continue;
			if (nd->left < lo || nd->left >= hi || nd->right < lo || nd->right >= hi ||
				(int) (nd->feature & ~FS_MISSING_LEFT) >= f->nfeatures)
				return 0;
		}
	}
	return f->ngroups >= 1;
}

/*
 * A UBJSON model cut short at many lengths is refused; with bytes flipped
 * it is refused or gives a forest whose walks stay in bounds.
 */
static void
damaged_ubj(const char *buf, size_t len)
{
	unsigned char *copy = malloc(len);
	FsForest	g;
	char		err[128];
	float		row[NF];
	long		accepted = 0;
	long		outside = 0;
	long		cut_accepted = 0;

	for (size_t cut = 0; cut < len; cut += len / 211 + 1)
	{
		memcpy(copy, buf, cut);
		if (fs_forest_from_ubj(copy, cut, alloc, NULL, &g, err, sizeof(err)) == 0)
			cut_accepted++;
		free_forest(&g);
	}
	check(cut_accepted == 0, "UBJSON cut short at 212 lengths: every one refused");
	rows(row, 1, 0.2);
	for (int trial = 0; trial < 2000; trial++)
	{
		memcpy(copy, buf, len);
		for (int k = 0; k < 1 + trial % 4; k++)
			copy[(size_t) (unif() * len) % len] = (unsigned char) (unif() * 256);
		if (fs_forest_from_ubj(copy, len, alloc, NULL, &g, err, sizeof(err)) == 0)
		{
			accepted++;
			if (in_bounds(&g))
			{
				float	   *out = malloc(sizeof(float) * g.ngroups);

				fs_forest_predict_row(&g, row, out);	/* under ASan: no access outside */
				free(out);
			}
			else
				outside++;
		}
		free_forest(&g);
	}
	printf("# %ld of 2000 damaged models still formed a forest\n", accepted);
	check(outside == 0, "UBJSON with 1-4 random bytes changed, 2000 times: refused or read within bounds");
	free(copy);
}

#define XGB(call) do { if ((call) != 0) { printf("Bail out! %s\n", XGBGetLastError()); exit(1); } } while (0)

/* label kind: 0 binary, 1 multi (6 classes), 2 regression */
static void
run(const char *name, int kind, const char *const *params, int nparams, int rounds, int damage)
{
	float	   *x = malloc(sizeof(float) * NTRAIN * NF);
	float	   *y = malloc(sizeof(float) * NTRAIN);
	float	   *t = malloc(sizeof(float) * NTEST * NF);
	DMatrixHandle d;
	BoosterHandle b;
	bst_ulong	len;
	const char *buf;
	char	   *json;
	cJSON	   *model;
	FsForest	f;
	FsForest	u;
	char		err[128];
	char		iface[256];
	char		what[256];
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *want;
	int			groups = kind == 1 ? 6 : 1;
	long		differ = 0;
	float		got[16];

	rows(x, NTRAIN, 0.15);
	for (int i = 0; i < NTRAIN; i++)
	{
		float		a = isnan(x[i * NF]) ? 0 : x[i * NF];
		float		c = isnan(x[i * NF + 3]) ? 1 : x[i * NF + 3];

		if (kind == 0)
			y[i] = (a + 0.5 * c + unif() * 3 > 1.5) ? 1 : 0;
		else if (kind == 1)
			y[i] = (float) ((int) (fabsf(a + c) + unif() * 2) % 6);
		else
			y[i] = a * c + (float) unif();
	}
	XGB(XGDMatrixCreateFromMat(x, NTRAIN, NF, NAN, &d));
	XGB(XGDMatrixSetFloatInfo(d, "label", y, NTRAIN));
	XGB(XGBoosterCreate(&d, 1, &b));
	for (int i = 0; i + 1 < nparams; i += 2)
		XGB(XGBoosterSetParam(b, params[i], params[i + 1]));
	for (int r = 0; r < rounds; r++)
		XGB(XGBoosterUpdateOneIter(b, r, d));
	XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf));
	json = malloc(len + 1);
	memcpy(json, buf, len);
	json[len] = '\0';
	model = cJSON_Parse(json);
	snprintf(what, sizeof(what), "%s: the JSON model compiles into a forest", name);
	check(model != NULL && fs_forest_from_json(model, alloc, NULL, &f, err, sizeof(err)) == 0, what);
	if (failures)
		printf("# %s\n", err);
	XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &buf));
	snprintf(what, sizeof(what), "%s: the UBJSON model gives the same forest, node for node", name);
	{
		int			rc = fs_forest_from_ubj(buf, len, alloc, NULL, &u, err, sizeof(err));

		check(rc == 0 && same_forest(&f, &u), what);
		if (rc != 0)
			printf("# %s\n", err);
	}
	if (damage)
		damaged_ubj(buf, len);

	rows(t, NTEST, 0.2);
	/* infinities: compared like any value by in-place prediction (no missing) */
	for (long i = 0; i < (long) NTEST * NF; i += 37)
		t[i] = (i / 37) % 2 ? INFINITY : -INFINITY;
	snprintf(iface, sizeof(iface),
			 "{\"data\": [%lu, true], \"shape\": [%d, %d], \"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long) (uintptr_t) t, NTEST, NF);
	XGB(XGBoosterPredictFromDense(b, iface,
								  "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
								  "\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}",
								  NULL, &shape, &dim, &want));
	for (int i = 0; i < NTEST; i++)
	{
		fs_forest_predict_row(&f, t + (long) i * NF, got);
		fs_forest_predict_row(&u, t + (long) i * NF, got + groups);
		if (memcmp(got, want + (long) i * groups, sizeof(float) * groups) != 0 ||
			memcmp(got + groups, want + (long) i * groups, sizeof(float) * groups) != 0)
		{
			if (differ == 0)
				printf("# row %d: forest %.9g, XGBoost %.9g\n", i, got[0], want[(long) i * groups]);
			differ++;
		}
	}
	snprintf(what, sizeof(what), "%s: %d trees, %d rows, every output of both forests bit-equal to XGBoost (%ld differ)",
			 name, f.ntrees, NTEST, differ);
	check(differ == 0, what);
	cJSON_Delete(model);
	free(json);
	free_forest(&f);
	free_forest(&u);
	XGB(XGBoosterFree(b));
	XGB(XGDMatrixFree(d));
	free(x);
	free(y);
	free(t);
}

int
main(void)
{
	const char *bin[] = {"objective", "binary:logistic", "max_depth", "6", "eta", "0.1", "nthread", "1"};
	const char *bin_base[] = {"objective", "binary:logistic", "max_depth", "4", "base_score", "0.3",
	"nthread", "1"};
	const char *multi[] = {"objective", "multi:softprob", "num_class", "6", "max_depth", "5", "nthread", "1"};
	const char *reg[] = {"objective", "reg:squarederror", "max_depth", "8", "gamma", "2",
	"min_child_weight", "3", "nthread", "1"};
	const char *exact[] = {"objective", "binary:logistic", "tree_method", "exact", "max_depth", "6",
	"gamma", "0.5", "nthread", "1"};
	const char *lin[] = {"booster", "gblinear", "objective", "reg:squarederror", "nthread", "1"};
	FsForest	f;
	char		err[128];
	BoosterHandle b;
	DMatrixHandle d;
	float		x[NF * 50];
	float		y[50] = {0};
	bst_ulong	len;
	const char *buf;
	char	   *json;
	cJSON	   *model;

	run("binary:logistic, depth 6, 150 rounds", 0, bin, 8, 150, 0);
	run("binary:logistic, base_score 0.3", 0, bin_base, 8, 60, 1);
	run("multi:softprob, 6 classes", 1, multi, 8, 60, 0);
	run("reg:squarederror, depth 8, pruned (gamma 2)", 2, reg, 10, 120, 0);
	run("binary:logistic, exact, pruned (gamma 0.5)", 0, exact, 10, 80, 0);

	/* a linear booster is refused, not approximated */
	rows(x, 50, 0);
	XGB(XGDMatrixCreateFromMat(x, 50, NF, NAN, &d));
	XGB(XGDMatrixSetFloatInfo(d, "label", y, 50));
	XGB(XGBoosterCreate(&d, 1, &b));
	for (int i = 0; i < 6; i += 2)
		XGB(XGBoosterSetParam(b, lin[i], lin[i + 1]));
	XGB(XGBoosterUpdateOneIter(b, 0, d));
	XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf));
	json = strndup(buf, len);
	model = cJSON_Parse(json);
	check(fs_forest_from_json(model, alloc, NULL, &f, err, sizeof(err)) != 0 &&
		  strstr(err, "gbtree") != NULL, "a gblinear model is refused (\"not a gbtree model\")");
	XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &buf));
	check(fs_forest_from_ubj(buf, len, alloc, NULL, &f, err, sizeof(err)) != 0 &&
		  strstr(err, "gbtree") != NULL, "a gblinear model is refused from UBJSON too");
	/* a cycle is refused: the walk would never end */
	{
		cJSON	   *trees;
		cJSON	   *tr;

		XGBoosterFree(b);
		XGB(XGBoosterCreate(&d, 1, &b));
		XGB(XGBoosterSetParam(b, "max_depth", "3"));
		XGB(XGBoosterUpdateOneIter(b, 0, d));
		y[0] = 1;
		y[1] = 1;
		XGB(XGDMatrixSetFloatInfo(d, "label", y, 50));
		XGB(XGBoosterUpdateOneIter(b, 1, d));
		XGB(XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf));
		cJSON_Delete(model);
		free(json);
		json = strndup(buf, len);
		model = cJSON_Parse(json);
		trees = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(model, "learner"),
											 "gradient_booster"), "model"), "trees");
		tr = cJSON_GetArrayItem(trees, 1);
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tr, "left_children")) >= 3)
		{
			/* node 1's left child becomes the root */
			cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(tr, "left_children"), 1,
									 cJSON_CreateNumber(0));
			check(fs_forest_from_json(model, alloc, NULL, &f, err, sizeof(err)) != 0,
				  "a tree whose links loop back is refused");
		}
		else
			check(0, "the second tree has splits to corrupt");
	}
	cJSON_Delete(model);
	free(json);
	XGBoosterFree(b);
	XGDMatrixFree(d);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
