/*
 * agent_train.c — what training the non-direction agents shares: the data
 * (bars in the look-back, features, a chronological dev / hold-out split),
 * registration with promotion on the kind's metric, and fsmml-json blobs.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "agent.h"
#include "base64.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"

void
fsmml_json_num(cJSON *o, const char *key, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

double
fsmml_json_get_num(cJSON *o, const char *key)
{
	cJSON	   *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

char *
fsmml_b64(const bytea *data)
{
	int			len = VARSIZE_ANY_EXHDR(data);
	char	   *out = palloc(pg_b64_enc_len(len) + 1);
	int			n = pg_b64_encode(VARDATA_ANY(data), len, out, pg_b64_enc_len(len));

	if (n < 0)
		elog(ERROR, "base64 encoding failed");
	out[n] = '\0';
	return out;
}

bytea *
fsmml_unb64(const char *s)
{
	int			len = strlen(s);
	bytea	   *out = palloc(VARHDRSZ + pg_b64_dec_len(len));
	/* canonical, as fsmml_b64 writes it: a quad at a time (boosters run to hundreds of kB) */
	int			n = fs_b64_decode_canonical(s, len, (uint8 *) VARDATA(out));

	if (n < 0)
		n = pg_b64_decode(s, len, VARDATA(out), pg_b64_dec_len(len));
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("fsmml-json model: invalid base64 booster"),
				 errhint("The stored model is damaged; train the agent again.")));
	SET_VARSIZE(out, VARHDRSZ + n);
	return out;
}

FsXgbBooster *
fsmml_booster_from_b64(MemoryContext owner, const char *b64)
{
	bytea	   *bytes = fsmml_unb64(b64);
	FsXgbBooster *b = fsxgb_booster_load_bytea(owner, bytes);

	pfree(bytes);
	return b;
}

bytea *
fsmml_blob_from_json(cJSON *doc)
{
	char	   *s = fsxgb_json_print(doc);
	int			len = strlen(s);
	bytea	   *b = palloc(VARHDRSZ + len);

	memcpy(VARDATA(b), s, len);
	SET_VARSIZE(b, VARHDRSZ + len);
	return b;
}

cJSON *
fsmml_blob_to_json(bytea *blob, MemoryContext owner)
{
	/* the blob's own bytes: no NUL-terminated copy of hundreds of kB */
	cJSON	   *doc = cJSON_ParseWithLength(VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob));

	if (doc == NULL || !cJSON_IsObject(doc))
	{
		if (doc)
			cJSON_Delete(doc);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored fsmml-json model is not a JSON object"),
				 errhint("The stored model is damaged; train the agent again.")));
	}
	return fsxgb_json_own(doc, owner);
}

