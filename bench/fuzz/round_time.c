/*
 * round_time.c — seconds of one XGBoost boosting round (XGBoosterUpdateOneIter)
 * on random dense data, nthread threads: used to choose the fsmml.xgb_*
 * defaults (README, "Limits").  Also times DMatrix creation and the first
 * round (which builds the histogram index).
 *   round_time ROWS COLS DEPTH TREES BINS NTHREAD [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xgboost/c_api.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define CK(x) do { if ((x) != 0) { fprintf(stderr, "%s\n", XGBGetLastError()); return 1; } } while (0)

int
main(int argc, char **argv)
{
	long		rows = atol(argv[1]), cols = atol(argv[2]);
	int			rounds = argc > 7 ? atoi(argv[7]) : 4;
	float	   *x = malloc(sizeof(float) * rows * cols), *y = malloc(sizeof(float) * rows);
	DMatrixHandle m;
	BoosterHandle b;
	unsigned	s = 42;
	double		t0, worst = 0;

	for (long i = 0; i < rows * cols; i++)
		x[i] = (float) ((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f;
	for (long i = 0; i < rows; i++)
		y[i] = ((s = s * 1664525u + 1013904223u) >> 31);
	t0 = now();
	CK(XGDMatrixCreateFromMat_omp(x, rows, cols, -1e30f, &m, atoi(argv[6])));
	CK(XGDMatrixSetFloatInfo(m, "label", y, rows));
	printf("dmatrix %.3f s\n", now() - t0);
	CK(XGBoosterCreate(&m, 1, &b));
	CK(XGBoosterSetParam(b, "tree_method", "hist"));
	CK(XGBoosterSetParam(b, "objective", "binary:logistic"));
	CK(XGBoosterSetParam(b, "max_depth", argv[3]));
	CK(XGBoosterSetParam(b, "num_parallel_tree", argv[4]));
	CK(XGBoosterSetParam(b, "max_bin", argv[5]));
	CK(XGBoosterSetParam(b, "nthread", argv[6]));
	CK(XGBoosterSetParam(b, "min_child_weight", "0"));
	CK(XGBoosterSetParam(b, "lambda", "0"));
	for (int it = 0; it < rounds; it++)
	{
		double		t = now(), el;

		CK(XGBoosterUpdateOneIter(b, it, m));
		el = now() - t;
		printf("round %d %.3f s\n", it, el);
		if (it > 0 && el > worst)
			worst = el;
	}
	printf("worst later round %.3f s\n", worst);
	return 0;
}
