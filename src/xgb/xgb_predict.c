/*
 * xgb_predict.c — predictions (from a DMatrix or in place from a dense
 * block) in chunks of rows, with CHECK_FOR_INTERRUPTS between chunks, and
 * feature importance.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"


/* Product of the prediction shape; ERROR unless it matches the caller. */
static uint64
fsxgb_check_shape(const bst_ulong *shape, bst_ulong dim, uint64 nrow, uint64 out_len)
{
	uint64		total = 1;
	bst_ulong	i;

	if (dim < 1 || shape == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction returned no shape")));
	for (i = 0; i < dim; i++)
		total *= (uint64) shape[i];
	if ((uint64) shape[0] != nrow || total != out_len)
	{
		StringInfoData s;

		initStringInfo(&s);
		for (i = 0; i < dim; i++)
			appendStringInfo(&s, "%s" UINT64_FORMAT, i ? ", " : "", (uint64) shape[i]);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction has shape (%s) but " UINT64_FORMAT " rows and " UINT64_FORMAT " values were expected",
						s.data, nrow, out_len)));
	}
	return total;
}

uint64
fsxgb_predict(FsXgbBooster *b, FsXgbMatrix *m, float *out, uint64 out_len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	uint64		n;

	fsxgb_booster_check(b);
	fsxgb_matrix_check(m);
	fsxgb_scoring_threads(b);
	FSXGB_CALL("prediction", FSXGB_EXTERNAL,
			   XGBoosterPredictFromDMatrix(b->handle, m->handle, FSXGB_PREDICT_CONFIG,
										   &shape, &dim, &res));
	n = fsxgb_check_shape(shape, dim, m->nrow, out_len);
	if (n > 0)
		memcpy(out, res, sizeof(float) * n);
	return n;
}

/* One in-place prediction call over nrow rows. */
static uint64
fsxgb_predict_inplace(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
					  float *out, uint64 out_len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	uint64		n;
	char		iface[256];

	snprintf(iface, sizeof(iface),
			 "{\"data\": [" UINT64_FORMAT ", true], \"shape\": [" UINT64_FORMAT ", " UINT64_FORMAT "], "
			 "\"strides\": null, \"typestr\": \"<f4\", \"version\": 3}",
			 (uint64) (uintptr_t) data, nrow, ncol);
	FSXGB_CALL("prediction", FSXGB_EXTERNAL,
			   XGBoosterPredictFromDense(b->handle, iface, FSXGB_INPLACE_CONFIG, NULL,
										 &shape, &dim, &res));
	n = fsxgb_check_shape(shape, dim, nrow, out_len);
	memcpy(out, res, sizeof(float) * n);
	return n;
}

/* Trees of b, for the prediction chunk size: rounds x trees per round. */
static void
fsxgb_count_trees(FsXgbBooster *b)
{
	MemoryContext tmp;
	cJSON	   *n;
	int64		per_round = 1;

	if (b->ntrees >= 0)
		return;
	tmp = AllocSetContextCreate(CurrentMemoryContext, "fsxgb trees", ALLOCSET_SMALL_SIZES);
	n = cJSON_GetObjectItemCaseSensitive(fsxgb_booster_config_json(b, tmp), "learner");
	n = cJSON_GetObjectItemCaseSensitive(n, "gradient_booster");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(n, "name")) &&
		strcmp(cJSON_GetObjectItemCaseSensitive(n, "name")->valuestring, "gblinear") == 0)
		per_round = 0;			/* no trees: a dot product per row */
	else
	{
		/* dart keeps its gbtree under "gbtree" */
		if (cJSON_GetObjectItemCaseSensitive(n, "gbtree"))
			n = cJSON_GetObjectItemCaseSensitive(n, "gbtree");
		n = cJSON_GetObjectItemCaseSensitive(n, "gbtree_model_param");
		n = cJSON_GetObjectItemCaseSensitive(n, "num_parallel_tree");
		if (cJSON_IsString(n))
			per_round = Max(atol(n->valuestring), 1);
	}
	MemoryContextDelete(tmp);
	b->ntrees = per_round * fsxgb_booster_num_groups(b) *
		(int64) Max(fsxgb_booster_boosted_rounds(b), 1);
}

