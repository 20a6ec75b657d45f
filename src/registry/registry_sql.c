/*
 * registry_sql.c — the registry's SQL API.
 *
 *   fsmml_promote(version_id, reason)                manual promotion (admin)
 *   fsmml_deploy(agent, symbol, tf, strategy)        best_score | most_recent | rollback (admin)
 *   fsmml_import_model(agent, symbol, tf, model, feature_names, params)   (admin)
 *   fsmml_export_model(version_id)                   XGBoost JSON, loadable anywhere (trainer)
 *   fsmml_model_card(version_id)                     markdown summary of a version (trainer)
 *
 * Every function works in a per-call memory context that owns the XGBoost
 * handles and cJSON trees it makes (see xgb.h), so an ERROR anywhere frees
 * them without PG_TRY.  The writers lock the instance with the same advisory
 * lock as registry.c before they read the champion, so what they decide on
 * is what they change.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"

#define CARD_TOP_FEATURES 15

/* One row of trading.agentversions, as text (NULL for SQL NULL). */
typedef struct VersionInfo
{
	int64		id;
	char	   *symbol;
	char	   *timeframe;
	char	   *agent;
	char	   *version;
	char	   *status;
	char	   *model_format;
	char	   *model_sha256;
	bytea	   *model;			/* only when asked for */
	char	   *params;
	char	   *metrics;
	int			nfeatures;
	char	  **feature_names;
	char	   *train_from;
	char	   *train_to;
	char	   *test_from;
	char	   *test_to;
	char	   *ext_version;
	char	   *created_at;
	char	   *created_by;
	char	   *promoted_at;
	char	   *promoted_by;
	char	   *promote_reason;
} VersionInfo;

/* ---------------------------------------------------------------- helpers */

static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 errhint("%s", hint)));
}

/* Owns the call's XGBoost handles and cJSON trees; a child of the caller's. */
static MemoryContext
call_context(void)
{
	return AllocSetContextCreate(CurrentMemoryContext, "fsmml registry call",
								 ALLOCSET_DEFAULT_SIZES);
}

static void
spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static char *
get_text(int col)
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
static VersionInfo *
read_version(int64 id, bool with_model, bool read_only)
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
	v->symbol = get_text(1);
	v->timeframe = get_text(2);
	v->agent = get_text(3);
	v->version = get_text(4);
	v->status = get_text(5);
	v->model_format = get_text(6);
	v->model_sha256 = get_text(7);
	v->params = get_text(8);
	v->metrics = get_text(9);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10, &isnull);
	if (!isnull)
		text_array_to_cstrings(d, &v->nfeatures, &v->feature_names);
	v->train_from = get_text(11);
	v->train_to = get_text(12);
	v->test_from = get_text(13);
	v->test_to = get_text(14);
	v->ext_version = get_text(15);
	v->created_at = get_text(16);
	v->created_by = get_text(17);
	v->promoted_at = get_text(18);
	v->promoted_by = get_text(19);
	v->promote_reason = get_text(20);
#undef ISO
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 21, &isnull);
	if (!isnull)
		v->model = DatumGetByteaPCopy(d);
	return v;
}

/* metrics::text of a version of symbol, or NULL. */
static char *
version_metrics(const char *symbol, int64 id)
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
	return get_text(1);
}

/*
 * The feature names saved inside an XGBoost model (learner.feature_names),
 * or NIL when it has none.
 */
static List *
booster_feature_names(FsXgbBooster *b, MemoryContext owner)
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

/* ---------------------------------------------------------------- promote */

PG_FUNCTION_INFO_V1(fsmml_promote);

/* fsmml_promote(version_id bigint, reason text) → previous champion id or NULL */
Datum
fsmml_promote(PG_FUNCTION_ARGS)
{
	int64		id;
	const char *reason;
	VersionInfo *v;
	int64		champion;
	int64		previous;
	MemoryContext cxt = call_context();

	require_arg(fcinfo, 0, "version_id",
				"Pass the id of a version from trading.agentversions.");
	id = PG_GETARG_INT64(0);
	reason = PG_ARGISNULL(1) ? "manual promotion" : text_to_cstring(PG_GETARG_TEXT_PP(1));

	spi_connect();
	v = read_version(id, false, false);
	fsmml_registry_lock_instance(v->agent, v->symbol, v->timeframe);
	champion = fsmml_registry_champion(v->agent, v->symbol, v->timeframe);
	if (champion == id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version %s is already the champion of %s",
						v->version, fsmml_instance_name(v->agent, v->symbol, v->timeframe)),
				 errhint("Promote another version, or return to the previous champion with fsmml_deploy(agent, symbol, timeframe, 'rollback').")));
	v = read_version(id, false, false);	/* metrics as of the lock */
	previous = fsmml_registry_promote(v->symbol, id, "manual", reason, v->metrics,
									  version_metrics(v->symbol, champion));
	SPI_finish();
	MemoryContextDelete(cxt);
	if (previous == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(previous);
}

