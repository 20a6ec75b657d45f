/*
 * walkforward.h — time-ordered split plans: hold-out, purged expanding-window
 * walk-forward folds, and early-stopping slices.
 *
 * Rows are indexed in time order, 0..n-1.  Every set of rows is a list of
 * disjoint, ascending, non-empty half-open ranges [start, end), so the caller
 * can build a DMatrix slice by slice.  Pure C99, no PostgreSQL headers, no
 * allocation: the plan is a fixed-size struct.
 *
 * Layout for n rows (H = label horizon, purge = H):
 *
 *   [0, dev_end)                development rows, cut into folds+1 equal blocks
 *   [dev_end, holdout.start)    purged: their labels look into the hold-out
 *   holdout = [n - round(n * test_size), n)
 *
 * Fold k (k = 1..folds, stored in fold[k-1]) tests on block k and trains on
 *   [0, start(block k) - purge)  minus  [end(block j), end(block j) + embargo)
 *   for every earlier test block j < k.
 * The purge drops training rows whose labels overlap the test block.  The
 * embargo drops the rows just after each earlier test block, whose long
 * look-back features are computed from that block; training on earlier
 * test blocks themselves is fine (they precede fold k's test block).
 * folds = 1 is a single train/validation split (validation = the last half
 * of the development rows); folds = 0 plans only hold-out and final model.
 * The final model trains on all of [0, dev_end) and is scored on the
 * hold-out; no embargo applies to it (it has no CV test block).
 */
#ifndef FSMML_WALKFORWARD_H
#define FSMML_WALKFORWARD_H

#include <stdint.h>

#define FS_MAX_FOLDS 20
/* fold k's training set has at most k-1 ranges; one spare */
#define FS_MAX_RANGES (FS_MAX_FOLDS + 1)

typedef struct FsRange
{
	int64_t		start;			/* first row */
	int64_t		end;			/* one past the last row */
} FsRange;

typedef struct FsRangeSet
{
	int			n;				/* ranges in use */
	FsRange		r[FS_MAX_RANGES];
} FsRangeSet;

typedef struct FsFold
{
	FsRangeSet	train;
	FsRange		test;
	int64_t		ntrain;			/* rows in train */
} FsFold;

typedef enum FsSplitStatus
{
	FS_SPLIT_OK = 0,
	FS_SPLIT_BAD_FOLDS,			/* folds outside [0, FS_MAX_FOLDS] */
	FS_SPLIT_BAD_TEST_SIZE,		/* test_size outside (0, 0.9] */
	FS_SPLIT_BAD_GAP,			/* purge or embargo < 0 */
	FS_SPLIT_BAD_MIN,			/* min_train or min_test < 1 */
	FS_SPLIT_BAD_FRACTION,		/* early-stopping fraction outside (0, 1) */
	FS_SPLIT_TOO_FEW_ROWS		/* some train set, test block or hold-out too small */
} FsSplitStatus;

typedef struct FsSplitPlan
{
	/* the arguments */
	int64_t		nrows;
	int			folds;
	double		test_size;
	int64_t		purge;
	int64_t		embargo;
	int64_t		min_train;
	int64_t		min_test;

	FsRange		holdout;
	int64_t		dev_end;		/* development rows are [0, dev_end) */
	FsFold		fold[FS_MAX_FOLDS];	/* fold[k-1] is fold k; folds entries used */
	FsRangeSet	final_train;	/* [0, dev_end) */
	int64_t		final_ntrain;

	/*
	 * On FS_SPLIT_TOO_FEW_ROWS: the smallest row count found that satisfies
	 * every minimum with the same arguments (-1 if none), else 0.
	 */
	int64_t		need_rows;
	/* one line for errmsg: what failed and, if too few rows, how many needed */
	char		detail[256];
} FsSplitPlan;

/*
 * Plans hold-out and folds.  Every fold's training set must have at least
 * min_train rows (as must the final model's), every CV test block and the
 * hold-out at least min_test.  On failure the plan holds the arguments,
 * need_rows and detail; its ranges are unspecified.
 */
extern FsSplitStatus fs_walkforward_plan(int64_t n, int folds, double test_size,
										 int64_t purge, int64_t embargo,
										 int64_t min_train, int64_t min_test,
										 FsSplitPlan *out);

/* Fixed text for a status (no numbers; see FsSplitPlan.detail for those). */
extern const char *fs_split_status_message(FsSplitStatus st);

/* Rows in a range set. */
extern int64_t fs_rangeset_count(const FsRangeSet *s);

/*
 * Early-stopping split of a training set (a fold's or the final model's):
 * valid = the last max(1, round(valid_frac * rows)) rows of train in time
 * order (they may span ranges); fit = the rows of train before the first
 * validation row minus the `purge` rows just before it, whose labels look
 * into the validation slice.  FS_SPLIT_TOO_FEW_ROWS when fit would have
 * fewer than max(min_fit, 1) rows.  The fsmml default is valid_frac 0.1.
 */
extern FsSplitStatus fs_walkforward_es_split(const FsRangeSet *train, double valid_frac,
											 int64_t purge, int64_t min_fit,
											 FsRangeSet *fit, FsRangeSet *valid);

#endif							/* FSMML_WALKFORWARD_H */
