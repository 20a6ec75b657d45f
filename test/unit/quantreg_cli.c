/*
 * quantreg_cli.c — src/kernel/quantreg.c from the command line, for
 * test/shell/unit_quantreg.sh: reads rows "y,x1,...,xp" (CSV) from stdin,
 * fits quantile q with at most max_iter reweightings and prints the
 * iterations, the coefficients (intercept first) and the mean pinball loss
 * of the fit on the rows, one per line.
 *   quantreg_cli Q MAX_ITER <rows.csv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantreg.h"

int
main(int argc, char **argv)
{
	double		q;
	int			max_iter;
	char		line[8192];
	float	   *x = NULL,
			   *y = NULL;
	int64_t		n = 0,
				cap = 0;
	int			p = -1;
	double	   *b,
			   *work,
			   *pred;
	int			it;

	if (argc != 3)
	{
		fprintf(stderr, "usage: quantreg_cli Q MAX_ITER <rows.csv\n");
		return 2;
	}
	q = atof(argv[1]);
	max_iter = atoi(argv[2]);
	while (fgets(line, sizeof(line), stdin))
	{
		int			k = 0;
		char	   *tok = strtok(line, ",\n");

		if (tok == NULL)
			continue;
		if (n == cap)
		{
			cap = cap ? 2 * cap : 1024;
			y = realloc(y, sizeof(float) * cap);
			x = realloc(x, sizeof(float) * cap * 64);
		}
		y[n] = (float) atof(tok);
		while ((tok = strtok(NULL, ",\n")) != NULL && k < 64)
			x[n * 64 + k++] = (float) atof(tok);
		if (p < 0)
			p = k;
		else if (k != p)
		{
			fprintf(stderr, "row %lld has %d features, not %d\n", (long long) n + 1, k, p);
			return 2;
		}
		n++;
	}
	if (p < 0)
		return 2;
	/* rows of p features, packed */
	for (int64_t i = 0; i < n; i++)
		memmove(x + i * p, x + i * 64, sizeof(float) * p);
	b = malloc(sizeof(double) * (p + 1));
	work = malloc(sizeof(double) * fs_quantreg_work_size(n, p));
	pred = malloc(sizeof(double) * n);
	it = fs_quantreg_fit(x, y, n, p, q, max_iter, b, work, NULL);
	printf("%d\n", it);
	for (int j = 0; j <= p; j++)
		printf("%.17g\n", b[j]);
	for (int64_t i = 0; i < n; i++)
		pred[i] = fs_quantreg_predict(b, p, x + i * p);
	printf("%.17g\n", fs_pinball_loss(y, pred, n, q));
	return 0;
}