/* ---------------------------------------------------------------- deploy */

/* The version string of id, for messages. */
static char *
version_label(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(id);
	if (SPI_execute_with_args("SELECT version FROM trading.agentversions WHERE id = $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		return psprintf("(id " INT64_FORMAT ")", id);
	return get_text(1);
}

/* Number of versions of an instance. */
static int64
count_versions(const char *agent, const char *symbol, const char *timeframe)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	if (SPI_execute_with_args("SELECT count(*) FROM trading.agentversions "
							  "WHERE symbol = $1 AND timeframe = $2 AND agent = $3",
							  3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The version a strategy picks; *detail gets a phrase for the reason.
 * best_score: best hold-out PnL, then hold-out AUC, then the newest; versions
 * without a hold-out backtest (imports) rank last.
 */
static int64
pick_version(const char *agent, const char *symbol, const char *timeframe,
			 const char *strategy, int64 champion, char **detail)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	bool		isnull;
	const char *sql;
	char	   *instance = fsmml_instance_name(agent, symbol, timeframe);
	int64		id = 0;

	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	values[2] = CStringGetTextDatum(agent);
	values[3] = Int64GetDatum(champion);

	if (strcmp(strategy, "rollback") == 0)
	{
		if (champion == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s has no champion to roll back from", instance),
					 errhint("Promote a version with fsmml_promote(version_id) or fsmml_deploy(agent, symbol, timeframe, 'best_score').")));
		if (SPI_execute_with_args("SELECT champion_id FROM fsmml.promotions "
								  "WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
								  "AND challenger_id = $4 "
								  "AND decision IN ('promoted', 'manual', 'rollback') "
								  "ORDER BY id DESC LIMIT 1",
								  4, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading fsmml.promotions failed");
		if (SPI_processed == 0)
			isnull = true;
		else
			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											 &isnull));
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s has no previous champion to roll back to", instance),
					 errdetail("Its champion %s did not replace another version.",
							   version_label(champion)),
					 errhint("Promote a chosen version with fsmml_promote(version_id).")));
		values[3] = Int64GetDatum(id);
		if (SPI_execute_with_args("SELECT id FROM trading.agentversions WHERE symbol = $1 "
								  "AND timeframe = $2 AND agent = $3 AND id = $4",
								  4, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading trading.agentversions failed");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the previous champion of %s (id " INT64_FORMAT ") no longer exists",
							instance, id),
					 errhint("Promote a chosen version with fsmml_promote(version_id).")));
		*detail = pstrdup("(the previous champion)");
		return id;
	}

	if (strcmp(strategy, "most_recent") == 0)
		sql = "SELECT id, NULL::float8, version FROM trading.agentversions "
			"WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
			"ORDER BY id DESC LIMIT 1";
	else
		sql = "SELECT id, CASE WHEN jsonb_typeof(metrics->'holdout'->'backtest'->'pnl') = 'number' "
			"THEN (metrics->'holdout'->'backtest'->>'pnl')::float8 END AS pnl, version "
			"FROM trading.agentversions "
			"WHERE symbol = $1 AND timeframe = $2 AND agent = $3 "
			"ORDER BY pnl DESC NULLS LAST, "
			"CASE WHEN jsonb_typeof(metrics->'holdout'->'auc') = 'number' "
			"THEN (metrics->'holdout'->>'auc')::float8 END DESC NULLS LAST, id DESC LIMIT 1";
	if (SPI_execute_with_args(sql, 3, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no versions", instance),
				 errhint("Train one with fsmml_train(...).")));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(strategy, "most_recent") == 0)
		*detail = pstrdup("(the newest version)");
	else
	{
		char	   *pnl = get_text(2);

		if (pnl == NULL)
		{
			ereport(NOTICE,
					(errmsg("no version of %s has a hold-out backtest; chose the newest", instance)));
			*detail = pstrdup("(no version has a hold-out score: the newest)");
		}
		else
			*detail = psprintf("(best hold-out PnL %s)", pnl);
	}
	return id;
}

PG_FUNCTION_INFO_V1(fsmml_deploy);

