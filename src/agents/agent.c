/*
 * agent.c — the agent table: fsmml_train and fsmml_score dispatch through it.
 *
 * Table order is scoring order: an agent reads the outputs of those before it.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "agent.h"

const FsAgent *const fsmml_agents[] = {
	&fsmml_agent_direction_xgb,
	&fsmml_agent_regime_kmeans,
	&fsmml_agent_vol_quantile,
	&fsmml_agent_state_fsm,
	&fsmml_agent_exec_rules,
	&fsmml_agent_ensemble_weighted,
};
const int	fsmml_nagents = lengthof(fsmml_agents);

const char *const fs_regime_names[3] = {"trend", "mean_revert", "chop"};

const FsAgent *
fsmml_agent_get(const char *name)
{
	for (int i = 0; i < fsmml_nagents; i++)
		if (strcmp(fsmml_agents[i]->name, name) == 0)
			return fsmml_agents[i];
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("unknown agent \"%s\"", name),
			 errhint("Agents: DirectionXGB, RegimeKMeans, VolQuantile, StateFSM, ExecRules, EnsembleWeighted (names are case-sensitive).")));
	return NULL;				/* keep the compiler quiet */
}

void
fsmml_agent_row_init(FsAgentRow *r)
{
	r->prob_up = NAN;
	r->regime = -1;
	r->gate = -1;
	r->cluster = -1;
	r->sigma = r->sl_dist = r->tp_dist = NAN;
	r->state = r->next_state = -1;
	r->confidence = NAN;
	for (int i = 0; i < 6; i++)
		r->m[i] = NAN;
	r->side = 0;
	r->why = -1;
	r->size = 0;
	r->sl = r->tp = NAN;
	r->ens_side = 0;
	r->strength = 0;
	r->ens_sl = r->ens_tp = NAN;
}

void
fsmml_agent_predict_row(FsAgentModel *m, const FsAgentBatch *b, int64 row)
{
	m->agent->predict(m, b, row, row + 1);
}
