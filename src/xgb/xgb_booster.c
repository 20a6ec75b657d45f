/*
 * xgb_booster.c — XGBoost boosters owned by memory contexts: create, load
 * (after fsxgb_model_validate), slice, boost one round, evaluate, save,
 * configuration and attributes.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fsmml.h"
#include "xgb.h"
#include "xgb_internal.h"


static void
fsxgb_booster_reset_cb(void *arg)
{
	FsXgbBooster *b = (FsXgbBooster *) arg;

	if (b->handle != NULL)
	{
		BoosterHandle h = b->handle;

		b->handle = NULL;
		fsxgb_free_quietly(XGBoosterFree, h);
	}
}

void
fsxgb_booster_check(FsXgbBooster *b)
{
	if (b == NULL || b->handle == NULL)
		elog(ERROR, "XGBoost booster used after it was freed");
}

/* The struct, registered with owner; the handle is still NULL. */
static FsXgbBooster *
fsxgb_booster_alloc(MemoryContext owner, bool scoring)
{
	FsXgbBooster *b;

	fsxgb_init();
	b = MemoryContextAllocZero(owner, sizeof(FsXgbBooster));
	b->owner = owner;
	b->scoring = scoring;
	b->nthread = -1;
	b->inplace = -1;
	b->ntrees = -1;
	b->cb.func = fsxgb_booster_reset_cb;
	b->cb.arg = b;
	MemoryContextRegisterResetCallback(owner, &b->cb);
	return b;
}

/* A scoring booster follows fsmml.nthread, also when it changes later. */
void
fsxgb_scoring_threads(FsXgbBooster *b)
{
	int			n = fsxgb_threads(fsmml_nthread);

	if (b->scoring && b->nthread != n)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", n);
		fsxgb_booster_set_param(b, "nthread", buf);
		b->nthread = n;
	}
}

FsXgbBooster *
fsxgb_booster_create(MemoryContext owner, FsXgbMatrix *const *cache, int ncache, bool training)
{
	FsXgbBooster *b;
	DMatrixHandle *handles = NULL;
	int			i;

	if (ncache < 0)
		elog(ERROR, "fsxgb_booster_create: negative cache size");
	if (ncache > 0)
	{
		handles = palloc(sizeof(DMatrixHandle) * ncache);
		for (i = 0; i < ncache; i++)
		{
			fsxgb_matrix_check(cache[i]);
			handles[i] = cache[i]->handle;
		}
	}

	b = fsxgb_booster_alloc(owner, !training);
	/* a previous training's "verbosity" param sticks in XGBoost's globals */
	FSXGB_CALL("global configuration", FSXGB_EXTERNAL,
			   XGBSetGlobalConfig("{\"verbosity\": 1}"));
	FSXGB_CALL("booster creation", FSXGB_EXTERNAL,
			   XGBoosterCreate(handles, (bst_ulong) ncache, &b->handle));

	if (training)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", fsxgb_threads(fsmml_train_nthread));
		fsxgb_booster_set_param(b, "nthread", buf);
		fsxgb_booster_set_param(b, "validate_parameters", "1");

		if (ncache > 0)
		{
			bst_ulong	nnames = 0;
			const char **names = NULL;

			FSXGB_CALL("feature names", FSXGB_EXTERNAL,
					   XGDMatrixGetStrFeatureInfo(handles[0], "feature_name",
												  &nnames, &names));
			if (nnames > 0)
			{
				char	  **copy = palloc(sizeof(char *) * nnames);
				bst_ulong	k;

				for (k = 0; k < nnames; k++)
					copy[k] = pstrdup(names[k]);
				FSXGB_CALL("feature names", FSXGB_EXTERNAL,
						   XGBoosterSetStrFeatureInfo(b->handle, "feature_name",
													  (const char **) copy, nnames));
				pfree(copy);
			}
		}
	}
	else
		fsxgb_scoring_threads(b);

	if (handles)
		pfree(handles);
	return b;
}

static bool release_for_forest = false;

void
fsxgb_release_for_forest(bool on)
{
	release_for_forest = on;
}

