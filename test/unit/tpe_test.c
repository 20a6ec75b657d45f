/*
 * tpe_test.c — src/kernel/tpe.c: Optuna's gamma and weights, seeds,
 * start-up randomness, log and stepped parameters, TPE beating random
 * search on a quadratic, the median pruner, the deflated Sharpe ratio.
 * With an argument "mixture" it reads lines "low high step log v obs..."
 * and prints the mixture's log density (checked against Optuna by
 * test/shell/tpe_optuna.sh).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpe.h"

static int	failures = 0;

static void
check(const char *what, int cond)
{
	printf("%s - tpe: %s\n", cond ? "ok" : "not ok", what);
	failures += !cond;
}

static int
near(double a, double b, double tol)
{
	return fabs(a - b) <= tol * (1 + fabs(b));
}

/* best loss of a minimisation of (x-0.3)^2 + (y+1.2)^2 after n trials */
static double
run_quadratic(int n, uint64_t seed, int random_only, double *hist)
{
	FsTpeParam	p[2] = {{"x", -5, 5, 0, 0}, {"y", -5, 5, 0, 0}};
	FsTpeConfig cfg = FS_TPE_CONFIG_DEFAULT;
	FsTpeTrial	t[200];
	static double xs[200][2];
	double	   *scratch = malloc(sizeof(double) * fs_tpe_scratch_size(n, &cfg));
	FsRng		rng;
	double		best = INFINITY;

	fs_rng_seed(&rng, seed);
	for (int i = 0; i < n; i++)
	{
		if (random_only)
			fs_tpe_random(p, 2, &rng, xs[i]);
		else
			fs_tpe_suggest(p, 2, t, i, &cfg, &rng, scratch, xs[i]);
		t[i].x = xs[i];
		t[i].state = FS_TRIAL_COMPLETE;
		t[i].step = -1;
		t[i].loss = pow(xs[i][0] - 0.3, 2) + pow(xs[i][1] + 1.2, 2);
		if (hist)
			hist[2 * i] = xs[i][0], hist[2 * i + 1] = xs[i][1];
		if (t[i].loss < best)
			best = t[i].loss;
	}
	free(scratch);
	return best;
}

