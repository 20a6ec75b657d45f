/*
 * ensemble_weighted.c — EnsembleWeighted: one AgentSignal per bar from the
 * other agents' outputs (kernel/ensemble.c has the rules and weights).
 *
 *   train    records params.weights and params.min_strength as a version
 *            (fsmml-json); the newest version is promoted.
 *   predict  fills the row's ensemble side/strength/sl/tp; fsmml_score
 *            writes them to trading.agentsignals (not agentpreds).
 *   payload  {"side", "strength", "sl", "tp"}; fsmml_score adds which
 *            agents were missing.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"

#include "agent.h"
#include "ensemble.h"
#include "fsmml.h"
#include "xgb.h"

static const char *const ens_keys[] = {"weights", "min_strength", "auto_promote", NULL};
static const char *const weight_keys[] = {"direction", "state", "execution", "regime", NULL};

static FsEnsembleWeights
weights_from(cJSON *p)
{
	cJSON	   *w = cJSON_GetObjectItemCaseSensitive(p, "weights");
	cJSON	   *item;
	FsEnsembleWeights out;
	double		v[4];
	const char *bad;

	if (!cJSON_IsObject(w))
		fsmml_param_error("weights", "an object of weights", "{\"direction\": 1, \"state\": 0.5, \"execution\": 1, \"regime\": 0.5}");
	cJSON_ArrayForEach(item, w)
	{
		bool		known = false;

		for (int i = 0; weight_keys[i]; i++)
			known |= strcmp(item->string, weight_keys[i]) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown weight \"%s\" in params.weights", item->string),
					 errhint("Weights: direction, state, execution, regime.")));
	}
	for (int i = 0; i < 4; i++)
	{
		cJSON	   *x = cJSON_GetObjectItemCaseSensitive(w, weight_keys[i]);

		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
			fsmml_param_error(psprintf("weights.%s", weight_keys[i]), "a number", "1.0");
		v[i] = x->valuedouble;
	}
	out.direction = v[0];
	out.state = v[1];
	out.execution = v[2];
	out.regime = v[3];
	out.min_strength = fsmml_param_num(p, "min_strength", 0, 1, false, "a number in [0, 1]", "0.1");
	bad = fs_ensemble_weights_invalid(&out);
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid params.weights: %s", bad),
				 errhint("Weights are non-negative, direction + state + execution > 0, regime in [0, 1], e.g. {\"direction\": 1, \"state\": 0.5, \"execution\": 1, \"regime\": 0.5}.")));
	return out;
}

static void
ens_validate(cJSON *p, const char *timeframe)
{
	weights_from(p);
	fsmml_param_bool(p, "auto_promote");
}

static FsmmlTrainResult
ens_train(FsAgentTrainCtx *ctx)
{
	cJSON	   *p = fsmml_agent_params(&fsmml_agent_ensemble_weighted, ctx->timeframe, ctx->params, ctx->cxt);
	FsEnsembleWeights w = weights_from(p);
	cJSON	   *doc = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	cJSON	   *o;
	FsAgentVersion av = {0};

	cJSON_AddStringToObject(doc, "format", "fsmml-ensemble-weighted/1");
	o = cJSON_AddObjectToObject(doc, "weights");
	cJSON_AddNumberToObject(o, "direction", w.direction);
	cJSON_AddNumberToObject(o, "state", w.state);
	cJSON_AddNumberToObject(o, "execution", w.execution);
	cJSON_AddNumberToObject(o, "regime", w.regime);
	cJSON_AddNumberToObject(doc, "min_strength", w.min_strength);
	cJSON_AddItemToObject(metrics, "weights", cJSON_Duplicate(o, true));
	cJSON_AddStringToObject(metrics, "promotion", "the newest version (weights have no score)");

	fsmml_agent_version_init(&av, ctx, NULL, p, doc, metrics, "weighted");
	av.score = NAN;
	av.score_name = "weights";
	return fsmml_agent_register(ctx, &av);
}

static void
ens_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	cJSON	   *doc = fsmml_blob_to_json(blob, cxt);
	cJSON	   *w = cJSON_GetObjectItemCaseSensitive(doc, "weights");
	FsEnsembleWeights *s = palloc(sizeof(FsEnsembleWeights));

	s->direction = fsmml_json_get_num(w, "direction");
	s->state = fsmml_json_get_num(w, "state");
	s->execution = fsmml_json_get_num(w, "execution");
	s->regime = fsmml_json_get_num(w, "regime");
	s->min_strength = fsmml_json_get_num(doc, "min_strength");
	if (fs_ensemble_weights_invalid(s))
		fsmml_agent_damaged(m, "unusable weights");
	m->state = s;
	MemoryContextSwitchTo(old);
}

/* Also used with m == NULL (no ensemble champion): the default weights. */
static void
ens_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	const FsEnsembleWeights *w = m->state;

	for (int64 i = from; i < to; i++)
	{
		FsAgentRow *r = &b->rows[i];
		FsEnsembleInput in;
		FsEnsembleOutput o;

		in.prob_up = r->prob_up;
		in.state = r->state;
		in.state_confidence = r->confidence;
		in.has_exec = r->why >= 0;
		in.exec_side = r->side;
		in.exec_sl = r->sl;
		in.exec_tp = r->tp;
		in.gate = r->gate;
		in.close = r->close;
		in.sl_dist = isfinite(r->sl_dist) ? r->sl_dist : (isfinite(r->atr) ? 1.5 * r->atr : NAN);
		in.tp_dist = isfinite(r->tp_dist) ? r->tp_dist : (isfinite(r->atr) ? 2.0 * r->atr : NAN);
		fs_ensemble_combine(w, &in, &o);
		r->ens_side = (signed char) o.side;
		r->strength = (float) o.strength;
		r->ens_sl = o.sl;
		r->ens_tp = o.tp;
	}
}

static void
ens_fields(FsJb *b, const FsAgentRow *r)
{
	fsmml_jb_begin(b);
	fsmml_jb_num(b, "side", r->ens_side, false);
	fsmml_jb_num(b, "strength", r->strength, true);
	fsmml_jb_num(b, "sl", r->ens_sl, false);
	fsmml_jb_num(b, "tp", r->ens_tp, false);
}

static Jsonb *
ens_payload(FsAgentModel *m, const FsAgentRow *r)
{
	FsJb		b;

	ens_fields(&b, r);
	return fsmml_jb_end(&b);
}

/* The signal's payload: the ensemble's plus the agents that had no champion. */
Jsonb *
fsmml_signal_payload(FsAgentModel *m, const FsAgentRow *r, const char *const *missing, int nmissing)
{
	FsJb		b;

	ens_fields(&b, r);
	fsmml_jb_strs(&b, "missing", missing, nmissing);
	return fsmml_jb_end(&b);
}

const FsAgent fsmml_agent_ensemble_weighted = {
	.name = "EnsembleWeighted",
	.kind = "ensemble",
	.param_keys = ens_keys,
	.validate = ens_validate,
	.train = ens_train,
	.load = ens_load,
	.predict = ens_predict,
	.payload = ens_payload,
	.writes_preds = false,
};