/* fsmml_deploy(agent, symbol, timeframe, strategy) → the champion's id */
Datum
fsmml_deploy(PG_FUNCTION_ARGS)
{
	char	   *agent;
	char	   *symbol;
	char	   *timeframe;
	char	   *strategy;
	char	   *instance;
	char	   *detail = NULL;
	int64		champion;
	int64		chosen;
	VersionInfo *v;
	MemoryContext cxt = call_context();

	require_arg(fcinfo, 0, "agent", "Pass an agent name from trading.agents, e.g. 'DirectionXGB'.");
	require_arg(fcinfo, 1, "symbol", "Pass the symbol of the instance, e.g. 'BTCUSDT'.");
	require_arg(fcinfo, 2, "timeframe", "Pass the timeframe of the instance, e.g. '1m'.");
	require_arg(fcinfo, 3, "strategy",
				"Pass 'best_score', 'most_recent' or 'rollback'.");
	agent = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(2));
	strategy = text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (strcmp(strategy, "best_score") != 0 && strcmp(strategy, "most_recent") != 0 &&
		strcmp(strategy, "rollback") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown deployment strategy \"%s\"", strategy),
				 errhint("Use 'best_score' (best hold-out PnL), 'most_recent' (the newest version) or 'rollback' (the previous champion).")));
	fsmml_timeframe_usec(timeframe);
	instance = fsmml_instance_name(agent, symbol, timeframe);

	spi_connect();
	fsmml_agent_kind(agent);
	fsmml_registry_lock_instance(agent, symbol, timeframe);
	if (count_versions(agent, symbol, timeframe) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no versions", instance),
				 errhint("Train one with fsmml_train(...).")));
	champion = fsmml_registry_champion(agent, symbol, timeframe);
	chosen = pick_version(agent, symbol, timeframe, strategy, champion, &detail);
	v = read_version(chosen, false, false);
	if (chosen == champion)
		ereport(NOTICE,
				(errmsg("version %s is already the champion of %s; nothing changed",
						v->version, instance)));
	else
		fsmml_registry_promote(symbol, chosen,
							   strcmp(strategy, "rollback") == 0 ? "rollback" : "manual",
							   psprintf("fsmml_deploy %s: %s %s", strategy, v->version, detail),
							   v->metrics, version_metrics(symbol, champion));
	SPI_finish();
	MemoryContextDelete(cxt);
	PG_RETURN_INT64(chosen);
}

/* ---------------------------------------------------------------- export */

PG_FUNCTION_INFO_V1(fsmml_export_model);

/* fsmml_export_model(version_id) → XGBoost JSON model */
Datum
fsmml_export_model(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	VersionInfo *v;
	bytea	   *out;
	bytea	   *result;
	MemoryContext cxt = call_context();

	spi_connect();
	v = read_version(id, true, true);
	if (strcmp(v->model_format, "xgboost-json") == 0)
		out = v->model;
	else if (strcmp(v->model_format, "xgboost-ubj") == 0)
	{
		FsXgbBooster *b = fsxgb_booster_load_bytea(cxt, v->model);

		out = fsxgb_booster_save(b, "json");
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %s of %s is not an XGBoost model (format %s)",
						v->version, fsmml_instance_name(v->agent, v->symbol, v->timeframe),
						v->model_format),
				 errhint("Only XGBoost versions export as XGBoost JSON; read other formats from trading.agentversions.model.")));
	result = SPI_palloc(VARSIZE_ANY(out));
	memcpy(result, out, VARSIZE_ANY(out));
	SPI_finish();
	MemoryContextDelete(cxt);
	PG_RETURN_BYTEA_P(result);
}

/* ---------------------------------------------------------------- import */

PG_FUNCTION_INFO_V1(fsmml_import_model);

/*
 * fsmml_import_model(agent, symbol, timeframe, model, feature_names, params)
 * → id of the new version
 */