static int
mixture_mode(void)
{
	char		line[65536];

	while (fgets(line, sizeof(line), stdin))
	{
		FsTpeParam	p = {"p", 0, 0, 0, 0};
		double		v,
					obs[2048],
					scratch[5 * 2049];
		int			n = 0,
					off = 0,
					used;
		char	   *s = line;

		if (sscanf(s, "%lf %lf %lf %d %lf%n", &p.low, &p.high, &p.step, &p.log, &v, &off) < 5)
			continue;
		s += off;
		while (n < 2048 && sscanf(s, "%lf%n", &obs[n], &used) == 1)
		{
			n++;
			s += used;
		}
		printf("%.12g\n", fs_tpe_mixture_logpdf(&p, obs, n, 1.0, v, scratch));
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "mixture") == 0)
		return mixture_mode();

	/* Optuna's default_gamma and default_weights */
	check("gamma(1)=1, gamma(10)=1, gamma(11)=2, gamma(100)=10, gamma(1000)=25",
		  fs_tpe_gamma(1) == 1 && fs_tpe_gamma(10) == 1 && fs_tpe_gamma(11) == 2 &&
		  fs_tpe_gamma(100) == 10 && fs_tpe_gamma(1000) == 25);
	{
		double		w[40];

		fs_tpe_weights(24, w);
		check("weights(24): all ones", w[0] == 1 && w[23] == 1);
		fs_tpe_weights(30, w);
		/* np.linspace(1/30, 1, 5) = 1/30, 0.275, 0.5167, 0.7583, 1 then 25 ones */
		check("weights(30): a ramp 1/30 .. 1 over the oldest 5, then 25 ones",
			  near(w[0], 1.0 / 30, 1e-12) && near(w[1], 1.0 / 30 + (1 - 1.0 / 30) / 4, 1e-12) &&
			  near(w[4], 1, 1e-12) && w[5] == 1 && w[29] == 1);
		fs_tpe_weights(26, w);
		check("weights(26): linspace with one point is 1/26", near(w[0], 1.0 / 26, 1e-12) && w[1] == 1);
	}

	/* the same seed, the same trials; another seed, others */
	{
		static double h1[400],
					h2[400],
					h3[400];

		run_quadratic(40, 7, 0, h1);
		run_quadratic(40, 7, 0, h2);
		run_quadratic(40, 8, 0, h3);
		check("a fixed seed gives the same 40 trials", memcmp(h1, h2, sizeof(double) * 80) == 0);
		check("another seed gives other trials", memcmp(h1, h3, sizeof(double) * 80) != 0);
	}

	/* start-up trials are random, within bounds; log and step respected */
	{
		FsTpeParam	p[3] = {{"lr", 1e-4, 1e-1, 0, 1}, {"k", 2, 20, 2, 0}, {"th", 0.5, 0.7, 0.01, 0}};
		FsTpeConfig cfg = FS_TPE_CONFIG_DEFAULT;
		FsTpeTrial	t[60];
		static double xs[60][3];
		double	   *scratch = malloc(sizeof(double) * fs_tpe_scratch_size(60, &cfg));
		FsRng		rng;
		int			inside = 1,
					grid = 1,
					low_decade = 0;

		fs_rng_seed(&rng, 1);
		for (int i = 0; i < 60; i++)
		{
			fs_tpe_suggest(p, 3, t, i, &cfg, &rng, scratch, xs[i]);
			t[i].x = xs[i];
			t[i].state = FS_TRIAL_COMPLETE;
			t[i].step = -1;
			/* the best: lr near 1e-3, k = 8, th = 0.62 */
			t[i].loss = pow(log10(xs[i][0]) + 3, 2) + pow(xs[i][1] - 8, 2) / 10 + pow(xs[i][2] - 0.62, 2) * 100;
			if (xs[i][0] < 1e-4 || xs[i][0] > 1e-1 || xs[i][1] < 2 || xs[i][1] > 20 ||
				xs[i][2] < 0.5 || xs[i][2] > 0.7)
				inside = 0;
			if (fabs(fmod(xs[i][1], 2)) > 1e-9 || fabs(xs[i][2] * 100 - round(xs[i][2] * 100)) > 1e-6)
				grid = 0;
			if (i < 10 && xs[i][0] < 1e-3)
				low_decade++;
		}
		check("60 trials stay within bounds", inside);
		check("stepped parameters stay on their grid (k in 2,4,..; th in 0.01 steps)", grid);
		check("log-uniform start-up: some of the first 10 learning rates below 1e-3", low_decade >= 1);
		{
			int			near_best = 0;

			for (int i = 40; i < 60; i++)
				near_best += fabs(log10(xs[i][0]) + 3) < 1 && fabs(xs[i][1] - 8) <= 4;
			check("TPE concentrates later trials near the optimum (>= 8 of trials 41-60)", near_best >= 8);
		}
		free(scratch);
	}

	/* TPE beats random search on a quadratic: median over 15 seeds of the best after 60 trials */
	{
		double		bt[15],
					br[15];

		for (int s = 0; s < 15; s++)
		{
			bt[s] = run_quadratic(60, 100 + s, 0, NULL);
			br[s] = run_quadratic(60, 100 + s, 1, NULL);
		}
		for (int i = 1; i < 15; i++)
			for (int j = i; j > 0 && bt[j] < bt[j - 1]; j--)
			{
				double		x = bt[j];

				bt[j] = bt[j - 1];
				bt[j - 1] = x;
			}
		for (int i = 1; i < 15; i++)
			for (int j = i; j > 0 && br[j] < br[j - 1]; j--)
			{
				double		x = br[j];

				br[j] = br[j - 1];
				br[j - 1] = x;
			}
		printf("# quadratic, 60 trials, median best: tpe %.5f random %.5f\n", bt[7], br[7]);
		check("TPE's median best is at least 3x lower than random search's", bt[7] * 3 < br[7]);
	}

	/* pruned trials rank after complete ones, deeper steps first */
	{
		FsTpeParam	p[1] = {{"x", 0, 1, 0, 0}};
		FsTpeConfig cfg = FS_TPE_CONFIG_DEFAULT;
		FsTpeTrial	t[20];
		double		xs[20],
					x,
					scratch[512];
		FsRng		rng;
		int			close_to_complete = 0;

		/* 19 pruned trials with excellent intermediate losses at x near 0.9, one complete at x = 0.1 */
		for (int i = 0; i < 20; i++)
		{
			xs[i] = i == 0 ? 0.1 : 0.85 + 0.005 * i;
			t[i].x = &xs[i];
			t[i].state = i == 0 ? FS_TRIAL_COMPLETE : FS_TRIAL_PRUNED;
			t[i].loss = i == 0 ? 5.0 : -100.0;
			t[i].step = i == 0 ? -1 : 1;
		}
		/* gamma(20) = 2: below = the complete trial and one pruned; sample 50 times */
		fs_rng_seed(&rng, 3);
		for (int k = 0; k < 50; k++)
		{
			fs_tpe_suggest(p, 1, t, 20, &cfg, &rng, scratch, &x);
			close_to_complete += fabs(x - 0.1) < 0.2;
		}
		check("a complete trial outranks better-looking pruned ones", close_to_complete >= 25);
	}

	/* median pruner */
	{
		double		others[5] = {1, 2, 3, 4, NAN};

		check("no pruning before 5 complete trials", !fs_median_prune(10, others, 5, 4, 5));
		check("pruned when worse than the median (2.5)", fs_median_prune(2.6, others, 5, 5, 5));
		check("kept when at or better than the median", !fs_median_prune(2.5, others, 5, 5, 5));
		check("kept when no trial reported at this step", !fs_median_prune(2.6, others + 4, 1, 5, 5));
	}

	/* normal distribution */
	check("Phi(1.959963985) = 0.975", near(fs_norm_cdf(1.959963985), 0.975, 1e-9));
	check("ppf(0.975) = 1.959963985, ppf(1e-10) = -6.361340902",
		  near(fs_norm_ppf(0.975), 1.959963985, 1e-9) && near(fs_norm_ppf(1e-10), -6.361340902404, 1e-9));

	/*
	 * Deflated Sharpe: N = 100 trials, V[SR] = 0.5/250 per day, SR = 2.5/sqrt(250),
	 * T = 1250, skew -3, kurt 10 (Bailey & Lopez de Prado's example; they get SR0 ~ 0.1132, DSR ~ 0.9004)
	 */
	{
		double		sr0,
					dsr = fs_deflated_sharpe(2.5 / sqrt(250), 0.5 / 250, 100, 1250, -3, 10, &sr0);

		printf("# deflated Sharpe example: SR0 %.4f DSR %.4f\n", sr0, dsr);
		check("deflated Sharpe of the paper's example: SR0 0.1132, DSR 0.9004",
			  fabs(sr0 - 0.1132) < 5e-4 && fabs(dsr - 0.9004) < 5e-3);
		dsr = fs_deflated_sharpe(0.02, 0.0004, 100, 500, 0, 3, &sr0);
		check("a Sharpe below the expected maximum of 100 noise trials is not significant", dsr < 0.5);
		dsr = fs_deflated_sharpe(0.02, 0.0004, 1, 500, 0, 3, &sr0);
		check("one trial: SR0 = 0 (the probabilistic Sharpe ratio)", sr0 == 0 && dsr > 0.5);
	}

	printf("# tpe: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
