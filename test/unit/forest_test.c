/*
 * forest_test.c — src/kernel/forest.c against XGBoost 1.7 itself (C API,
 * no PostgreSQL): models trained here on rows with missing values, saved
 * as JSON, compiled into forests, and every prediction compared bit for
 * bit with XGBoosterPredictFromDense on fresh rows.  Prints TAP lines.
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

#define XGB(call) do { if ((call) != 0) { printf("Bail out! %s\n", XGBGetLastError()); exit(1); } } while (0)

/* label kind: 0 binary, 1 multi (6 classes), 2 regression */
static void
run(const char *name, int kind, const char *const *params, int nparams, int rounds)
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
	char		err[128];
	char		iface[256];
	char		what[256];
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *want;
	int			groups = kind == 1 ? 6 : 1;
	long		differ = 0;
	float		got[8];

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
		if (memcmp(got, want + (long) i * groups, sizeof(float) * groups) != 0)
		{
			if (differ == 0)
				printf("# row %d: forest %.9g, XGBoost %.9g\n", i, got[0], want[(long) i * groups]);
			differ++;
		}
	}
	snprintf(what, sizeof(what), "%s: %d trees, %d rows, every output bit-equal to XGBoost (%ld differ)",
			 name, f.ntrees, NTEST, differ);
	check(differ == 0, what);
	cJSON_Delete(model);
	free(json);
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

	run("binary:logistic, depth 6, 150 rounds", 0, bin, 8, 150);
	run("binary:logistic, base_score 0.3", 0, bin_base, 8, 60);
	run("multi:softprob, 6 classes", 1, multi, 8, 60);
	run("reg:squarederror, depth 8, pruned (gamma 2)", 2, reg, 10, 120);
	run("binary:logistic, exact, pruned (gamma 0.5)", 0, exact, 10, 80);

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