Datum
fsmml_import_model(PG_FUNCTION_ARGS)
{
	char	   *agent;
	char	   *symbol;
	char	   *timeframe;
	bytea	   *model;
	ArrayType  *names_arr;
	Datum		params;
	char	   *kind;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nnames;
	List	   *names = NIL;
	List	   *model_names;
	FsXgbBooster *b;
	uint64		nfeat;
	char	   *objective;
	int			horizon = 1;
	char	   *params_text;
	FsmmlNewVersion nv = {0};
	FsmmlVersionRow row;
	MemoryContext cxt = call_context();
	char	   *instance;

	require_arg(fcinfo, 0, "agent", "Pass an agent name from trading.agents, e.g. 'DirectionXGB'.");
	require_arg(fcinfo, 1, "symbol", "Pass the symbol the model is for, e.g. 'BTCUSDT'.");
	require_arg(fcinfo, 2, "timeframe", "Pass the timeframe the model is for, e.g. '1m'.");
	require_arg(fcinfo, 3, "model", "Pass the model as bytea: XGBoost JSON or UBJ.");
	require_arg(fcinfo, 4, "feature_names",
				"Pass the model's input columns in order, e.g. ARRAY['ret_1', 'rsi_14'].");
	agent = text_to_cstring(PG_GETARG_TEXT_PP(0));
	symbol = text_to_cstring(PG_GETARG_TEXT_PP(1));
	timeframe = text_to_cstring(PG_GETARG_TEXT_PP(2));
	model = PG_GETARG_BYTEA_PP(3);
	names_arr = PG_GETARG_ARRAYTYPE_P(4);
	params = PG_ARGISNULL(5) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))
		: PG_GETARG_DATUM(5);

	fsmml_timeframe_usec(timeframe);
	instance = fsmml_instance_name(agent, symbol, timeframe);

	spi_connect();
	kind = fsmml_agent_kind(agent);
	if (strcmp(kind, "direction") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("importing models of %s agents (%s) is not supported", kind, agent),
				 errhint("Only direction agents (DirectionXGB) take imported XGBoost models for now.")));

	/* params: an object; horizon a positive integer when given */
	{
		Oid			types[1] = {JSONBOID};
		Datum		values[1] = {params};
		char	   *type;
		char	   *htype;

		if (SPI_execute_with_args("SELECT jsonb_typeof($1), jsonb_typeof($1->'horizon'), "
								  "$1->>'horizon', jsonb_typeof($1->'xgb')",
								  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading params failed");
		type = get_text(1);
		if (strcmp(type, "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params must be a JSON object, not %s", type),
					 errhint("For example '{\"horizon\": 1, \"threshold\": 0.05}'.")));
		htype = get_text(2);
		if (htype != NULL)
		{
			char	   *h = get_text(3);
			char	   *end;
			double		hv = strcmp(htype, "number") == 0 ? strtod(h, &end) : -1;

			if (hv < 1 || hv > 100000 || hv != floor(hv))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("params.horizon must be a positive integer, not %s", h ? h : "null"),
						 errhint("The horizon is the number of bars ahead the model predicts, e.g. 1.")));
			horizon = (int) hv;
		}
		if (get_text(4) != NULL && strcmp(get_text(4), "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.xgb must be a JSON object"),
					 errhint("params.xgb holds the XGBoost parameters the model was trained with, e.g. {\"max_depth\": 6}.")));
	}

	/* feature names: one-dimensional, non-empty, no NULLs, no duplicates, known */
	if (ARR_NDIM(names_arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature_names must be a one-dimensional array")));
	deconstruct_array(names_arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &nnames);
	if (nnames == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature_names must not be empty"),
				 errhint("Pass the model's input columns in order, e.g. ARRAY['ret_1', 'rsi_14'].")));
	for (int i = 0; i < nnames; i++)
	{
		char	   *name;
		ListCell   *lc;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature_names[%d] is null", i + 1),
					 errhint("Every model input needs a feature name.")));
		name = TextDatumGetCString(elems[i]);
		foreach(lc, names)
			if (strcmp(lfirst(lc), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is listed twice in feature_names", name),
						 errhint("Each model input is one distinct feature.")));
		names = lappend(names, name);
	}
	names = fsmml_resolve_features(timeframe, names);

	/* the model: loads, binary:logistic, as many inputs as names, same names */
	b = fsxgb_booster_load(cxt, VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model));
	nfeat = fsxgb_booster_num_features(b);
	if (nfeat != (uint64) nnames)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the model has " UINT64_FORMAT " features but %d feature names were given",
						nfeat, nnames),
				 errhint("Pass one name per model input, in the order the model was trained with.")));
	objective = fsxgb_booster_objective(b);
	if (strcmp(objective, "binary:logistic") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s model needs objective binary:logistic, not %s", agent, objective),
				 errhint("Train the model with objective binary:logistic: fsmml reads its prediction as the probability that the price rises.")));
	model_names = booster_feature_names(b, cxt);
	if (model_names != NIL)
	{
		ListCell   *a;
		ListCell   *c;

		forboth(a, model_names, c, names)
			if (strcmp(lfirst(a), lfirst(c)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the model's feature names differ from feature_names"),
						 errdetail("The model has \"%s\" where feature_names has \"%s\".",
								   (char *) lfirst(a), (char *) lfirst(c)),
						 errhint("Pass the names in the order the model was trained with.")));
	}

	/* params stored: given + imported + horizon + the model's objective */
	{
		Oid			types[3] = {JSONBOID, INT4OID, TEXTOID};
		Datum		values[3];

		values[0] = params;
		values[1] = Int32GetDatum(horizon);
		values[2] = CStringGetTextDatum(objective);
		if (SPI_execute_with_args("SELECT ($1 || jsonb_build_object('imported', true, "
								  "'horizon', $2, 'xgb', coalesce($1->'xgb', '{}') || "
								  "jsonb_build_object('objective', $3::text)))::text",
								  3, types, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "building params failed");
		params_text = get_text(1);
	}

	nv.agent = agent;
	nv.symbol = symbol;
	nv.timeframe = timeframe;
	nv.model = fsxgb_booster_save(b, "ubj");
	nv.model_format = "xgboost-ubj";
	nv.params = params_text;
	nv.metrics = "{\"imported\": true}";
	nv.feature_names = names;
	nv.objective = objective;
	nv.train_from = nv.train_to = nv.test_from = nv.test_to = DT_NOBEGIN;
	row = fsmml_registry_insert(&nv);
	ereport(NOTICE,
			(errmsg("imported %s %s as %s", instance, row.version, row.status),
			 errdetail("The model has no hold-out metrics: fsmml did not validate it.")));

	SPI_finish();
	MemoryContextDelete(cxt);
	PG_RETURN_INT64(row.id);
}

