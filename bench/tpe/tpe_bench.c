/*
 * tpe_bench.c — fsmml's TPE sampler (src/kernel/tpe.c) and random search on the benchmark
 * functions: one line per function, method and seed with the best value after 50 and 100
 * trials and the sampler's own time per trial.  Driven by bench.py, which runs Optuna beside it.
 *   tpe_bench SEEDS TRIALS
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "functions.h"
#include "tpe.h"

typedef struct Fn
{
	const char *name;
	int			dim;
	double		lo[6],
				hi[6];
	double		(*f) (const double *);
} Fn;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	int			seeds = argc > 1 ? atoi(argv[1]) : 20;
	int			n = argc > 2 ? atoi(argv[2]) : 100;
	Fn			fns[3] = {
		{"quadratic", 3, {-5, -5, -5}, {5, 5, 5}, f_quadratic},
		{"branin", 2, {-5, 0}, {10, 15}, f_branin},
		{"hartmann6", 6, {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, f_hartmann6},
	};
	FsTpeConfig cfg = FS_TPE_CONFIG_DEFAULT;
	FsTpeTrial *t = malloc(sizeof(FsTpeTrial) * n);
	double	   *xs = malloc(sizeof(double) * 6 * n);
	double	   *scratch = malloc(sizeof(double) * fs_tpe_scratch_size(n, &cfg));

	for (int k = 0; k < 3; k++)
	{
		FsTpeParam	p[6];

		for (int d = 0; d < fns[k].dim; d++)
			p[d] = (FsTpeParam) {"x", fns[k].lo[d], fns[k].hi[d], 0, 0};
		for (int m = 0; m < 2; m++)
			for (int s = 0; s < seeds; s++)
			{
				FsRng		rng;
				double		best = 1e300,
							b50 = 0,
							tsamp = 0;

				fs_rng_seed(&rng, (uint64_t) s);
				for (int i = 0; i < n; i++)
				{
					double		t0 = now();

					if (m == 0)
						fs_tpe_suggest(p, fns[k].dim, t, i, &cfg, &rng, scratch, xs + 6 * i);
					else
						fs_tpe_random(p, fns[k].dim, &rng, xs + 6 * i);
					tsamp += now() - t0;
					t[i].x = xs + 6 * i;
					t[i].state = FS_TRIAL_COMPLETE;
					t[i].step = -1;
					t[i].loss = fns[k].f(xs + 6 * i);
					if (t[i].loss < best)
						best = t[i].loss;
					if (i == 49)
						b50 = best;
				}
				printf("fsmml-%s %s %d %.10g %.10g %.3f\n", m == 0 ? "tpe" : "random", fns[k].name, s,
					   b50, best, tsamp / n * 1e6);
			}
	}
	return 0;
}