/*
 * Every row of data, in chunks of fsxgb_predict_chunk_rows() rows with
 * CHECK_FOR_INTERRUPTS() between them: one XGBoost call cannot be
 * interrupted, so none may take long.
 */
uint64
fsxgb_predict_dense(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
					float *out, uint64 out_len)
{
	if (b == NULL || b->forest == NULL)
		fsxgb_booster_check(b);	/* else it may have given up its handle for the forest */
	if (nrow > 0 && out_len % nrow == 0 &&
		fsxgb_forest_predict(b, data, nrow, ncol, out, out_len / nrow))
		return out_len;
	return fsxgb_predict_xgboost(b, data, nrow, ncol, out, out_len);
}

uint64
fsxgb_predict_xgboost(FsXgbBooster *b, const float *data, uint64 nrow, uint64 ncol,
					  float *out, uint64 out_len)
{
	uint64		nfeat;
	uint64		groups;
	uint64		chunk;
	uint64		off;
	uint64		n = 0;

	fsxgb_booster_check(b);
	if (nrow == 0)
		return 0;
	nfeat = fsxgb_booster_num_features(b);
	if (ncol != nfeat)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost model expects " UINT64_FORMAT " features but " UINT64_FORMAT " were given",
						nfeat, ncol)));
	if (out_len % nrow != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost prediction of " UINT64_FORMAT " rows cannot fill " UINT64_FORMAT " values",
						nrow, out_len)));
	groups = out_len / nrow;
	if (b->inplace < 0)
	{
		char	   *gbm = fsxgb_config_learner_string(b, "gradient_booster", "name");

		b->inplace = (gbm != NULL && strcmp(gbm, "gblinear") == 0) ? 0 : 1;
	}
	fsxgb_count_trees(b);
	fsxgb_scoring_threads(b);
	chunk = fsxgb_predict_chunk_rows(b);
	for (off = 0; off < nrow; off += chunk)
	{
		uint64		k = Min(chunk, nrow - off);

		if (b->inplace == 0)
		{
			FsXgbMatrix *m = fsxgb_matrix_create(CurrentMemoryContext, data + off * ncol,
												 k, ncol, NULL, fsmml_nthread);

			n += fsxgb_predict(b, m, out + off * groups, k * groups);
			fsxgb_matrix_free(m);
		}
		else
			n += fsxgb_predict_inplace(b, data + off * ncol, k, ncol,
									   out + off * groups, k * groups);
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}

int
fsxgb_feature_score(FsXgbBooster *b, const char *importance_type, char ***names,
					double **scores)
{
	static const char *const types[] = {"weight", "gain", "cover", "total_gain", "total_cover"};
	bst_ulong	nfeat = 0;
	const char **fnames = NULL;
	bst_ulong	dim = 0;
	const bst_ulong *shape = NULL;
	const float *fscores = NULL;
	uint64		nscores = 1;
	bool		known = false;
	char	   *config;
	bst_ulong	i;

	fsxgb_booster_check(b);
	for (i = 0; i < lengthof(types); i++)
		if (importance_type && strcmp(importance_type, types[i]) == 0)
			known = true;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown XGBoost importance type \"%s\"",
						importance_type ? importance_type : ""),
				 errhint("Use weight, gain, cover, total_gain or total_cover.")));
	config = psprintf("{\"importance_type\": \"%s\", \"feature_map\": \"\"}", importance_type);
	FSXGB_CALL("feature importance", FSXGB_CLASSIFY,
			   XGBoosterFeatureScore(b->handle, config, &nfeat, &fnames, &dim, &shape,
									 &fscores));
	for (i = 0; i < dim; i++)
		nscores *= (uint64) shape[i];
	if (dim == 0 || nscores != (uint64) nfeat)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("XGBoost feature importance with several scores per feature is not supported")));
	*names = palloc(sizeof(char *) * (nfeat > 0 ? nfeat : 1));
	*scores = palloc(sizeof(double) * (nfeat > 0 ? nfeat : 1));
	for (i = 0; i < nfeat; i++)
	{
		(*names)[i] = pstrdup(fnames[i]);
		(*scores)[i] = (double) fscores[i];
	}
	pfree(config);
	return (int) nfeat;
}

