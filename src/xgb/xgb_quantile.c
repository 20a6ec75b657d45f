/*
 * xgb_quantile.c — training matrices built as XGBoost QuantileDMatrix from
 * batches of rows, so the histogram index (a quantile sketch of every cell)
 * is built here, batch by batch, and a cancel can stop it between batches.
 *
 * With a plain DMatrix the first boosting round builds that index in one
 * uninterruptible call (17 s for 1 M rows x 58 features).  Here XGBoost pulls
 * the rows through our `next` callback (four passes: shape, sketch, index,
 * labels) in batches of about FSXGB_BATCH_CELLS cells, read straight from the
 * caller's row blocks (no copy).  While the call runs the backend blocks
 * SIGINT, SIGTERM and SIGALRM (xgb_signals.c), so `next` looks at the
 * pending set: a pg_cancel_backend or pg_terminate_backend, or a SIGALRM
 * once statement_timeout is due, makes it answer "no more data".  XGBoost
 * then fails its own row-count check and returns; once the signals are
 * unblocked their handlers run and CHECK_FOR_INTERRUPTS raises the cancel.
 * The callbacks run inside C++ frames: they never ereport, palloc or
 * longjmp.
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"

/*
 * Cells per batch.  A batch of 2^19 float cells costs XGBoost's sketch about
 * 0.05 s on one busy core; the sketch's periodic merges add up to a few
 * tenths of a second at some batch boundaries whatever the batch size.
 */
#define FSXGB_BATCH_CELLS (1 << 19)

#ifdef WORDS_BIGENDIAN
#define FSXGB_F4 ">f4"
#else
#define FSXGB_F4 "<f4"
#endif

typedef struct FsXgbFeed
{
	const FsXgbRowBlock *blocks;
	int			nblocks;
	uint64		ncol;
	uint64		batch_rows;
	DMatrixHandle proxy;
	int			block;			/* current block */
	uint64		row;			/* next row within it */
	bool		stopped;		/* an interrupt is waiting: stopped feeding */
	bool		failed;			/* a proxy setter failed: errbuf says why */
	char		errbuf[512];
	char		iface[256];
} FsXgbFeed;

/*
 * Is a cancel, terminate or statement timeout waiting?  Runs in the
 * callback on the backend thread: reads flags and the pending signal set,
 * never raises.
 */
static bool
fsxgb_interrupt_waiting(void)
{
	sigset_t	pending;

	if (InterruptPending && (QueryCancelPending || ProcDiePending))
		return true;
	if (sigpending(&pending) != 0)
		return false;
	if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM))
		return true;
	/* SIGALRM serves every timeout: stop only for a statement_timeout that is due */
	if (sigismember(&pending, SIGALRM) &&
		get_timeout_active(STATEMENT_TIMEOUT) &&
		GetCurrentTimestamp() >= get_timeout_finish_time(STATEMENT_TIMEOUT))
		return true;
	return false;
}

static void
fsxgb_feed_reset(DataIterHandle handle)
{
	FsXgbFeed  *f = (FsXgbFeed *) handle;

	f->block = 0;
	f->row = 0;
}

static int
fsxgb_feed_next(DataIterHandle handle)
{
	FsXgbFeed  *f = (FsXgbFeed *) handle;
	const FsXgbRowBlock *b;
	uint64		n;

	if (f->stopped || f->failed)
		return 0;
	while (f->block < f->nblocks && f->row >= f->blocks[f->block].nrow)
	{
		f->block++;
		f->row = 0;
	}
	if (f->block >= f->nblocks)
		return 0;
	if (fsxgb_interrupt_waiting())
	{
		f->stopped = true;
		return 0;
	}
	b = &f->blocks[f->block];
	n = Min(b->nrow - f->row, f->batch_rows);

	snprintf(f->iface, sizeof(f->iface),
			 "{\"data\": [%zu, true], \"shape\": [" UINT64_FORMAT ", " UINT64_FORMAT "], "
			 "\"typestr\": \"" FSXGB_F4 "\", \"version\": 3}",
			 (size_t) (b->data + f->row * f->ncol), n, f->ncol);
	if (XGProxyDMatrixSetDataDense(f->proxy, f->iface) != 0)
		goto fail;
	if (b->labels != NULL)
	{
		snprintf(f->iface, sizeof(f->iface),
				 "{\"data\": [%zu, true], \"shape\": [" UINT64_FORMAT "], "
				 "\"typestr\": \"" FSXGB_F4 "\", \"version\": 3}",
				 (size_t) (b->labels + f->row), n);
		if (XGDMatrixSetInfoFromInterface(f->proxy, "label", f->iface) != 0)
			goto fail;
	}
	f->row += n;
	return 1;

fail:
	strlcpy(f->errbuf, XGBGetLastError(), sizeof(f->errbuf));
	f->failed = true;
	return 0;
}

