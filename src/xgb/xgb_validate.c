/*
 * xgb_validate.c — fsxgb_model_validate: the pure-C model blob validator
 * (src/kernel/model_validate.c) with its verdict as ereport(ERROR).
 *
 * XGBoosterLoadModelFromBuffer trusts its input: a truncated UBJ blob
 * segfaults, a tree whose child index points past the end segfaults in
 * prediction and a child pointing back to an ancestor loops forever.  So
 * every blob is checked before XGBoost sees it.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "model_validate.h"
#include "xgb.h"
#include "xgb_internal.h"

void
fsxgb_model_validate(const void *buf, Size len)
{
	FsModelError err;
	int			rc;

	CHECK_FOR_INTERRUPTS();
	rc = fs_model_validate(buf, len, &err);
	if (rc == FS_MODEL_NOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while validating an XGBoost model blob of %zu bytes.", len)));
	if (rc != FS_MODEL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("XGBoost model blob is corrupt: %s", err.message),
				 err.offset >= 0 ? errdetail("At byte %ld of %ld.", err.offset, (long) len) : 0,
				 errhint(FSXGB_CORRUPT_HINT)));
}
