/*
 * gen_seeds.c — small valid XGBoost 1.7 models (UBJ and JSON) as fuzzing
 * seeds: gbtree binary, gbtree multi-class with parallel trees, gblinear,
 * dart, lossguide.   gen_seeds OUTDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#define CK(x) do { if ((x) != 0) { fprintf(stderr, "%s\n", XGBGetLastError()); exit(1); } } while (0)

int
main(int argc, char **argv)
{
	static const char *const cfg[][2][2] = {
		{{"booster", "gbtree"}, {"max_depth", "3"}},
		{{"num_parallel_tree", "2"}, {"max_depth", "2"}},
		{{"booster", "gblinear"}, {"eta", "0.5"}},
		{{"booster", "dart"}, {"max_depth", "2"}},
		{{"grow_policy", "lossguide"}, {"max_leaves", "5"}},
	};
	float		x[200 * 5], y[200];
	unsigned	s = 1;

	for (int i = 0; i < 1000; i++)
		x[i] = (float) ((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f;
	for (int c = 0; c < 6; c++)
	{
		DMatrixHandle m;
		BoosterHandle b;

		for (int i = 0; i < 200; i++)
			y[i] = c == 5 ? (float) (i % 3) : (x[i * 5] + x[i * 5 + 1] > 1.0f);
		CK(XGDMatrixCreateFromMat(x, 200, 5, -1e30f, &m));
		CK(XGDMatrixSetFloatInfo(m, "label", y, 200));
		CK(XGBoosterCreate(&m, 1, &b));
		CK(XGBoosterSetParam(b, "tree_method", "hist"));
		if (c == 5)
		{
			CK(XGBoosterSetParam(b, "objective", "multi:softprob"));
			CK(XGBoosterSetParam(b, "num_class", "3"));
		}
		else
		{
			CK(XGBoosterSetParam(b, "objective", "binary:logistic"));
			CK(XGBoosterSetParam(b, cfg[c][0][0], cfg[c][0][1]));
			CK(XGBoosterSetParam(b, cfg[c][1][0], cfg[c][1][1]));
		}
		for (int it = 0; it < 3; it++)
			CK(XGBoosterUpdateOneIter(b, it, m));
		for (int f = 0; f < 2; f++)
		{
			bst_ulong	len;
			const char *p;
			char		path[512];
			FILE	   *o;

			CK(XGBoosterSaveModelToBuffer(b, f ? "{\"format\": \"json\"}" : "{\"format\": \"ubj\"}", &len, &p));
			snprintf(path, sizeof(path), "%s/seed%d.%s", argv[1], c, f ? "json" : "ubj");
			o = fopen(path, "wb");
			fwrite(p, 1, len, o);
			fclose(o);
		}
		XGBoosterFree(b);
		XGDMatrixFree(m);
	}
	return 0;
}
