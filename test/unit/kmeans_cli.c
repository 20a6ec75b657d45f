/*
 * kmeans_cli.c — runs src/kernel/kmeans.c on a CSV matrix from stdin, for the
 * comparison with scikit-learn (test/shell/kmeans_sklearn.sh).
 *   kmeans_cli K N_INIT SEED  <matrix.csv  >  "inertia iterations" then one label per line
 *   kmeans_cli --silhouette K  <rows "label,x1,...,xd">  >  silhouette over all rows
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"

static double *
read_matrix(int with_label, size_t *n_out, size_t *d_out, int **labels)
{
	size_t		cap = 1 << 16, len = 0, n = 0, lcap = 1024, d = 0;
	double	   *x = malloc(sizeof(double) * cap);
	char		line[65536];

	*labels = with_label ? malloc(sizeof(int) * lcap) : NULL;
	while (fgets(line, sizeof line, stdin))
	{
		size_t		j = 0;
		char	   *tok = strtok(line, ",\n");

		if (tok == NULL)
			continue;
		if (with_label)
		{
			if (n == lcap)
				*labels = realloc(*labels, sizeof(int) * (lcap *= 2));
			(*labels)[n] = atoi(tok);
			tok = strtok(NULL, ",\n");
		}
		for (; tok; tok = strtok(NULL, ",\n"), j++)
		{
			if (len == cap)
				x = realloc(x, sizeof(double) * (cap *= 2));
			x[len++] = strtod(tok, NULL);
		}
		if (d == 0)
			d = j;
		n++;
	}
	*n_out = n;
	*d_out = d;
	return x;
}

int
main(int argc, char **argv)
{
	size_t		n, d;
	int		   *labels;

	if (argc == 3 && strcmp(argv[1], "--silhouette") == 0)
	{
		int			k = atoi(argv[2]);
		double	   *x = read_matrix(1, &n, &d, &labels);
		size_t	   *idx = malloc(sizeof(size_t) * n);

		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		printf("%.12f\n", fs_kmeans_silhouette(x, n, d, labels, k, idx, n));
		return 0;
	}
	if (argc != 4)
	{
		fprintf(stderr, "usage: kmeans_cli K N_INIT SEED < matrix.csv\n");
		return 2;
	}
	{
		FsKmParams	p = {atoi(argv[1]), atoi(argv[2]), 300, strtoull(argv[3], NULL, 10), NULL, NULL};
		double	   *x = read_matrix(0, &n, &d, &labels);
		double	   *centers = malloc(sizeof(double) * p.k * d);
		int		   *lab = malloc(sizeof(int) * n);
		FsKmResult	r;
		FsKmStatus	st = fs_kmeans(x, n, d, &p, centers, lab, &r);

		if (st != FS_KM_OK)
		{
			printf("error %d\n", (int) st);
			return 1;
		}
		printf("%.12f %d %d\n", r.inertia, r.iterations, r.converged);
		for (size_t i = 0; i < n; i++)
			printf("%d\n", lab[i]);
	}
	return 0;
}