FsAgentData *
fsmml_agent_data(FsAgentTrainCtx *ctx, cJSON *params, List *features, int horizon, int min_rows)
{
	FsAgentData *d = palloc0(sizeof(FsAgentData));
	int64		lb_bars = 0,
				lb_us = 0,
				from = 0,
				nho,
				w = 0;
	double		test_size = fsmml_param_num(params, "test_size", 0, 0.9, true,
											"a number in (0, 0.9)", "0.2");
	FsmmlDataset *ds;
	char	   *instance = fsmml_instance_name(ctx->agent, ctx->symbol, ctx->timeframe);

	fsmml_parse_lookback(params, ctx->timeframe, &lb_bars, &lb_us);
	d->bars = fsmml_read_bars(ctx->symbol, ctx->timeframe, DT_NOBEGIN, DT_NOEND, ctx->cxt);
	if (d->bars->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no bars for %s %s in trading.historicaldata", ctx->symbol, ctx->timeframe),
				 errhint("Load bars for the symbol and timeframe first; symbols are case-sensitive.")));
	if (lb_bars > 0)
		from = Max(d->bars->n - lb_bars, 0);
	else if (lb_us > 0)
	{
		int64		cut = d->bars->bars[d->bars->n - 1].ts - lb_us;

		while (from < d->bars->n && d->bars->bars[from].ts < cut)
			from++;
	}
	features = fsmml_resolve_features(ctx->timeframe, features);
	if (cJSON_GetObjectItemCaseSensitive(params, "features") == NULL ||
		cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(params, "features")))
	{
		features = fsmml_prune_null_features(ctx->symbol, ctx->timeframe, d->bars, from,
											 features, horizon);
		if (features == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("every default feature of %s is NULL on most of the window", instance),
					 errhint("Load more bars (higher-timeframe features need long warm-ups), or name features in params.features.")));
	}
	d->features = features;
	ds = fsmml_dataset_build(ctx->symbol, ctx->timeframe, d->bars, from, d->bars->n, features,
							 horizon, true, ctx->cxt);
	d->ds = ds;
	if (ds->nrows < min_rows)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few rows to train %s: " INT64_FORMAT " usable rows, %d needed",
						instance, ds->nrows, min_rows),
				 errdetail(INT64_FORMAT " rows dropped for a NULL feature, " INT64_FORMAT " without a label yet.",
						   ds->dropped_null, ds->dropped_unlabeled),
				 errhint("Load more bars, widen params.lookback (\"all\"), or choose features with shorter look-backs in params.features.")));
	/* Bar index of every row (rows ascend, so one merge). */
	d->bar_index = palloc(sizeof(int64) * ds->nrows);
	for (int64 i = 0, b = from; i < ds->nrows; i++)
	{
		while (d->bars->bars[b].ts < ds->ts[i])
			b++;
		d->bar_index[i] = b;
		w = b;
	}
	(void) w;
	nho = (int64) floor(ds->nrows * test_size);
	nho = Max(nho, 1);
	d->holdout_start = ds->nrows - nho;
	/* Purge H rows before the hold-out: their labels look into it. */
	d->dev_end = Max(d->holdout_start - horizon, 0);
	if (d->dev_end < min_rows / 2 || nho < 10)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("too few rows to train %s: " INT64_FORMAT " development and " INT64_FORMAT " hold-out rows",
						instance, d->dev_end, nho),
				 errhint("Load more bars, or change params.test_size.")));
	return d;
}

