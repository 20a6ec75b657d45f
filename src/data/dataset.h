/*
 * dataset.h — feature matrices for training and scoring, built in memory.
 */
#ifndef FSMML_DATASET_H
#define FSMML_DATASET_H

#include "postgres.h"
#include "nodes/pg_list.h"

#include "bars.h"

typedef struct FsmmlDataset
{
	int			nfeat;
	char	  **names;			/* column order of X */
	int64		nrows;
	float	   *X;				/* nrows x nfeat, row-major; NaN = missing */
	float	   *y;				/* 1[close(t+H) > close(t)], NULL without labels */
	double	   *fwd_ret;		/* close(t+H)/close(t) - 1, NULL without labels */
	int64	   *ts;				/* bar open time, Unix microseconds */
	int64		dropped_null;	/* rows dropped for a NULL feature */
	int64		dropped_unlabeled;	/* last H rows: no label yet */
} FsmmlDataset;

/*
 * The feature columns of a model: the requested names (validated), or by
 * default every fsmml feature defined on this timeframe plus every numeric
 * column users added to trading.features.  Caller is SPI-connected.
 */
extern List *fsmml_resolve_features(const char *timeframe, List *requested);

/*
 * The default feature set without the features that are NULL (or not
 * finite) on more than half of the labelled rows [row_from, n - horizon) of
 * the training window, whatever the reason: warm-up, zero volume, flat
 * prices, sparse user columns.  Measured by running the kernel over the
 * bars, not taken from catalogue look-backs; a NOTICE names them with their
 * NULL share.  Caller is SPI-connected.
 */
extern List *fsmml_prune_null_features(const char *symbol, const char *timeframe,
									   const FsmmlBars *bars, int64 row_from,
									   List *features, int horizon);

/*
 * Rows for bars [row_from, row_to) of bars (all bars of the series from the
 * first, so the kernel warms up exactly as in fsmml_build_features).  With
 * horizon > 0, rows get labels and rows without one are dropped; with
 * drop_null, rows with any NULL feature are dropped.  Caller is
 * SPI-connected; the result lives in mcxt.
 */
extern FsmmlDataset *fsmml_dataset_build(const char *symbol, const char *timeframe,
										 const FsmmlBars *bars, int64 row_from, int64 row_to,
										 List *features, int horizon, bool drop_null,
										 MemoryContext mcxt);

/*
 * col[j]: the column of src (built without labels or dropping) holding
 * features[j], whose values there are what building features would give;
 * false when src lacks one.
 */
extern bool fsmml_dataset_columns(const FsmmlDataset *src, List *features, int *col);

#endif							/* FSMML_DATASET_H */
