/*
 * model_io.c — models in and out of the registry.
 *
 *   fsmml_export_model(version_id)      XGBoost JSON, loadable by any binding (trainer)
 *   fsmml_import_model(agent, symbol, tf, model, feature_names, params)   a new version (admin)
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
#include "version_info.h"
#include "xgb.h"

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
	RegistryCall call;

	fsmml_registry_call_begin(&call);
	v = fsmml_version_read(id, true, true);
	if (strcmp(v->model_format, "xgboost-json") == 0)
		out = v->model;
	else if (strcmp(v->model_format, "xgboost-ubj") == 0)
	{
		FsXgbBooster *b = fsxgb_booster_load_bytea(call.cxt, v->model);

		out = fsxgb_booster_save(b, "json");
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("version %s of %s is not an XGBoost model (format %s)",
						v->version, fsmml_instance_name(v->agent, v->symbol, v->timeframe),
						v->model_format),
				 errhint("Only XGBoost versions export as XGBoost JSON; read other formats from trading.agentversions.model.")));
	result = MemoryContextAlloc(call.caller, VARSIZE_ANY(out));
	memcpy(result, out, VARSIZE_ANY(out));
	fsmml_registry_call_end(&call);
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
	RegistryCall call;
	char	   *instance;

	fsmml_require_arg(fcinfo, 0, "agent", "Pass an agent name from trading.agents, e.g. 'DirectionXGB'.");
	fsmml_require_arg(fcinfo, 1, "symbol", "Pass the symbol the model is for, e.g. 'BTCUSDT'.");
	fsmml_require_arg(fcinfo, 2, "timeframe", "Pass the timeframe the model is for, e.g. '1m'.");
	fsmml_require_arg(fcinfo, 3, "model", "Pass the model as bytea: XGBoost JSON or UBJ.");
	fsmml_require_arg(fcinfo, 4, "feature_names",
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

	fsmml_registry_call_begin(&call);
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
		type = fsmml_spi_text(1);
		if (strcmp(type, "object") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params must be a JSON object, not %s", type),
					 errhint("For example '{\"horizon\": 1, \"threshold\": 0.05}'.")));
		htype = fsmml_spi_text(2);
		if (htype != NULL)
		{
			char	   *h = fsmml_spi_text(3);
			char	   *end;
			double		hv = strcmp(htype, "number") == 0 ? strtod(h, &end) : -1;

			if (hv < 1 || hv > 100000 || hv != floor(hv))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("params.horizon must be a positive integer, not %s", h ? h : "null"),
						 errhint("The horizon is the number of bars ahead the model predicts, e.g. 1.")));
			horizon = (int) hv;
		}
		if (fsmml_spi_text(4) != NULL && strcmp(fsmml_spi_text(4), "object") != 0)
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
	b = fsxgb_booster_load(call.cxt, VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model));
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
	model_names = fsmml_booster_feature_names(b, call.cxt);
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
		params_text = fsmml_spi_text(1);
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

	fsmml_registry_call_end(&call);
	PG_RETURN_INT64(row.id);
}