/* A number at a dotted path of a JSON document, NaN when absent. */
static double
json_path_num(cJSON *doc, const char *path)
{
	char	   *copy = pstrdup(path);
	char	   *tok;
	char	   *save = NULL;
	cJSON	   *o = doc;

	for (tok = strtok_r(copy, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, tok);
	return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

FsmmlTrainResult
fsmml_agent_register(FsAgentTrainCtx *ctx, FsAgentVersion *av)
{
	FsmmlTrainResult res;
	FsmmlVersionRow row;
	int64		champion;

	fsmml_registry_lock_instance(ctx->agent, ctx->symbol, ctx->timeframe);
	champion = fsmml_registry_champion(ctx->agent, ctx->symbol, ctx->timeframe);
	row = fsmml_registry_insert(&av->v);
	res.version_id = row.id;
	res.version = row.version;
	res.status = row.status;
	if (champion != 0 && av->auto_promote)
	{
		Oid			types[2] = {TEXTOID, INT8OID};
		Datum		values[2];
		cJSON	   *cm;
		double		theirs,
					ours;
		char	   *on;
		bool		better;
		char	   *reason;
		char	   *champion_metrics;

		values[0] = CStringGetTextDatum(ctx->symbol);
		values[1] = Int64GetDatum(champion);
		if (SPI_execute_with_args("SELECT metrics::text FROM trading.agentversions "
								  "WHERE symbol = $1 AND id = $2", 2, types, values, NULL,
								  false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading champion " INT64_FORMAT " failed", champion);
		champion_metrics = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		cm = fsxgb_json_parse_owned(champion_metrics, ctx->cxt);
		theirs = json_path_num(cm, av->score_name);
		ours = av->score;
		if (fsmml_agent_rescore(ctx, av, champion, &ours, &theirs, &on))
		{
			better = !isnan(ours) && (isnan(theirs) ||
									  (av->higher_better ? ours > theirs : ours < theirs));
			reason = psprintf("%s %.6g vs %.6g, both re-scored on the challenger's hold-out %s "
							  "(%s is better; %s)", av->score_name, ours, theirs, on,
							  av->higher_better ? "higher" : "lower", better ? "better" : "not better");
			/* the champion's side of the decision beside what it recorded on its own hold-out */
			{
				cJSON	   *r = cJSON_AddObjectToObject(cm, "rescored");

				cJSON_AddStringToObject(r, "metric", av->score_name);
				fsmml_json_num(r, "champion", theirs);
				fsmml_json_num(r, "challenger", ours);
				cJSON_AddStringToObject(r, "evaluated_on", on);
				champion_metrics = fsxgb_json_print(cm);
			}
		}
		else if (isnan(av->score))
		{
			better = true;
			reason = psprintf("%s has no promotion metric: the latest version is promoted",
							  ctx->agent);
		}
		else
		{
			better = isnan(theirs) ||
				(av->higher_better ? av->score > theirs : av->score < theirs);
			reason = psprintf("%s %.6g vs %.6g (%s is better; %s)", av->score_name, av->score,
							  theirs, av->higher_better ? "higher" : "lower",
							  better ? "better" : "not better");
		}
		if (better)
		{
			fsmml_registry_promote(ctx->symbol, row.id, "promoted", reason, av->v.metrics,
								   champion_metrics);
			res.status = "champion";
		}
		else
			fsmml_registry_log_decision(ctx->symbol, ctx->timeframe, ctx->agent, row.id, champion,
										"kept", reason, av->v.metrics, champion_metrics);
	}
	res.instance = fsmml_instance_name(ctx->agent, ctx->symbol, ctx->timeframe);
	res.metrics = pstrdup(av->v.metrics);
	return res;
}

/* params.features := the columns used (replaced, or added when the caller gave none). */
void
fsmml_agent_params_set_features(cJSON *params, List *features)
{
	cJSON	   *f = cJSON_CreateArray();
	ListCell   *lc;

	foreach(lc, features)
		cJSON_AddItemToArray(f, cJSON_CreateString(lfirst(lc)));
	if (cJSON_GetObjectItemCaseSensitive(params, "features"))
		cJSON_ReplaceItemInObjectCaseSensitive(params, "features", f);
	else
		cJSON_AddItemToObject(params, "features", f);
}

/*
 * What every agent's version records: who, the blob (doc), params and
 * metrics as text, the objective, params.auto_promote, and d's columns and
 * windows (none when d is NULL: rules and weights train on no rows).  The
 * caller sets the promotion metric.
 */
void
fsmml_agent_version_init(FsAgentVersion *av, FsAgentTrainCtx *ctx, const FsAgentData *d,
						 cJSON *params, cJSON *doc, cJSON *metrics, const char *objective)
{
	memset(av, 0, sizeof(*av));
	av->v.agent = ctx->agent;
	av->v.symbol = ctx->symbol;
	av->v.timeframe = ctx->timeframe;
	av->v.model = fsmml_blob_from_json(doc);
	av->v.model_format = "fsmml-json";
	av->v.params = fsxgb_json_print(params);
	av->v.metrics = fsxgb_json_print(metrics);
	av->v.objective = objective;
	av->auto_promote = fsmml_param_bool(params, "auto_promote");
	if (d == NULL)
	{
		av->v.feature_names = NIL;
		av->v.train_from = av->v.train_to = av->v.test_from = av->v.test_to = DT_NOBEGIN;
		return;
	}
	av->v.feature_names = d->features;
	av->v.train_from = fsmml_unix_to_ts(d->ds->ts[0]);
	av->v.train_to = fsmml_unix_to_ts(d->ds->ts[d->dev_end - 1]);
	av->v.test_from = fsmml_unix_to_ts(d->ds->ts[d->holdout_start]);
	av->v.test_to = fsmml_unix_to_ts(d->ds->ts[d->ds->nrows - 1]);
}

/* A stored version its agent cannot use (what: e.g. "unusable weights"). */
void
fsmml_agent_damaged(const FsAgentModel *m, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("%s version " INT64_FORMAT " has %s", m->agent->name, m->version_id, what),
			 errhint("Train %s again.", m->agent->name)));
}
