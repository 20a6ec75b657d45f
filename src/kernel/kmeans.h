/*
 * kmeans.h — k-means for RegimeKMeans (pure C, no PostgreSQL headers).
 *
 * Greedy k-means++ seeding (2 + ln k candidates per centre, as scikit-learn),
 * several restarts from one seeded generator, Lloyd iterations until no
 * label changes (or max_iter), then Hartigan's single-point moves.  Deterministic for a seed.  Long loops call
 * the caller's interrupt callback; a non-zero answer stops with FS_KM_STOPPED.
 */
#ifndef FSMML_KMEANS_H
#define FSMML_KMEANS_H

#include <stddef.h>
#include <stdint.h>

typedef enum FsKmStatus
{
	FS_KM_OK = 0,
	FS_KM_BAD_ARGS,				/* k < 2, k > n, d < 1, n_init < 1, max_iter < 1 */
	FS_KM_NOMEM,
	FS_KM_STOPPED				/* the interrupt callback asked to stop */
} FsKmStatus;

typedef struct FsKmParams
{
	int			k;
	int			n_init;			/* restarts; the lowest inertia wins */
	int			max_iter;		/* Lloyd iterations per restart */
	uint64_t	seed;
	int			(*interrupted) (void *arg);	/* may be NULL */
	void	   *arg;
} FsKmParams;

typedef struct FsKmResult
{
	double		inertia;		/* sum of squared distances to the nearest centre */
	int			iterations;		/* of the winning restart */
	int			converged;		/* the winning restart stopped with no label change */
} FsKmResult;

/*
 * x: n rows of d doubles (row-major).  centers: k*d out; labels: n out (may
 * be NULL).  Empty clusters are re-seeded with the point farthest from its
 * centre.
 */
extern FsKmStatus fs_kmeans(const double *x, size_t n, size_t d, const FsKmParams *p,
							double *centers, int *labels, FsKmResult *res);

/* Index of the centre nearest to row (squared Euclidean distance). */
extern int	fs_kmeans_nearest(const double *centers, int k, size_t d, const double *row,
							  double *dist2);

/*
 * Mean silhouette coefficient of the rows idx[0..m) (a sample) against all
 * n rows; O(m n d).  NaN when fewer than 2 clusters are populated.
 */
extern double fs_kmeans_silhouette(const double *x, size_t n, size_t d, const int *labels,
								   int k, const size_t *idx, size_t m);

#endif							/* FSMML_KMEANS_H */