FsXgbBooster *
fsxgb_booster_load(MemoryContext owner, const void *buf, Size len)
{
	FsXgbBooster *b;

	fsxgb_init();
	fsxgb_model_validate(buf, len);

	b = fsxgb_booster_alloc(owner, true);
	b->release_for_forest = release_for_forest;
	FSXGB_CALL("booster creation", FSXGB_EXTERNAL,
			   XGBoosterCreate(NULL, 0, &b->handle));
	FSXGB_CALL("model load", ERRCODE_DATA_CORRUPTED,
			   XGBoosterLoadModelFromBuffer(b->handle, buf, (bst_ulong) len));
	fsxgb_scoring_threads(b);
	if (release_for_forest)
		fsxgb_forest_read(b, buf, len);
	return b;
}

FsXgbBooster *
fsxgb_booster_load_bytea(MemoryContext owner, bytea *blob)
{
	return fsxgb_booster_load(owner, VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob));
}

FsXgbBooster *
fsxgb_booster_slice(MemoryContext owner, FsXgbBooster *b, int begin, int end)
{
	FsXgbBooster *nb;

	fsxgb_booster_check(b);
	if (begin < 0 || end < 0 || (end != 0 && end <= begin))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid XGBoost model slice [%d, %d)", begin, end)));
	nb = fsxgb_booster_alloc(owner, true);
	FSXGB_CALL("model slice", ERRCODE_INVALID_PARAMETER_VALUE,
			   XGBoosterSlice(b->handle, begin, end, 1, &nb->handle));
	fsxgb_scoring_threads(nb);
	return nb;
}

void
fsxgb_booster_free(FsXgbBooster *b)
{
	BoosterHandle h;

	if (b == NULL || b->handle == NULL)
		return;
	h = b->handle;
	b->handle = NULL;
	FSXGB_CALL("booster free", FSXGB_EXTERNAL, XGBoosterFree(h));
}

void
fsxgb_booster_update(FsXgbBooster *b, int iter, FsXgbMatrix *dtrain)
{
	fsxgb_booster_check(b);
	fsxgb_matrix_check(dtrain);
	fsxgb_limits_round(b, iter, dtrain);
	b->ntrees = -1;
	FSXGB_CALL("training round", FSXGB_CLASSIFY,
			   XGBoosterUpdateOneIter(b->handle, iter, dtrain->handle));
}

char *
fsxgb_booster_eval(FsXgbBooster *b, int iter, FsXgbMatrix *const *mats,
				   const char *const *names, int n)
{
	DMatrixHandle *handles;
	const char *out = NULL;
	int			i;

	fsxgb_booster_check(b);
	if (n <= 0)
		elog(ERROR, "fsxgb_booster_eval: no matrices");
	handles = palloc(sizeof(DMatrixHandle) * n);
	for (i = 0; i < n; i++)
	{
		fsxgb_matrix_check(mats[i]);
		handles[i] = mats[i]->handle;
	}
	FSXGB_CALL("evaluation", FSXGB_CLASSIFY,
			   XGBoosterEvalOneIter(b->handle, iter, handles, (const char **) names,
									(bst_ulong) n, &out));
	pfree(handles);
	return pstrdup(out ? out : "");
}

bool
fsxgb_eval_metric(const char *evalstr, const char *dataname, const char *metric,
				  double *value)
{
	size_t		dlen = strlen(dataname);
	const char *p = evalstr;
	bool		found = false;

	if (evalstr == NULL)
		return false;
	/* "[iter]\tname-metric:value\tname-metric:value..." */
	while (p != NULL && *p != '\0')
	{
		const char *tab = strchr(p, '\t');
		const char *end = tab ? tab : p + strlen(p);

		if ((size_t) (end - p) > dlen + 1 && strncmp(p, dataname, dlen) == 0 && p[dlen] == '-')
		{
			const char *m = p + dlen + 1;
			const char *colon = NULL;
			const char *t;

			for (t = m; t < end; t++)
				if (*t == ':')
					colon = t;
			if (colon != NULL &&
				(metric == NULL ||
				 ((size_t) (colon - m) == strlen(metric) && strncmp(m, metric, colon - m) == 0)))
			{
				char		num[64];
				size_t		nlen = end - colon - 1;
				char	   *stop;
				double		d;

				if (nlen > 0 && nlen < sizeof(num))
				{
					memcpy(num, colon + 1, nlen);
					num[nlen] = '\0';
					d = strtod(num, &stop);
					if (stop != num)
					{
						*value = d;
						found = true;
						if (metric != NULL)
							return true;
					}
				}
			}
		}
		p = tab ? tab + 1 : NULL;
	}
	return found;
}