FsXgbMatrix *
fsxgb_matrix_create_quantile(MemoryContext owner, const FsXgbRowBlock *blocks, int nblocks,
							 uint64 ncol, FsXgbMatrix *ref, int max_bin, int nthread)
{
	FsXgbMatrix *m;
	FsXgbMatrix *proxy;
	FsXgbFeed  *f;
	uint64		nrow = 0;
	bool		labels = nblocks > 0 && blocks[0].labels != NULL;
	char	   *config;
	sigset_t	oldmask;
	int			rc;
	bst_ulong	got_rows = 0,
				got_cols = 0;

	fsxgb_init();
	if (ncol == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an XGBoost matrix needs at least one column")));
	for (int i = 0; i < nblocks; i++)
	{
		if (blocks[i].nrow > 0 && blocks[i].data == NULL)
			elog(ERROR, "fsxgb_matrix_create_quantile: no data");
		if ((blocks[i].labels != NULL) != labels)
			elog(ERROR, "fsxgb_matrix_create_quantile: labels on some blocks only");
		nrow += blocks[i].nrow;
	}
	if (nrow == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an XGBoost training matrix needs at least one row")));
	if (ref != NULL)
	{
		fsxgb_matrix_check(ref);
		if (ref->ncol != ncol)
			elog(ERROR, "fsxgb_matrix_create_quantile: reference has " UINT64_FORMAT " columns, not " UINT64_FORMAT,
				 ref->ncol, ncol);
	}
	fsxgb_limits_matrix(nrow, ncol);
	nthread = fsxgb_threads(nthread);
	if (max_bin < 2)
		max_bin = 256;			/* an invalid max_bin is the booster's error */

	/* the proxy only lives during the call; both are owned before XGBoost allocates */
	proxy = MemoryContextAllocZero(CurrentMemoryContext, sizeof(FsXgbMatrix));
	fsxgb_matrix_own(proxy, CurrentMemoryContext, 0, ncol);
	m = MemoryContextAllocZero(owner, sizeof(FsXgbMatrix));
	fsxgb_matrix_own(m, owner, nrow, ncol);

	FSXGB_CALL("DMatrix proxy creation", FSXGB_EXTERNAL, XGProxyDMatrixCreate(&proxy->handle));

	f = palloc0(sizeof(FsXgbFeed));
	f->blocks = blocks;
	f->nblocks = nblocks;
	f->ncol = ncol;
	f->batch_rows = Max(FSXGB_BATCH_CELLS / ncol, 1);
	f->proxy = proxy->handle;
	config = psprintf("{\"missing\": NaN, \"nthread\": %d, \"max_bin\": %d}", nthread, max_bin);

	fsxgb_signals_block(&oldmask);
	rc = XGQuantileDMatrixCreateFromCallback(f, proxy->handle, ref ? ref->handle : NULL,
											 fsxgb_feed_reset, fsxgb_feed_next, config,
											 &m->handle);
	fsxgb_signals_restore(&oldmask);

	if (f->stopped)
	{
		/* XGBoost's error is only its row-count check: the interrupt is the news */
		fsxgb_log_flush();
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("XGBoost matrix construction was interrupted")));
	}
	if (f->failed)
		fsxgb_raise(f->errbuf, "DMatrix batch", FSXGB_EXTERNAL);
	fsxgb_after_call(rc, "DMatrix creation", FSXGB_EXTERNAL);
	fsxgb_matrix_free(proxy);

	FSXGB_CALL("DMatrix shape", FSXGB_EXTERNAL, XGDMatrixNumRow(m->handle, &got_rows));
	FSXGB_CALL("DMatrix shape", FSXGB_EXTERNAL, XGDMatrixNumCol(m->handle, &got_cols));
	if (got_rows != nrow || got_cols != ncol)
		elog(ERROR, "XGBoost built a matrix of " UINT64_FORMAT " x " UINT64_FORMAT ", not " UINT64_FORMAT " x " UINT64_FORMAT,
			 (uint64) got_rows, (uint64) got_cols, nrow, ncol);
	pfree(config);
	pfree(f);
	return m;
}
