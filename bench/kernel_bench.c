/*
 * kernel_bench.c — throughput of the feature kernel on one core.
 *
 *   cc -O2 -I src/kernel src/kernel/features_kernel.c src/kernel/features_check.c src/kernel/features_catalog.c bench/kernel_bench.c -lm -o kernel_bench
 *   ./kernel_bench [NBARS]
 *
 * Generates NBARS (default 1,000,000) synthetic 1m bars in memory with a
 * deterministic RNG (splitmix64; a random walk with wicks and lognormal-ish
 * volumes), then times fs_run over them with the full feature set written to
 * an output buffer.  The output is written in chunks of 1024 bars into one
 * reused buffer, as a caller emitting rows would do; a single 464 MB output
 * array would mostly time page faults.  Best of 5 runs, each from a fresh
 * state.  kernel_bars_per_sec and kernel_ns_per_bar are per core: measured
 * in the thread's CPU time, so that other load on a shared machine does not
 * count; kernel_wall_bars_per_sec is the same best run in wall-clock time.
 */
/* clock_gettime under -std=c99 */
#define _POSIX_C_SOURCE 199309L

#include "features_kernel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHUNK 1024

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

/* splitmix64 */
static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in (0, 1) */
static double
rng_unif(void)
{
	return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* standard normal (Box-Muller, one of the pair) */
static double
rng_norm(void)
{
	return sqrt(-2.0 * log(rng_unif())) * cos(6.283185307179586 * rng_unif());
}

static double
clock_sec(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	size_t		n = argc > 1 ? (size_t) atol(argv[1]) : 1000000;
	FsBar	   *bars = malloc(n * sizeof(FsBar));
	double	   *out = malloc((size_t) CHUNK * FS_NFEATURES * sizeof(double));
	FsState    *st = malloc(fs_state_size());
	double		price = 42000.0;
	double		best = 1e300;	/* thread CPU seconds */
	double		best_wall = 1e300;
	double		check = 0.0;
	size_t		k;
	int			rep;

	if (bars == NULL || out == NULL || st == NULL || n == 0)
		return 1;
	for (k = 0; k < n; k++)
	{
		double		o = price;
		double		c = o * exp(0.0008 * rng_norm());
		double		hi = (o > c ? o : c) * (1.0 + 0.0003 * fabs(rng_norm()));
		double		lo = (o < c ? o : c) * (1.0 - 0.0003 * fabs(rng_norm()));

		bars[k].ts = INT64_C(1704067200000000) + (int64_t) k * FS_USEC_PER_MIN;
		bars[k].open = o;
		bars[k].high = hi;
		bars[k].low = lo;
		bars[k].close = c;
		bars[k].volume = 20.0 * exp(0.5 * rng_norm());
		price = c;
	}

	for (rep = 0; rep < 5; rep++)
	{
		double		t0,
					w0,
					t,
					w;
		size_t		done = 0;

		fs_state_init(st, FS_USEC_PER_MIN);
		w0 = clock_sec(CLOCK_MONOTONIC);
		t0 = clock_sec(CLOCK_THREAD_CPUTIME_ID);
		while (done < n)
		{
			size_t		m = n - done < CHUNK ? n - done : CHUNK;
			size_t		stepped;

			if (fs_run(st, bars + done, m, out, &stepped) != FS_OK || stepped != m)
			{
				fprintf(stderr, "kernel_bench: bar %zu rejected\n", done + stepped);
				return 1;
			}
			done += m;
			/* touch the output so nothing is optimised away */
			check += out[(m - 1) * FS_NFEATURES + 12];
		}
		t = clock_sec(CLOCK_THREAD_CPUTIME_ID) - t0;
		w = clock_sec(CLOCK_MONOTONIC) - w0;
		if (t < best)
			best = t;
		if (w < best_wall)
			best_wall = w;
	}
	printf("kernel_bars %zu\n", n);
	printf("kernel_state_bytes %zu\n", fs_state_size());
	printf("kernel_bars_per_sec %.0f\n", n / best);
	printf("kernel_ns_per_bar %.1f\n", best * 1e9 / n);
	printf("kernel_wall_bars_per_sec %.0f\n", n / best_wall);
	fprintf(stderr, "checksum %.6f\n", check);
	free(bars);
	free(out);
	free(st);
	return 0;
}
