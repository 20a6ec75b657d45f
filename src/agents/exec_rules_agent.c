/*
 * exec_rules_agent.c — ExecRules: rules, not learning (kernel/exec_rules.c).
 *
 *   train    records the rules as a version so signals can reference them:
 *            thresholds from the active trading.calibrations row when it has
 *            long_threshold/short_threshold, else params (0.55 / 0.45); the
 *            blob is the resolved rules as fsmml-json.  No promotion metric:
 *            the newest version is promoted (rules are the desk's decision).
 *   predict  long when prob_up >= long_threshold, short when <= short_threshold,
 *            only with the regime gate open (no RegimeKMeans champion: open);
 *            stops/targets from VolQuantile's distances, else ATR14 x
 *            sl_atr / tp_atr; size = risk_fraction / (stop distance / close),
 *            capped at max_size.
 *   payload  {"side", "size", "sl", "tp", "meta": {"thresholds": [long, short],
 *            "gate": bool|null, "why": text}}.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"

#include "agent.h"
#include "exec_rules.h"
#include "fsmml.h"
#include "xgb.h"

static const char *const exec_keys[] = {
	"long_threshold", "short_threshold", "sl_atr", "tp_atr", "risk_fraction", "max_size",
	"use_gate", "auto_promote", NULL
};

static FsExecRules
rules_from(cJSON *p)
{
	FsExecRules r;

	r.long_threshold = fsmml_param_num(p, "long_threshold", 0, 1, true, "a number in (0, 1)", "0.55");
	r.short_threshold = fsmml_param_num(p, "short_threshold", 0, 1, true, "a number in (0, 1)", "0.45");
	r.sl_atr = fsmml_param_num(p, "sl_atr", 0, 100, true, "a positive number", "1.5");
	r.tp_atr = fsmml_param_num(p, "tp_atr", 0, 100, true, "a positive number", "2.0");
	r.risk_fraction = fsmml_param_num(p, "risk_fraction", 0, 1, true, "a number in (0, 1)", "0.01");
	r.max_size = fsmml_param_num(p, "max_size", 0, 1000, true, "a positive number", "1.0");
	r.use_gate = fsmml_param_bool(p, "use_gate");
	return r;
}

static void
check_rules(const FsExecRules *r, const char *from)
{
	const char *bad = fs_exec_rules_invalid(r);

	if (r->long_threshold <= r->short_threshold)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("long_threshold %g must be above short_threshold %g (%s)",
						r->long_threshold, r->short_threshold, from),
				 errhint("For example {\"long_threshold\": 0.55, \"short_threshold\": 0.45}.")));
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ExecRules parameters (%s): %s", from, bad),
				 errhint("See README, \"Agents\", for ExecRules' parameters.")));
}

static void
exec_validate(cJSON *p, const char *timeframe)
{
	FsExecRules r = rules_from(p);

	fsmml_param_bool(p, "auto_promote");
	check_rules(&r, "params");
}

static cJSON *
rules_json(const FsExecRules *r)
{
	cJSON	   *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "long_threshold", r->long_threshold);
	cJSON_AddNumberToObject(o, "short_threshold", r->short_threshold);
	cJSON_AddNumberToObject(o, "sl_atr", r->sl_atr);
	cJSON_AddNumberToObject(o, "tp_atr", r->tp_atr);
	cJSON_AddNumberToObject(o, "risk_fraction", r->risk_fraction);
	cJSON_AddNumberToObject(o, "max_size", r->max_size);
	cJSON_AddBoolToObject(o, "use_gate", r->use_gate);
	return o;
}

static FsmmlTrainResult
exec_train(FsAgentTrainCtx *ctx)
{
	cJSON	   *p = fsmml_agent_params(&fsmml_agent_exec_rules, ctx->timeframe, ctx->params, ctx->cxt);
	FsExecRules r = rules_from(p);
	int64		cal_id = 0;
	cJSON	   *cal = fsmml_active_calibration(ctx->symbol, ctx->timeframe, &cal_id, ctx->cxt);
	const char *from = "params";
	cJSON	   *doc = fsxgb_json_own(rules_json(&r), ctx->cxt);
	cJSON	   *metrics = fsxgb_json_own(cJSON_CreateObject(), ctx->cxt);
	FsAgentVersion av = {0};

	if (fsmml_calibration_exec(cal, cal_id, &r.long_threshold, &r.short_threshold))
	{
		from = psprintf("calibration " INT64_FORMAT, cal_id);
		check_rules(&r, from);
		cJSON_Delete(cJSON_DetachItemFromObject(doc, "long_threshold"));
		cJSON_Delete(cJSON_DetachItemFromObject(doc, "short_threshold"));
		cJSON_AddNumberToObject(doc, "long_threshold", r.long_threshold);
		cJSON_AddNumberToObject(doc, "short_threshold", r.short_threshold);
	}
	cJSON_AddStringToObject(doc, "format", "fsmml-exec-rules/1");
	cJSON_AddStringToObject(doc, "thresholds_from", from);
	cJSON_AddItemToObject(metrics, "rules", cJSON_Duplicate(doc, true));
	cJSON_AddStringToObject(metrics, "promotion", "the newest version (rules have no score)");

	/* no rows: reads close and ATR14 from the bar */
	fsmml_agent_version_init(&av, ctx, NULL, p, doc, metrics, "rules");
	av.score = NAN;
	av.score_name = "rules";
	return fsmml_agent_register(ctx, &av);
}

