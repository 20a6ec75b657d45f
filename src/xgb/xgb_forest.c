/*
 * xgb_forest.c — a scoring booster that predicts single rows again and
 * again (live scoring's cached champions) is compiled into a flat forest
 * (kernel/forest.c; read from the booster's UBJSON by kernel/forest_ubj.c)
 * on its second small prediction; after that a prediction of a few rows
 * runs in C instead of XGBoost.  Each XGBoost call costs far
 * more than the trees of one row: a proxy DMatrix whose constructor reads
 * the cgroup CPU quota from /sys, signal masks, thread hand-offs.
 *
 * A forest is trusted only when it gives XGBoost's own floats, bit for bit,
 * on probe rows (every split threshold on both sides, missing values);
 * otherwise the booster keeps predicting through XGBoost.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "forest.h"
#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"

#define FSXGB_FOREST_AFTER_CALLS 2	/* compile on the second small prediction */
#define FSXGB_FOREST_PROBES 64

static void *
forest_alloc(size_t size, void *arg)
{
	return MemoryContextAllocExtended((MemoryContext) arg, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * Probe rows: row 0 all missing; row r takes, for each feature, a split
 * threshold of that feature (walking the nodes from a row-dependent start),
 * on the left, exactly on it, or to the right, or missing.
 */
static float *
probe_rows(const FsForest *f, int nrows)
{
	float	   *x = palloc(sizeof(float) * nrows * f->nfeatures);
	int64	   *count = palloc0(sizeof(int64) * (f->nfeatures + 1));
	float	   *thr = palloc(sizeof(float) * Max(f->nnodes, 1));
	uint64		seed = UINT64CONST(0x9E3779B97F4A7C15);

	/* split thresholds grouped by feature: count[j]..count[j + 1] after the prefix sum */
	for (int64 k = 0; k < f->nnodes; k++)
		if (f->nodes[k].left >= 0)
			count[(f->nodes[k].feature & 0x7fffffffu) + 1]++;
	for (int j = 0; j < f->nfeatures; j++)
		count[j + 1] += count[j];
	{
		int64	   *fill = palloc(sizeof(int64) * f->nfeatures);

		memcpy(fill, count, sizeof(int64) * f->nfeatures);
		for (int64 k = 0; k < f->nnodes; k++)
			if (f->nodes[k].left >= 0)
				thr[fill[f->nodes[k].feature & 0x7fffffffu]++] = f->nodes[k].value;
	}
	for (int j = 0; j < f->nfeatures; j++)
		x[j] = NAN;
	for (int r = 1; r < nrows; r++)
		for (int j = 0; j < f->nfeatures; j++)
		{
			float		v = (float) ((r * 7 + j) % 13) - 6.0f;
			int64		n = count[j + 1] - count[j];

			seed = seed * UINT64CONST(6364136223846793005) + UINT64CONST(1442695040888963407);
			if (n > 0)
				v = thr[count[j] + (int64) ((seed >> 33) % (uint64) n)];
			switch ((seed >> 20) % 7)
			{
				case 0:
					x[r * f->nfeatures + j] = NAN;
					break;
				case 5:
					x[r * f->nfeatures + j] = INFINITY;
					break;
				case 6:
					x[r * f->nfeatures + j] = -INFINITY;
					break;
				case 1:
					x[r * f->nfeatures + j] = nextafterf(v, -INFINITY);
					break;
				case 2:
					x[r * f->nfeatures + j] = nextafterf(v, INFINITY);
					break;
				default:
					x[r * f->nfeatures + j] = v;
					break;
			}
		}
	return x;
}

static void
forest_free(FsForest *f)
{
	if (f->root)
		pfree(f->root);
	if (f->group)
		pfree(f->group);
	if (f->nodes)
		pfree(f->nodes);
	memset(f, 0, sizeof(*f));
}

/*
 * A cached scoring booster's forest read straight from the UBJSON it was
 * loaded from (the stored model: no XGBoost save, no text): compile()
 * checks it against XGBoost on the second small prediction.  Nothing when
 * the bytes are JSON or the reader refuses them.
 */
void
fsxgb_forest_read(FsXgbBooster *b, const void *buf, Size len)
{
	const char *c = buf;
	FsForest   *f;
	char		err[128];

	if (len < 2 || c[0] != '{' || c[1] == '"')
		return;
	f = MemoryContextAllocZero(b->owner, sizeof(FsForest));
	if (fs_forest_from_ubj(buf, len, forest_alloc, b->owner, f, err, sizeof(err)) == 0)
		b->unverified = f;
	else
	{
		forest_free(f);
		pfree(f);
	}
}

/*
 * The booster's trees as a forest: the one read at load, else read from
 * the UBJSON XGBoost saves now (typed arrays in place); a model that reader
 * refuses is tried once more as JSON text, the reader it was checked
 * against.
 */
static bool
forest_from_booster(FsXgbBooster *b, FsForest *f, char *err, size_t errlen)
{
	bytea	   *ubj;
	bytea	   *json;
	cJSON	   *model;

	if (b->unverified)
	{
		*f = *b->unverified;
		pfree(b->unverified);
		b->unverified = NULL;
		return true;
	}
	ubj = fsxgb_booster_save(b, "ubj");
	if (fs_forest_from_ubj(VARDATA(ubj), VARSIZE(ubj) - VARHDRSZ, forest_alloc, b->owner, f,
						   err, errlen) == 0)
		return true;
	ereport(DEBUG1, (errmsg_internal("fsmml: no forest from UBJSON (%s); trying JSON", err)));
	pfree(ubj);
	forest_free(f);				/* what the refused read allocated in the booster's context */
	json = fsxgb_booster_save(b, "json");
	model = fsxgb_json_parse_owned(text_to_cstring((text *) json), CurrentMemoryContext);
	return fs_forest_from_json(model, forest_alloc, b->owner, f, err, errlen) == 0;
}

static void
compile(FsXgbBooster *b)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "fsxgb forest",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	FsForest   *f = MemoryContextAllocZero(b->owner, sizeof(FsForest));
	char		err[128];

	if (!forest_from_booster(b, f, err, sizeof(err)))
		ereport(DEBUG1, (errmsg_internal("fsmml: no forest for this booster: %s", err)));
	else
	{
		float	   *x = probe_rows(f, FSXGB_FOREST_PROBES);
		float	   *want = palloc(sizeof(float) * FSXGB_FOREST_PROBES * f->ngroups);
		float	   *got = palloc(sizeof(float) * f->ngroups);
		bool		same = true;

		fsxgb_predict_xgboost(b, x, FSXGB_FOREST_PROBES, f->nfeatures, want,
							  (uint64) FSXGB_FOREST_PROBES * f->ngroups);
		for (int r = 0; r < FSXGB_FOREST_PROBES && same; r++)
		{
			fs_forest_predict_row(f, x + r * f->nfeatures, got);
			same = memcmp(got, want + r * f->ngroups, sizeof(float) * f->ngroups) == 0;
		}
		if (same)
		{
			b->forest = f;
			ereport(DEBUG1, (errmsg_internal("fsmml: booster compiled into a forest of %d trees", f->ntrees)));
			if (b->release_for_forest)
			{
				BoosterHandle h = b->handle;

				b->handle = NULL;
				fsxgb_free_quietly(XGBoosterFree, h);
				ereport(DEBUG1, (errmsg_internal("fsmml: booster released its XGBoost handle; its forest predicts")));
			}
		}
		else
			ereport(DEBUG1, (errmsg_internal("fsmml: forest differs from XGBoost on a probe row; not used")));
	}
	if (b->forest != f)
	{
		forest_free(f);			/* refused or not matching: nothing of it stays in the booster */
		pfree(f);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/*
 * Predicts nrow rows with b's forest when it has one (compiling it on the
 * second call), into out[nrow * groups].  False: predict through XGBoost.
 * A booster that gave up its XGBoost handle predicts every call here.
 * Infinities take the branch XGBoost's in-place prediction takes (the
 * probe rows hold some).
 */
bool
fsxgb_forest_predict(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
					 float *out, uint64 groups)
{
	bool		released = b->handle == NULL && b->forest != NULL;

	if (!released && (!b->scoring || nrow > FSXGB_FOREST_MAX_ROWS))
		return false;
	if (b->forest == NULL)
	{
		if (b->forest_tried || ++b->small_calls < FSXGB_FOREST_AFTER_CALLS)
			return false;
		b->forest_tried = true;
		compile(b);
		if (b->forest == NULL)
			return false;
	}
	if ((uint64) b->forest->nfeatures != ncol || (uint64) b->forest->ngroups != groups)
	{
		if (released)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("XGBoost model expects %d features and %d outputs per row but " UINT64_FORMAT
							" features and " UINT64_FORMAT " outputs were given",
							b->forest->nfeatures, b->forest->ngroups, ncol, groups)));
		return false;
	}
	for (uint64 r = 0; r < nrow; r++)
	{
		if ((r & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();
		fs_forest_predict_row(b->forest, data + r * ncol, out + r * groups);
	}
	return true;
}
