/*
 * xgb_matrix.c — XGBoost DMatrix handles owned by memory contexts.
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"


static void
fsxgb_matrix_reset_cb(void *arg)
{
	FsXgbMatrix *m = (FsXgbMatrix *) arg;

	if (m->handle != NULL)
	{
		DMatrixHandle h = m->handle;

		m->handle = NULL;
		fsxgb_free_quietly(XGDMatrixFree, h);
	}
}

/* m (zeroed, allocated in owner) frees its handle when owner is reset. */
void
fsxgb_matrix_own(FsXgbMatrix *m, MemoryContext owner, uint64 nrow, uint64 ncol)
{
	m->owner = owner;
	m->nrow = nrow;
	m->ncol = ncol;
	m->cb.func = fsxgb_matrix_reset_cb;
	m->cb.arg = m;
	MemoryContextRegisterResetCallback(owner, &m->cb);
}

void
fsxgb_matrix_check(FsXgbMatrix *m)
{
	if (m == NULL || m->handle == NULL)
		elog(ERROR, "XGBoost DMatrix used after it was freed");
}

FsXgbMatrix *
fsxgb_matrix_create(MemoryContext owner, const float *data, uint64 nrow, uint64 ncol,
					const float *labels, int nthread)
{
	FsXgbMatrix *m;

	fsxgb_init();
	if (ncol == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an XGBoost matrix needs at least one column")));
	if (nrow > 0 && data == NULL)
		elog(ERROR, "fsxgb_matrix_create: no data");
	fsxgb_limits_matrix(nrow, ncol);
	nthread = fsxgb_threads(nthread);

	/* owned before XGBoost allocates anything */
	m = MemoryContextAllocZero(owner, sizeof(FsXgbMatrix));
	fsxgb_matrix_own(m, owner, nrow, ncol);

	FSXGB_CALL("DMatrix creation", FSXGB_EXTERNAL,
			   XGDMatrixCreateFromMat_omp(data, (bst_ulong) nrow, (bst_ulong) ncol,
										  NAN, &m->handle, nthread));
	if (labels != NULL)
		fsxgb_matrix_set_labels(m, labels, nrow);
	return m;
}

void
fsxgb_matrix_set_float_info(FsXgbMatrix *m, const char *field, const float *values, uint64 n)
{
	fsxgb_matrix_check(m);
	FSXGB_CALL("DMatrix info", FSXGB_CLASSIFY,
			   XGDMatrixSetFloatInfo(m->handle, field, values, (bst_ulong) n));
}

void
fsxgb_matrix_set_labels(FsXgbMatrix *m, const float *labels, uint64 n)
{
	fsxgb_matrix_check(m);
	if (n != m->nrow)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost matrix has " UINT64_FORMAT " rows but " UINT64_FORMAT " labels were given",
						m->nrow, n)));
	fsxgb_matrix_set_float_info(m, "label", labels, n);
}

void
fsxgb_matrix_set_feature_names(FsXgbMatrix *m, const char *const *names, int n)
{
	fsxgb_matrix_check(m);
	if (n < 0 || (uint64) n != m->ncol)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost matrix has " UINT64_FORMAT " columns but %d feature names were given",
						m->ncol, n)));
	FSXGB_CALL("feature names", FSXGB_CLASSIFY,
			   XGDMatrixSetStrFeatureInfo(m->handle, "feature_name",
										  (const char **) names, (bst_ulong) n));
}

void
fsxgb_matrix_free(FsXgbMatrix *m)
{
	DMatrixHandle h;

	if (m == NULL || m->handle == NULL)
		return;
	h = m->handle;
	m->handle = NULL;
	FSXGB_CALL("DMatrix free", FSXGB_EXTERNAL, XGDMatrixFree(h));
}

