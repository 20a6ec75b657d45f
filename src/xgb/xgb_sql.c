/*
 * xgb_sql.c — SQL functions over the XGBoost wrapper:
 *
 *   fsmml_xgb_version() RETURNS text
 *   fsmml_xgb_check_params(params jsonb) RETURNS jsonb
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "fsmml.h"
#include "xgb.h"

PG_FUNCTION_INFO_V1(fsmml_xgb_version);
PG_FUNCTION_INFO_V1(fsmml_xgb_check_params);

Datum
fsmml_xgb_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(fsxgb_version()));
}

#define CHECK_NROW 256
#define CHECK_NCOL 4

/*
 * Deterministic synthetic data: features in [0, 1) from a fixed LCG, label
 * 1 when x0 + x1 > 1 (balanced, learnable).  Objectives that need positive
 * labels (gamma, tweedie, survival) get 1/2 instead of 0/1; survival:aft
 * also gets its label bounds.
 */
static void
check_params_data(float *x, float *y)
{
	uint32		state = 20240531;
	int			i,
				j;

	for (i = 0; i < CHECK_NROW; i++)
	{
		for (j = 0; j < CHECK_NCOL; j++)
		{
			state = state * 1664525u + 1013904223u;
			x[i * CHECK_NCOL + j] = (float) ((state >> 8) / 16777216.0);
		}
		y[i] = (x[i * CHECK_NCOL] + x[i * CHECK_NCOL + 1] > 1.0f) ? 1.0f : 0.0f;
	}
}

/*
 * Validate XGBoost parameters as training will apply them: a training
 * booster on a small synthetic data set, objective binary:logistic and
 * tree_method hist unless params say otherwise, the fsmml.xgb_* limits
 * checked (xgb_limits.c), the params applied, ONE boosting round (XGBoost's
 * own checks of the values fire there), and the resolved configuration
 * returned.  Everything lives in a private memory context: deleted on
 * success, and with its parent on ERROR or cancel.
 */
Datum
fsmml_xgb_check_params(PG_FUNCTION_ARGS)
{
	Jsonb	   *params = PG_GETARG_JSONB_P(0);
	MemoryContext cxt;
	MemoryContext old;
	float	   *x;
	float	   *y;
	char	   *objective;
	FsXgbMatrix *m;
	FsXgbBooster *b;
	char	   *config;
	Datum		result;

	if (!JB_ROOT_IS_OBJECT(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost parameters must be a JSON object"),
				 errhint("For example '{\"max_depth\": 4, \"eta\": 0.1}'.")));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml_xgb_check_params",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	x = palloc(sizeof(float) * CHECK_NROW * CHECK_NCOL);
	y = palloc(sizeof(float) * CHECK_NROW);
	check_params_data(x, y);

	objective = fsxgb_jsonb_get_string(params, "objective");
	if (objective != NULL &&
		(strncmp(objective, "reg:gamma", 9) == 0 ||
		 strncmp(objective, "reg:tweedie", 11) == 0 ||
		 strncmp(objective, "survival:", 9) == 0))
	{
		int			i;

		for (i = 0; i < CHECK_NROW; i++)
			y[i] += 1.0f;
	}

	m = fsxgb_matrix_create(cxt, x, CHECK_NROW, CHECK_NCOL, y, fsmml_train_nthread);
	if (objective != NULL && strcmp(objective, "survival:aft") == 0)
	{
		fsxgb_matrix_set_float_info(m, "label_lower_bound", y, CHECK_NROW);
		fsxgb_matrix_set_float_info(m, "label_upper_bound", y, CHECK_NROW);
	}

	b = fsxgb_booster_create(cxt, &m, 1, true);
	fsxgb_booster_set_param(b, "objective", "binary:logistic");
	/* as training does; the limits refuse exact/approx (auto would be exact) */
	fsxgb_booster_set_param(b, "tree_method", "hist");
	fsxgb_booster_set_params_jsonb(b, params);
	fsxgb_booster_update(b, 0, m);
	config = fsxgb_booster_config(b);
	/* explicit frees, so XGBoost's messages on freeing are reported here */
	fsxgb_booster_free(b);
	fsxgb_matrix_free(m);

	MemoryContextSwitchTo(old);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(config));
	MemoryContextDelete(cxt);	/* frees the booster and matrix handles */

	PG_RETURN_DATUM(result);
}
