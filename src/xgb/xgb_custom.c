/*
 * xgb_custom.c — boosting with the caller's gradient and hessian
 * (XGBoosterBoostOneIter), for objectives XGBoost 1.7 lacks (VolQuantile's
 * pinball loss).  Same limits, signal handling and ownership as
 * fsxgb_booster_update.
 */
#include "postgres.h"

#include "xgb_internal.h"

void
fsxgb_booster_boost_grad(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain, float *grad,
						 float *hess, uint64 n)
{
	fsxgb_booster_check(b);
	fsxgb_matrix_check(dtrain);
	if (n != dtrain->nrow)
		elog(ERROR, "fsxgb_booster_boost_grad: " UINT64_FORMAT " gradients for " UINT64_FORMAT " rows",
			 n, dtrain->nrow);
	fsxgb_limits_round(b, iter, dtrain);
	b->ntrees = -1;
	FSXGB_CALL("training round", FSXGB_CLASSIFY,
			   XGBoosterBoostOneIter(b->handle, dtrain->handle, grad, hess, (bst_ulong) n));
}