/* ---------------------------------------------------------------- model card */

static cJSON *
jget(const cJSON *o, const char *key)
{
	if (o == NULL || !cJSON_IsObject(o))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool
jnum(const cJSON *o, const char *key, double *out)
{
	cJSON	   *i = jget(o, key);

	if (i == NULL || !cJSON_IsNumber(i) || !isfinite(i->valuedouble))
		return false;
	*out = i->valuedouble;
	return true;
}

/* printf of a double without a "-0.000" */
static char *
fmt_double(double v, int digits)
{
	char	   *s = psprintf("%.*f", digits, v);

	if (s[0] == '-' && strspn(s + 1, "0.") == strlen(s + 1))
		return s + 1;
	return s;
}

static char *
num_or_na(const cJSON *o, const char *key, int digits)
{
	double		v;

	return jnum(o, key, &v) ? fmt_double(v, digits) : "n/a";
}

static char *
int_or_na(const cJSON *o, const char *key)
{
	double		v;

	return jnum(o, key, &v) ? psprintf("%.0f", v) : "n/a";
}

static char *
pct_or_na(const cJSON *o, const char *key, int digits)
{
	double		v;

	return jnum(o, key, &v) ? psprintf("%s%%", fmt_double(100 * v, digits)) : "n/a";
}

/* A JSON value as a table cell: strings as is, others as JSON. */
static char *
json_cell(const cJSON *item)
{
	if (item == NULL || cJSON_IsNull(item))
		return "n/a";
	if (cJSON_IsString(item))
		return item->valuestring;
	if (cJSON_IsNumber(item))
	{
		double		v = item->valuedouble;

		if (v == floor(v) && fabs(v) < 1e15)
			return psprintf("%.0f", v);
		return psprintf("%.10g", v);
	}
	return fsxgb_json_print(item);
}

/* Markdown table cell: | and newlines escaped. */
static char *
md(const char *s)
{
	StringInfoData b;

	if (s == NULL)
		return "n/a";
	initStringInfo(&b);
	for (; *s; s++)
	{
		if (*s == '|')
			appendStringInfoString(&b, "\\|");
		else if (*s == '\n' || *s == '\r')
			appendStringInfoChar(&b, ' ');
		else
			appendStringInfoChar(&b, *s);
	}
	return b.data;
}

static bool
json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(jget(o, key));
}

typedef struct FeatScore
{
	const char *name;
	double		gain;
} FeatScore;

