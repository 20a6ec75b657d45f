/*
 * predict.c — fsmml_predict(agent, symbol, tf, at): one bar, the champion's
 * payload as jsonb, from the backend's cached champion booster.  The latest
 * bar of a series with current features is served from its kernel state,
 * for every agent (live_predict.c); other bars take the path below.  Features
 * are computed exactly as training does (the kernel from the first bar of
 * the series), so fsmml_predict and fsmml_score give the same number.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bulk_insert.h"
#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"
#include "serve.h"
#include "live.h"
#include "utils/datum.h"

/* ---------------------------------------------------------------- fsmml_predict */

char *
fsmml_arg_cstring(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

PG_FUNCTION_INFO_V1(fsmml_predict);

Datum
fsmml_predict(PG_FUNCTION_ARGS)
{
	char	   *agent = fsmml_arg_cstring(fcinfo, 0, "agent");
	char	   *symbol = fsmml_arg_cstring(fcinfo, 1, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 2, "timeframe");
	bool		has_at = !PG_ARGISNULL(3);
	TimestampTz at = has_at ? PG_GETARG_TIMESTAMPTZ(3) : DT_NOEND;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	char	   *instance;
	char	   *kind;
	Champion   *c;
	FsXgbBooster *b;
	List	   *features;
	FsmmlBars  *bars;
	FsmmlDataset *ds;
	const FsBar *last;
	float		prob;
	char		num[32];
	StringInfoData json;
	Datum		result;

	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (has_at && TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at must be a finite timestamp"),
				 errhint("Pass the open time of an existing bar, or NULL for the latest bar.")));

	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml predict", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	instance = fsmml_instance_name(agent, symbol, timeframe);
	kind = fsmml_agent_kind(agent); /* ERROR for an unknown agent */
	if (fsmml_live_predict_latest(agent, kind, symbol, timeframe, has_at, at, &result))
	{
		/* the latest bar from its kernel state (live_predict.c) */
		MemoryContext spicxt = MemoryContextSwitchTo(oldcxt);

		result = datumCopy(result, false, -1);
		MemoryContextSwitchTo(spicxt);
		SPI_finish();
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(opcxt);
		PG_RETURN_DATUM(result);
	}
	c = fsmml_read_champion(agent, symbol, timeframe);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no champion", instance),
				 errhint("%s", fsmml_no_champion_hint)));
	if (strcmp(kind, "direction") != 0 || !fsmml_is_xgboost_format(c->model_format))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fsmml_predict cannot serve %s: a %s agent with a %s model",
						instance, kind, c->model_format),
				 errhint("fsmml_predict serves XGBoost direction agents such as DirectionXGB.")));

	features = fsmml_champion_features(c, timeframe, instance);
	b = fsmml_cached_booster(instance, c, symbol, opcxt);

	/* Every bar up to the one scored: the kernel warms up from the first. */
	bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, at, opcxt);
	if (bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 has_at ? errmsg("no bar of %s %s at %s", symbol, timeframe, timestamptz_to_str(at))
				 : errmsg("no bars for %s %s in trading.historicaldata", symbol, timeframe),
				 has_at ? errhint("Pass the open time of an existing bar, or NULL for the latest bar.")
				 : errhint("Load bars into trading.historicaldata first.")));
	last = &bars->bars[bars->n - 1];
	if (has_at && fsmml_unix_to_ts(last->ts) != at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no bar of %s %s at %s", symbol, timeframe, timestamptz_to_str(at)),
				 errhint("Pass the open time of an existing bar, or NULL for the latest bar.")));

	ds = fsmml_dataset_build(symbol, timeframe, bars, bars->n - 1, bars->n, features,
							 0, false, opcxt);
	if (ds->nrows != 1)
		elog(ERROR, "feature row of the bar was not built");
	fsxgb_predict_dense(b, ds->X, 1, ds->nfeat, &prob, 1);
	CHECK_FOR_INTERRUPTS();

	fsmml_float_json(prob, num);
	initStringInfo(&json);
	appendStringInfo(&json, "{\"prob_up\": %s, \"agent_version_id\": " INT64_FORMAT
					 ", \"version\": ", num, c->id);
	escape_json(&json, c->version);
	appendStringInfo(&json, ", \"horizon\": %d, \"timestamp\": \"%s\"}",
					 c->horizon, fsmml_iso8601(last->ts));

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
	MemoryContextDelete(opcxt);
	PG_RETURN_DATUM(result);
}
