/*
 * live_predict.c — fsmml_predict for the latest bar of a series whose
 * features are current (live scoring or fsmml_build_features keep them so):
 * the bar's feature row (the series' newest) is read from trading.features, the champions come
 * from the model cache, and every agent runs on that one row as live
 * scoring runs it, so any agent's payload is served, not only
 * DirectionXGB's.  O(1) in the length of the series.  Anything else (no
 * kernel state, features behind the bars, an older bar) takes predict.c's
 * path from the bars.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "fsmml.h"
#include "live.h"
#include "privilege.h"
#include "registry.h"
#include "serve.h"

/* Whether the model reads only kernel features (user columns: predict.c's path). */
static bool
kernel_only(FsAgentModel *m)
{
	ListCell   *lc;

	foreach(lc, m->features)
		if (fs_feature_index(lfirst(lc)) < 0)
			return false;
	return true;
}

/*
 * max("timestamp") of one series in a table (sql, planned once into *plan);
 * false when it has none.  as_caller: read with the caller's rights (the bars).
 */
static bool
series_max_ts(SPIPlanPtr *plan, const char *sql, const char *symbol, const char *timeframe,
			  bool as_caller, TimestampTz *ts)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	FsmmlUserScope us;
	bool		isnull;
	Datum		d;

	fsmml_spi_keep_plan(plan, sql, 2, types);
	values[0] = CStringGetTextDatum(symbol);
	values[1] = CStringGetTextDatum(timeframe);
	if (as_caller)
		fsmml_caller_enter(&us);
	if (SPI_execute_plan(*plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the series' latest timestamp failed");
	if (as_caller)
		fsmml_caller_leave(&us);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*ts = DatumGetTimestampTz(d);
	return true;
}

/* The latest bar of the series, read as the caller. */
static bool
latest_bar(const char *symbol, const char *timeframe, TimestampTz *ts)
{
	static SPIPlanPtr plan = NULL;

	return series_max_ts(&plan, "SELECT max(\"timestamp\") FROM trading.historicaldata "
						 "WHERE symbol = $1 AND timeframe = $2", symbol, timeframe, true, ts);
}

/* The newest featured bar of the series. */
static bool
features_last_ts(const char *symbol, const char *timeframe, TimestampTz *ts)
{
	static SPIPlanPtr plan = NULL;

	return series_max_ts(&plan, "SELECT max(\"timestamp\") FROM trading.features "
						 "WHERE symbol = $1 AND timeframe = $2", symbol, timeframe, false, ts);
}

bool
fsmml_live_predict_latest(const char *agent, const char *kind, const char *symbol,
						  const char *timeframe, bool has_at, TimestampTz at, Datum *result)
{
	TimestampTz last;
	TimestampTz latest;
	double		feats[2 * FS_NFEATURES];
	FsBar		bars[2];
	LiveChampions *ch;
	FsAgentRow *rows;
	int			k;
	bool		direction = strcmp(kind, "direction") == 0;
	char		num[32];
	StringInfoData json;
	Jsonb	   *payload = NULL;

	if (!features_last_ts(symbol, timeframe, &last) || (has_at && at != last) ||
		!latest_bar(symbol, timeframe, &latest) || latest != last ||
		!fsmml_live_read_features(symbol, timeframe, fsmml_ts_to_unix(last), feats + FS_NFEATURES))
		return false;

	ch = fsmml_live_champions(symbol, timeframe, false);
	for (k = 0; k < ch->n; k++)
		if (strcmp(ch->c[k].agent, agent) == 0)
			break;
	if (k == ch->n)
	{
		if (direction)
			return false;		/* e.g. a JSON-less format: predict.c says why */
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s has no champion", fsmml_instance_name(agent, symbol, timeframe)),
				 errhint("%s", fsmml_no_champion_hint)));
	}

	initStringInfo(&json);
	if (direction)
	{
		FsAgentBatch b;
		FsmmlDataset ds;
		FsmmlBars	fb;
		float		x[FS_NFEATURES];
		FsAgentRow	r;

		if (!kernel_only(ch->c[k].m))
			return false;
		memset(&ds, 0, sizeof(ds));
		ds.nfeat = FS_NFEATURES;
		ds.names = palloc(sizeof(char *) * FS_NFEATURES);
		for (int j = 0; j < FS_NFEATURES; j++)
		{
			ds.names[j] = (char *) fs_feature_catalog[j].name;
			x[j] = (float) feats[FS_NFEATURES + j];
		}
		ds.X = x;
		ds.nrows = 1;
		memset(bars, 0, sizeof(bars));
		bars[1].ts = fsmml_ts_to_unix(last);
		fb.bars = &bars[1];
		fb.n = fb.cap = 1;
		b.bars = &fb;
		b.row_from = 0;
		b.ds = &ds;
		fsmml_agent_row_init(&r);
		b.rows = &r;
		b.n = 1;
		fsmml_live_predict(&ch->c[k], &b, 1);
		fsmml_float_json(r.prob_up, num);
		appendStringInfo(&json, "{\"prob_up\": %s, \"agent_version_id\": " INT64_FORMAT
						 ", \"version\": ", num, ch->c[k].m->version_id);
		escape_json(&json, ch->c[k].m->version);
		appendStringInfo(&json, ", \"horizon\": %d, \"timestamp\": \"%s\"}",
						 ch->c[k].m->horizon, fsmml_iso8601(bars[1].ts));
		*result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
		return true;
	}

	/* Every champion on the bar, as live scoring runs them (row 0 only feeds a transition). */
	for (int c = 0; c < ch->n; c++)
		if (!kernel_only(ch->c[c].m))
			return false;
	for (int j = 0; j < FS_NFEATURES; j++)
		feats[j] = NAN;
	memset(bars, 0, sizeof(bars));
	bars[0].ts = fsmml_ts_to_unix(last) - 1;
	bars[0].open = bars[0].high = bars[0].low = bars[0].close = bars[0].volume = NAN;
	bars[1].ts = fsmml_ts_to_unix(last);
	{
		/* the close feeds ExecRules and the ensemble: the bar's own */
		Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
		Datum		values[3];
		FsmmlUserScope us;
		bool		isnull;

		values[0] = CStringGetTextDatum(symbol);
		values[1] = CStringGetTextDatum(timeframe);
		values[2] = TimestampTzGetDatum(last);
		fsmml_caller_enter(&us);
		if (SPI_execute_with_args("SELECT close::float8 FROM trading.historicaldata WHERE symbol = $1 "
								  "AND timeframe = $2 AND \"timestamp\" = $3", 3, types, values,
								  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading the latest bar failed");
		fsmml_caller_leave(&us);
		bars[1].close = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													 1, &isnull));
	}
	fsmml_live_score_rows(symbol, timeframe, ch, bars, feats, 1, LIVE_WRITE_NONE, false, &rows);
	if (strcmp(kind, "ensemble") == 0)
		payload = fsmml_live_signal_payload(ch, k, &rows[1]);
	else
		payload = ch->c[k].m->agent->payload(ch->c[k].m, &rows[1]);
	appendStringInfo(&json, "{\"agent_version_id\": " INT64_FORMAT ", \"version\": ",
					 ch->c[k].m->version_id);
	escape_json(&json, ch->c[k].m->version);
	appendStringInfo(&json, ", \"timestamp\": \"%s\"}", fsmml_iso8601(bars[1].ts));
	*result = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
	if (payload != NULL)
		*result = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(payload), *result);
	return true;
}