static int
featscore_cmp(const void *a, const void *b)
{
	const FeatScore *x = a;
	const FeatScore *y = b;

	if (x->gain != y->gain)
		return x->gain < y->gain ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Feature importance section (gain, from the model). */
static void
card_importance(StringInfo s, VersionInfo *v, MemoryContext cxt)
{
	FsXgbBooster *b;
	char	  **names;
	double	   *scores;
	int			n;
	bool		named;
	FeatScore  *fs;
	double		total = 0;

	appendStringInfoString(s, "\n## Feature importance (gain, top 15)\n\n");
	if (v->model == NULL || (strcmp(v->model_format, "xgboost-ubj") != 0 &&
							 strcmp(v->model_format, "xgboost-json") != 0))
	{
		appendStringInfo(s, "n/a: the model is not an XGBoost model (format %s).\n",
						 v->model_format);
		return;
	}
	b = fsxgb_booster_load_bytea(cxt, v->model);
	named = booster_feature_names(b, cxt) != NIL;
	n = fsxgb_feature_score(b, "gain", &names, &scores);
	if (n == 0)
	{
		appendStringInfoString(s, "n/a: no tree of the model splits on any feature.\n");
		return;
	}
	fs = palloc(sizeof(FeatScore) * n);
	for (int i = 0; i < n; i++)
	{
		int			idx;
		char		tail;

		fs[i].name = names[i];
		fs[i].gain = isfinite(scores[i]) ? scores[i] : 0;
		total += fs[i].gain;
		/* XGBoost says f<i> when the booster has no names: map to ours */
		if (!named && sscanf(names[i], "f%d%c", &idx, &tail) == 1 &&
			idx >= 0 && idx < v->nfeatures)
			fs[i].name = v->feature_names[idx];
	}
	qsort(fs, n, sizeof(FeatScore), featscore_cmp);
	appendStringInfoString(s, "| rank | feature | gain | share |\n|---:|---|---:|---:|\n");
	for (int i = 0; i < n && i < CARD_TOP_FEATURES; i++)
		appendStringInfo(s, "| %d | %s | %.4g | %s%% |\n", i + 1, md(fs[i].name), fs[i].gain,
						 total > 0 ? fmt_double(100 * fs[i].gain / total, 1) : "n/a");
	appendStringInfo(s, "\n%d of %d features are used by some split; gain is the average loss reduction of a split on the feature.\n",
					 n, v->nfeatures);
}

/* Known risks, derived from the numbers. */
static void
card_risks(StringInfo s, VersionInfo *v, cJSON *params, cJSON *metrics)
{
	cJSON	   *holdout = jget(metrics, "holdout");
	cJSON	   *bt = jget(holdout, "backtest");
	cJSON	   *folds = jget(metrics, "folds");
	cJSON	   *f;
	double		auc,
				x,
				y;
	double		fmin = INFINITY,
				fmax = -INFINITY,
				fsum = 0;
	int			nf = 0;
	int			before;

	appendStringInfoString(s, "\n## Known risks\n\n");
	before = s->len;

	if (json_true(params, "imported") || json_true(metrics, "imported"))
		appendStringInfoString(s, "- Imported model: not validated by fsmml. It was trained elsewhere; no walk-forward or hold-out evaluation was run on this data, so nothing below vouches for it.\n");
	if (json_true(params, "synthetic") ||
		(cJSON_IsString(jget(params, "data")) && strstr(jget(params, "data")->valuestring, "synthetic")) ||
		(cJSON_IsString(jget(params, "data_source")) && strstr(jget(params, "data_source")->valuestring, "synthetic")))
		appendStringInfoString(s, "- Trained on synthetic data: the numbers say nothing about a real market.\n");

	if (holdout == NULL && !json_true(metrics, "imported"))
		appendStringInfoString(s, "- No hold-out evaluation is recorded for this version.\n");

	if (jnum(holdout, "auc", &auc))
	{
		if (fabs(auc - 0.5) <= 0.02)
			appendStringInfo(s, "- Hold-out AUC %s is within 0.5 ± 0.02: no evidence of an edge.\n",
							 fmt_double(auc, 4));
		else if (auc < 0.48)
			appendStringInfo(s, "- Hold-out AUC %s is below 0.5: the model ranks worse than chance on unseen bars.\n",
							 fmt_double(auc, 4));
		else if (auc > 0.75)
			appendStringInfo(s, "- Hold-out AUC %s is far above what direction models reach on real markets: suspect look-ahead (a feature or label that sees the future) or synthetic, predictable data.\n",
							 fmt_double(auc, 4));
	}
	else if (holdout != NULL)
		appendStringInfoString(s, "- Hold-out AUC is undefined (one class only, or no rows).\n");

	if (cJSON_IsArray(folds))
	{
		cJSON_ArrayForEach(f, folds)
		{
			if (jnum(f, "auc", &x))
			{
				fmin = Min(fmin, x);
				fmax = Max(fmax, x);
				fsum += x;
				nf++;
			}
		}
	}
	if (nf >= 2 && fmax - fmin > 0.1)
		appendStringInfo(s, "- Fold AUCs range from %s to %s: performance is unstable across time.\n",
						 fmt_double(fmin, 4), fmt_double(fmax, 4));
	if (nf >= 1 && jnum(holdout, "auc", &auc) && fsum / nf - auc > 0.05)
		appendStringInfo(s, "- Hold-out AUC %s is well below the walk-forward mean %s: overfitting or a change of regime.\n",
						 fmt_double(auc, 4), fmt_double(fsum / nf, 4));

	if (jnum(bt, "sharpe", &x) && x > 5)
		appendStringInfo(s, "- Hold-out Sharpe %s is implausibly high for a live market: check for look-ahead and for fills the backtest assumes (every bar at its close, no slippage).\n",
						 fmt_double(x, 2));
	if (jnum(holdout, "rows", &x) && x < 500)
		appendStringInfo(s, "- Small hold-out (%.0f rows): its metrics are noisy.\n", x);
	if (jnum(holdout, "pos_rate", &x) && fabs(x - 0.5) > 0.1)
		appendStringInfo(s, "- Unbalanced labels (%s%% up moves in the hold-out): accuracy is misleading; read AUC and Brier.\n",
						 fmt_double(100 * x, 1));

	if (jnum(bt, "trades", &x))
	{
		if (x == 0)
			appendStringInfoString(s, "- No trades in the hold-out backtest: the threshold is never crossed, so PnL says nothing.\n");
		else if (x < 30)
			appendStringInfo(s, "- Few trades (%.0f) in the hold-out backtest: PnL, Sharpe and win rate are not statistically meaningful.\n", x);
	}
	if (jnum(bt, "pnl", &x) && x <= 0 && !(jnum(bt, "trades", &y) && y == 0))
		appendStringInfo(s, "- Hold-out PnL after fees is %s: the strategy lost money on unseen bars.\n",
						 fmt_double(x, 4));
	if (jnum(bt, "max_drawdown", &x) && x >= 0.2)
		appendStringInfo(s, "- Hold-out max drawdown of %s%%: expect deep losing streaks.\n",
						 fmt_double(100 * x, 1));
	else if (jnum(bt, "max_drawdown", &x) && jnum(bt, "pnl", &y) && y > 0 && x > y)
		appendStringInfo(s, "- Hold-out max drawdown (%s) exceeds the PnL (%s).\n",
						 fmt_double(x, 4), fmt_double(y, 4));
	if (jnum(bt, "profit_factor", &x) && x < 1 && !(jnum(bt, "trades", &y) && y == 0))
		appendStringInfo(s, "- Profit factor %s < 1: losses outweigh gains.\n", fmt_double(x, 2));

	if (s->len == before)
		appendStringInfoString(s, "- None flagged by the automatic checks. A hold-out is one period of one market: monitor live results.\n");
}

/* fsmml_model_card(version_id) → markdown */
PG_FUNCTION_INFO_V1(fsmml_model_card);

Datum
fsmml_model_card(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	VersionInfo *v;
	cJSON	   *params;
	cJSON	   *metrics;
	cJSON	   *rows;
	cJSON	   *holdout;
	cJSON	   *bt;
	cJSON	   *folds;
	cJSON	   *xgbp;
	cJSON	   *item;
	StringInfoData s;
	char	   *instance;
	double		x;
	int			horizon = 1;
	double		threshold = 0;
	text	   *result;
	MemoryContext cxt = call_context();

	spi_connect();
	v = read_version(id, true, true);
	params = fsxgb_json_parse_owned(v->params, cxt);
	metrics = fsxgb_json_parse_owned(v->metrics, cxt);
	rows = jget(metrics, "rows");
	holdout = jget(metrics, "holdout");
	bt = jget(holdout, "backtest");
	folds = jget(metrics, "folds");
	if (jnum(params, "horizon", &x) && x >= 1)
		horizon = (int) x;
	if (jnum(params, "threshold", &x))
		threshold = x;
	instance = fsmml_instance_name(v->agent, v->symbol, v->timeframe);

	initStringInfo(&s);
	appendStringInfo(&s, "# %s %s (%s)\n\n", instance, v->version, v->status);
	appendStringInfo(&s, "- version id: " INT64_FORMAT "\n", v->id);
	appendStringInfo(&s, "- created: %s by %s (fsmml %s)\n", v->created_at, v->created_by,
					 v->ext_version);
	if (v->promoted_at)
		appendStringInfo(&s, "- promoted: %s by %s (%s)\n", v->promoted_at,
						 v->promoted_by ? v->promoted_by : "n/a",
						 v->promote_reason ? v->promote_reason : "no reason given");
	appendStringInfo(&s, "- model: %s, sha256 %s\n", v->model_format, v->model_sha256);
	if (json_true(params, "imported"))
		appendStringInfoString(&s, "- imported: trained outside fsmml\n");

	/* data window */
	appendStringInfoString(&s, "\n## Data window\n\n| set | from | to |\n|---|---|---|\n");
	appendStringInfo(&s, "| train | %s | %s |\n", v->train_from ? v->train_from : "n/a",
					 v->train_to ? v->train_to : "n/a");
	appendStringInfo(&s, "| test (hold-out) | %s | %s |\n", v->test_from ? v->test_from : "n/a",
					 v->test_to ? v->test_to : "n/a");
	appendStringInfo(&s, "\nRows: %s bars, %s dropped for a NULL feature, %s without a label yet, %s used: %s to train, %s held out.\n",
					 int_or_na(rows, "bars"), int_or_na(rows, "dropped_null"),
					 int_or_na(rows, "dropped_unlabeled"), int_or_na(rows, "used"),
					 int_or_na(rows, "train"), int_or_na(rows, "holdout"));
	if (jget(params, "lookback"))
		appendStringInfo(&s, "Look-back: %s.\n", json_cell(jget(params, "lookback")));

	/* split */
	appendStringInfoString(&s, "\n## Split\n\n");
	appendStringInfo(&s, "- walk-forward folds: %s\n", json_cell(jget(params, "folds")));
	appendStringInfo(&s, "- hold-out share (test_size): %s\n", json_cell(jget(params, "test_size")));
	if (jget(params, "purge"))
		appendStringInfo(&s, "- purge: %s bars\n", json_cell(jget(params, "purge")));
	else
		appendStringInfo(&s, "- purge: %d bar(s), the label horizon\n", horizon);
	appendStringInfo(&s, "- embargo: %s bars\n", json_cell(jget(params, "embargo")));
	appendStringInfo(&s, "- boosting rounds: %s at most, early stopping after %s; rounds run %s, best iteration %s\n",
					 json_cell(jget(params, "rounds")),
					 json_cell(jget(params, "early_stopping_rounds")),
					 int_or_na(metrics, "rounds"), int_or_na(metrics, "best_iteration"));

	/* hyper-parameters */
	appendStringInfoString(&s, "\n## Hyper-parameters\n\n");
	xgbp = jget(params, "xgb");
	if (cJSON_IsObject(xgbp) && cJSON_GetArraySize(xgbp) > 0)
	{
		appendStringInfoString(&s, "| parameter | value |\n|---|---|\n");
		cJSON_ArrayForEach(item, xgbp)
			appendStringInfo(&s, "| %s | %s |\n", md(item->string), md(json_cell(item)));
	}
	else
		appendStringInfoString(&s, "n/a\n");

	/* folds */
	appendStringInfoString(&s, "\n## Metrics per fold\n\n");
	if (cJSON_IsArray(folds) && cJSON_GetArraySize(folds) > 0)
	{
		appendStringInfoString(&s, "| fold | train rows | rows | auc | brier | logloss | accuracy |\n"
							   "|---:|---:|---:|---:|---:|---:|---:|\n");
		cJSON_ArrayForEach(item, folds)
			appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s | %s |\n",
							 int_or_na(item, "fold"), int_or_na(item, "train_rows"),
							 jget(item, "test_rows") ? int_or_na(item, "test_rows") :
							 int_or_na(item, "rows"),
							 num_or_na(item, "auc", 4),
							 num_or_na(item, "brier", 4), num_or_na(item, "logloss", 4),
							 num_or_na(item, "accuracy", 4));
	}
	else
		appendStringInfoString(&s, "n/a: no walk-forward folds recorded.\n");

	/* hold-out */
	appendStringInfoString(&s, "\n## Hold-out\n\n");
	if (holdout)
	{
		appendStringInfoString(&s, "| rows | auc | brier | logloss | accuracy | positives rate |\n"
							   "|---:|---:|---:|---:|---:|---:|\n");
		appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s |\n",
						 int_or_na(holdout, "rows"), num_or_na(holdout, "auc", 4),
						 num_or_na(holdout, "brier", 4), num_or_na(holdout, "logloss", 4),
						 num_or_na(holdout, "accuracy", 4), pct_or_na(holdout, "pos_rate", 2));
		if (jget(holdout, "from"))
			appendStringInfo(&s, "\nFrom %s to %s.\n", json_cell(jget(holdout, "from")),
							 json_cell(jget(holdout, "to")));
	}
	else
		appendStringInfoString(&s, "n/a: no hold-out evaluation recorded.\n");

	/* backtest */
	appendStringInfoString(&s, "\n## Backtest\n\n");
	if (bt)
	{
		appendStringInfoString(&s, "| pnl | sharpe | sortino | max drawdown | calmar | profit factor | win rate | trades |\n"
							   "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
						 num_or_na(bt, "pnl", 4), num_or_na(bt, "sharpe", 2),
						 num_or_na(bt, "sortino", 2), num_or_na(bt, "max_drawdown", 4),
						 num_or_na(bt, "calmar", 2), num_or_na(bt, "profit_factor", 2),
						 pct_or_na(bt, "win_rate", 1), int_or_na(bt, "trades"));
		appendStringInfo(&s, "\nPnL is the sum of per-bar net returns on the hold-out after fees (%s bps per change of position; fees paid %s), exposure %s.\n",
						 json_cell(jget(params, "fee_bps")), num_or_na(bt, "fees", 4),
						 pct_or_na(bt, "exposure", 1));
	}
	else
		appendStringInfoString(&s, "n/a: no hold-out backtest recorded.\n");

	card_importance(&s, v, cxt);
	card_risks(&s, v, params, metrics);

	/* where to use it */
	appendStringInfoString(&s, "\n## Where to use it\n\n");
	appendStringInfo(&s, "- instance: %s on %s %s bars, scored on each closed bar\n", v->agent,
					 v->symbol, v->timeframe);
	appendStringInfo(&s, "- horizon: %d bar(s): the prediction is the probability that close(t+%d) > close(t)\n",
					 horizon, horizon);
	appendStringInfoString(&s, "- payload: {\"prob_up\": p}\n");
	appendStringInfo(&s, "- threshold: %s: long when p >= 0.5 + threshold and p > 0.5, short when p <= 0.5 - threshold and p < 0.5, flat otherwise\n",
					 fmt_double(threshold, 4));
	appendStringInfo(&s, "- inputs (%d, in this order): ", v->nfeatures);
	for (int i = 0; i < v->nfeatures; i++)
		appendStringInfo(&s, "%s%s", i > 0 ? ", " : "", v->feature_names[i]);
	appendStringInfoString(&s, "\n");
	if (strcmp(v->status, "champion") == 0)
		appendStringInfoString(&s, "- status: champion, the version fsmml scores with\n");
	else if (strcmp(v->status, "challenger") == 0)
		appendStringInfo(&s, "- status: challenger, not used for scoring until promoted: fsmml_promote(" INT64_FORMAT ")\n",
						 v->id);
	else
		appendStringInfo(&s, "- status: retired; fsmml_promote(" INT64_FORMAT ") brings it back\n",
						 v->id);

	result = (text *) SPI_palloc(s.len + VARHDRSZ);
	SET_VARSIZE(result, s.len + VARHDRSZ);
	memcpy(VARDATA(result), s.data, s.len);
	SPI_finish();
	MemoryContextDelete(cxt);
	PG_RETURN_TEXT_P(result);
}