bytea *
fsxgb_booster_save(FsXgbBooster *b, const char *format)
{
	bst_ulong	len = 0;
	const char *ptr = NULL;
	bytea	   *result;

	fsxgb_booster_check(b);
	if (format == NULL || (strcmp(format, "ubj") != 0 && strcmp(format, "json") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("XGBoost model format must be \"ubj\" or \"json\"")));
	FSXGB_CALL("model save", FSXGB_EXTERNAL,
			   XGBoosterSaveModelToBuffer(b->handle,
										  strcmp(format, "ubj") == 0 ?
										  "{\"format\": \"ubj\"}" : "{\"format\": \"json\"}",
										  &len, &ptr));
	if ((uint64) len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("XGBoost model of " UINT64_FORMAT " bytes is too large", (uint64) len)));
	result = (bytea *) palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), ptr, len);
	return result;
}

uint64
fsxgb_booster_num_features(FsXgbBooster *b)
{
	bst_ulong	n = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("feature count", FSXGB_EXTERNAL, XGBoosterGetNumFeature(b->handle, &n));
	return (uint64) n;
}

int
fsxgb_booster_boosted_rounds(FsXgbBooster *b)
{
	int			n = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("round count", FSXGB_EXTERNAL, XGBoosterBoostedRounds(b->handle, &n));
	return n;
}

char *
fsxgb_booster_config(FsXgbBooster *b)
{
	bst_ulong	len = 0;
	const char *str = NULL;

	fsxgb_booster_check(b);
	FSXGB_CALL("configuration", FSXGB_CLASSIFY,
			   XGBoosterSaveJsonConfig(b->handle, &len, &str));
	return pnstrdup(str ? str : "", len);
}

cJSON *
fsxgb_booster_config_json(FsXgbBooster *b, MemoryContext owner)
{
	char	   *s = fsxgb_booster_config(b);
	cJSON	   *j = fsxgb_json_parse_owned(s, owner);

	pfree(s);
	return j;
}

/* config → learner → <section> → <key>, as a string (XGBoost writes numbers
 * in its config as strings); NULL when absent. */
char *
fsxgb_config_learner_string(FsXgbBooster *b, const char *section, const char *key)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "fsxgb config",
											  ALLOCSET_SMALL_SIZES);
	cJSON	   *root = fsxgb_booster_config_json(b, tmp);
	cJSON	   *n = cJSON_GetObjectItemCaseSensitive(root, "learner");
	char	   *result = NULL;

	n = cJSON_GetObjectItemCaseSensitive(n, section);
	n = cJSON_GetObjectItemCaseSensitive(n, key);
	if (cJSON_IsString(n))
		result = pstrdup(n->valuestring);
	else if (cJSON_IsNumber(n))
		result = psprintf("%.17g", n->valuedouble);
	MemoryContextDelete(tmp);
	return result;
}

int
fsxgb_booster_num_groups(FsXgbBooster *b)
{
	char	   *s = fsxgb_config_learner_string(b, "learner_model_param", "num_class");
	long		n = s ? strtol(s, NULL, 10) : 0;

	return n > 1 ? (int) n : 1;
}

char *
fsxgb_booster_objective(FsXgbBooster *b)
{
	char	   *s = fsxgb_config_learner_string(b, "objective", "name");

	return s ? s : pstrdup("");
}

void
fsxgb_booster_set_attr(FsXgbBooster *b, const char *key, const char *value)
{
	fsxgb_booster_check(b);
	FSXGB_CALL("attribute", FSXGB_EXTERNAL, XGBoosterSetAttr(b->handle, key, value));
}

char *
fsxgb_booster_get_attr(FsXgbBooster *b, const char *key)
{
	const char *out = NULL;
	int			success = 0;

	fsxgb_booster_check(b);
	FSXGB_CALL("attribute", FSXGB_EXTERNAL, XGBoosterGetAttr(b->handle, key, &out, &success));
	return (success && out) ? pstrdup(out) : NULL;
}