typedef struct ExecState
{
	FsExecRules r;
} ExecState;

static void
exec_load(FsAgentModel *m, bytea *blob, cJSON *params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	cJSON	   *doc = fsmml_blob_to_json(blob, cxt);
	ExecState  *s = palloc0(sizeof(ExecState));
	cJSON	   *g = cJSON_GetObjectItemCaseSensitive(doc, "use_gate");

	s->r.long_threshold = fsmml_json_get_num(doc, "long_threshold");
	s->r.short_threshold = fsmml_json_get_num(doc, "short_threshold");
	s->r.sl_atr = fsmml_json_get_num(doc, "sl_atr");
	s->r.tp_atr = fsmml_json_get_num(doc, "tp_atr");
	s->r.risk_fraction = fsmml_json_get_num(doc, "risk_fraction");
	s->r.max_size = fsmml_json_get_num(doc, "max_size");
	s->r.use_gate = cJSON_IsTrue(g);
	if (!cJSON_IsBool(g) || fs_exec_rules_invalid(&s->r))
		fsmml_agent_damaged(m, "unusable rules");
	m->state = s;
	MemoryContextSwitchTo(old);
}

static void
exec_predict(FsAgentModel *m, const FsAgentBatch *b, int64 from, int64 to)
{
	ExecState  *s = m->state;

	for (int64 i = from; i < to; i++)
	{
		FsAgentRow *r = &b->rows[i];
		FsExecInput in;
		FsExecDecision d;

		in.prob_up = r->prob_up;
		in.gate = r->gate;
		in.close = r->close;
		in.atr = r->atr;
		in.sl_dist = r->sl_dist;
		in.tp_dist = r->tp_dist;
		fs_exec_decide(&s->r, &in, &d);
		r->side = (signed char) d.side;
		r->size = (float) d.size;
		r->sl = d.sl;
		r->tp = d.tp;
		r->why = (signed char) d.why;
	}
}

static Jsonb *
exec_payload(FsAgentModel *m, const FsAgentRow *r)
{
	ExecState  *s = m->state;
	FsJb		b;
	double		thr[2] = {s->r.long_threshold, s->r.short_threshold};

	fsmml_jb_begin(&b);
	fsmml_jb_num(&b, "side", r->side, false);
	fsmml_jb_num(&b, "size", r->size, true);
	fsmml_jb_num(&b, "sl", r->sl, false);
	fsmml_jb_num(&b, "tp", r->tp, false);
	fsmml_jb_object(&b, "meta");
	fsmml_jb_nums(&b, "thresholds", thr, 2);
	fsmml_jb_bool(&b, "gate", r->gate);
	fsmml_jb_str(&b, "why", fs_exec_why_text((FsExecWhy) r->why));
	fsmml_jb_end_object(&b);
	return fsmml_jb_end(&b);
}

const FsAgent fsmml_agent_exec_rules = {
	.name = "ExecRules",
	.kind = "execution",
	.param_keys = exec_keys,
	.validate = exec_validate,
	.train = exec_train,
	.load = exec_load,
	.predict = exec_predict,
	.payload = exec_payload,
	.writes_preds = true,
};
