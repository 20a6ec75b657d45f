/*
 * version_info.c — what the registry's SQL functions share: a version row
 * read as text, argument checks, the per-call memory context and SPI
 * connection, the feature names saved in an XGBoost model.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "fsmml.h"
#include "registry.h"
#include "version_info.h"
#include "xgb.h"

void
fsmml_require_arg(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 errhint("%s", hint)));
}

void
fsmml_registry_call_begin(RegistryCall *call)
{
	call->caller = CurrentMemoryContext;
	call->cxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml registry call",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(call->cxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
fsmml_registry_call_end(RegistryCall *call)
{
	SPI_finish();				/* back in call->cxt, current at SPI_connect */
	MemoryContextSwitchTo(call->caller);
	MemoryContextDelete(call->cxt);
}

char *
fsmml_spi_text(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

static void
text_array_to_cstrings(Datum d, int *n, char ***out)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	*out = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		(*out)[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
	*n = nelems;
}

/*
 * Reads version id; ERROR when there is none.  read_only = false takes a
 * fresh snapshot (use it after taking the instance lock).
 */
VersionInfo *
fsmml_version_read(int64 id, bool with_model, bool read_only)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	VersionInfo *v;
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(id);
	/* times as ISO 8601 UTC, like the trainer's metrics, whatever DateStyle */
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	if (SPI_execute_with_args(psprintf("SELECT symbol, timeframe, agent, version, status, "
									   "model_format, model_sha256, params::text, metrics::text, "
									   "feature_names, " ISO("train_from") ", " ISO("train_to") ", "
									   ISO("test_from") ", " ISO("test_to") ", "
									   "ext_version, " ISO("created_at") ", created_by, "
									   ISO("promoted_at") ", promoted_by, promote_reason, %s "
									   "FROM trading.agentversions WHERE id = $1",
									   with_model ? "model" : "NULL::bytea"),
							  1, types, values, NULL, read_only, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("agent version " INT64_FORMAT " does not exist", id),
				 errhint("Versions are listed in trading.agentversions (column id).")));

	v = palloc0(sizeof(VersionInfo));
	v->id = id;
	v->symbol = fsmml_spi_text(1);
	v->timeframe = fsmml_spi_text(2);
	v->agent = fsmml_spi_text(3);
	v->version = fsmml_spi_text(4);
	v->status = fsmml_spi_text(5);
	v->model_format = fsmml_spi_text(6);
	v->model_sha256 = fsmml_spi_text(7);
	v->params = fsmml_spi_text(8);
	v->metrics = fsmml_spi_text(9);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10, &isnull);
	if (!isnull)
		text_array_to_cstrings(d, &v->nfeatures, &v->feature_names);
	v->train_from = fsmml_spi_text(11);
	v->train_to = fsmml_spi_text(12);
	v->test_from = fsmml_spi_text(13);
	v->test_to = fsmml_spi_text(14);
	v->ext_version = fsmml_spi_text(15);
	v->created_at = fsmml_spi_text(16);
	v->created_by = fsmml_spi_text(17);
	v->promoted_at = fsmml_spi_text(18);
	v->promoted_by = fsmml_spi_text(19);
	v->promote_reason = fsmml_spi_text(20);
#undef ISO
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 21, &isnull);
	if (!isnull)
		v->model = DatumGetByteaPCopy(d);
	return v;
}

/* metrics::text of a version of symbol, or NULL. */
char *
fsmml_version_metrics(const char *symbol, int64 id)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	if (id == 0)
		return NULL;
	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(id);
	if (SPI_execute_with_args("SELECT metrics::text FROM trading.agentversions "
							  "WHERE symbol = $1 AND id = $2",
							  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		return NULL;
	return fsmml_spi_text(1);
}

/*
 * The feature names saved inside an XGBoost model (learner.feature_names),
 * or NIL when it has none.
 */
List *
fsmml_booster_feature_names(FsXgbBooster *b, MemoryContext owner)
{
	bytea	   *js = fsxgb_booster_save(b, "json");
	cJSON	   *root = fsxgb_json_parse_owned(text_to_cstring((text *) js), owner);
	cJSON	   *names = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "learner"),
														 "feature_names");
	cJSON	   *item;
	List	   *out = NIL;

	if (!cJSON_IsArray(names))
		return NIL;
	cJSON_ArrayForEach(item, names)
		out = lappend(out, pstrdup(cJSON_IsString(item) ? item->valuestring : ""));
	pfree(js);
	return out;
}
