/*
 * optimize.c — fsmml_optimize: threshold optimisation of ExecRules or the
 * state machine by TPE (kernel/tpe.c) or random search.
 *
 * The bars of the series are split in time: the first 1 - test_size form
 * the training window, cut into `folds` consecutive walk-forward blocks;
 * the rest is the hold-out.  Each trial simulates the blocks in order (a
 * flat start in each); after each block the objective over the daily
 * returns so far is reported to the median pruner; a complete trial's
 * score is the objective over the whole training window.  The best trial's
 * thresholds are then run once on the hold-out.  The deflated Sharpe ratio
 * (Bailey and Lopez de Prado 2014) of the best trial, given every trial's
 * Sharpe, decides whether the calibration may be activated.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backtest.h"
#include "dataset.h"
#include "fsmml.h"
#include "locks.h"
#include "optimize.h"
#include "privilege.h"
#include "progress.h"
#include "serve.h"
#include "sim_signals.h"
#include "statefsm.h"
#include "tpe.h"

PG_FUNCTION_INFO_V1(fsmml_optimize);

/* What one trial needs to run a block of bars. */
typedef struct OptData
{
	BtSeries	s;
	bool		fsm;
	double	   *prob;			/* ExecRules: per bar, NaN = none */
	int		   *gate;			/* ExecRules: RegimeKMeans' gate, -1 none */
	FsFsmMetrics *fm;			/* StateFSM: per bar */
	int64		w0,
				w1;				/* usable window [w0, w1) */
	int64		train_end;		/* [w0, train_end) training, [train_end, w1) hold-out */
	FsSimSignal *sig;
	FsFsmState *states;
	double		ppy;
} OptData;

static const FsTpeParam exec_space[] = {
	{"long_threshold", 0.51, 0.80, 0.01, 0},
	{"short_threshold", 0.20, 0.49, 0.01, 0},
	{"sl_atr", 0.5, 5.0, 0, 0},
	{"tp_atr", 0.5, 8.0, 0, 0},
	{"use_gate", 0, 1, 1, 0},
};

/* The seed's search ranges (optuna_optimizer.py). */
static const FsTpeParam fsm_space[] = {
	{"effort_p20", 0.1, 0.5, 0, 0},
	{"effort_p80", 0.8, 2.0, 0, 0},
	{"result_p20", 0.1, 0.5, 0, 0},
	{"result_p80", 0.5, 1.5, 0, 0},
	{"layer_sep", 0.5, 3.0, 0, 0},
	{"bias_slope", 0.1, 0.5, 0, 0},
};

/* ---------------------------------------------------------------- data */

/* The DirectionXGB champion of the series, or 0. */
static int64
direction_champion(const char *symbol, const char *timeframe)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(symbol), CStringGetTextDatum(timeframe)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT id FROM trading.agentversions WHERE symbol = $1 AND timeframe = $2 "
							  "AND agent = 'DirectionXGB' AND status = 'champion'",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading champions failed");
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* RegimeKMeans' gate from its champion's stored predictions ({"gate": bool}), when there are any. */
static void
read_gates(const BtSeries *s, int *gate)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(s->symbol), CStringGetTextDatum(s->timeframe)};

	for (int64 i = 0; i < s->n; i++)
		gate[i] = -1;
	if (SPI_execute_with_args("SELECT p.\"timestamp\", (p.payload->>'gate')::boolean "
							  "FROM trading.agentpreds p JOIN trading.agentversions v ON v.id = p.agent_version_id "
							  "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.agent = 'RegimeKMeans' "
							  "AND v.status = 'champion' AND p.symbol = $1 AND p.timeframe = $2 "
							  "AND p.payload ? 'gate'",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading regime predictions failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		n1,
					n2;
		int64		t = fsmml_ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &n1)));
		Datum		g = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &n2);
		int64		i = bt_bar_at_or_before(s, t);

		if (!n2 && i >= 0 && s->bars[i].ts == t)
			gate[i] = DatumGetBool(g) ? 1 : 0;
	}
}

/* The state metrics of every bar (the feature kernel over the bars). */
static void
read_state_metrics(OptData *d)
{
	List	   *names = list_make5(pstrdup("effort"), pstrdup("result"), pstrdup("compression"),
								   pstrdup("slope"), pstrdup("speed"));
	FsmmlDataset *ds;

	ds = fsmml_dataset_build(d->s.symbol, d->s.timeframe, (FsmmlBars *) d->s.raw, 0, d->s.n,
							 fsmml_resolve_features(d->s.timeframe, names), 0, false, CurrentMemoryContext);
	if (ds->nrows != d->s.n)
		elog(ERROR, "state metrics: " INT64_FORMAT " rows for " INT64_FORMAT " bars", ds->nrows, d->s.n);
	d->fm = palloc(sizeof(FsFsmMetrics) * Max(d->s.n, 1));
	for (int64 i = 0; i < d->s.n; i++)
	{
		const float *x = ds->X + i * ds->nfeat;

		d->fm[i] = (FsFsmMetrics) {x[0], x[1], x[2], x[3], x[4]};
	}
}

/* ---------------------------------------------------------------- one trial */

static void
thresholds_of(const double *x, bool fsm, FsExecRules *r, FsFsmThresholds *t, const BtParams *bt)
{
	if (fsm)
		*t = (FsFsmThresholds) {x[0], x[1], x[2], x[3], x[4], x[5]};
	else
	{
		*r = bt->rules;
		r->long_threshold = x[0];
		r->short_threshold = x[1];
		r->sl_atr = x[2];
		r->tp_atr = x[3];
		r->use_gate = x[4] >= 0.5;
	}
}

/* Simulates [a, b) with thresholds x; daily returns appended to *r at *nr. */
static bool
run_block(OptData *d, const OptParams *o, const double *x, int64 a, int64 b,
		  double *r, int64 *nr, FsSimMetrics *m_out, BtRun *keep)
{
	FsExecRules rules;
	FsFsmThresholds th;
	FsSimMetrics m;
	size_t		nd;
	int64		n = b - a;

	if (n <= 0)
		return true;
	thresholds_of(x, d->fsm, &rules, &th, &o->bt);
	if (d->fsm)
	{
		double		conf;

		if (fs_fsm_thresholds_invalid(&th))
			return false;
		for (int64 i = a; i < b; i++)
			d->states[i] = fs_fsm_classify(&d->fm[i], &th, &conf);
		fs_signals_from_states(d->s.bars + a, d->states + a, d->s.atr + a, (size_t) n, o->fsm_sl_atr, d->sig + a);
	}
	else
	{
		if (fs_exec_rules_invalid(&rules))
			return false;
		fs_signals_from_probs(d->s.bars + a, d->prob + a, d->gate + a, d->s.atr + a, (size_t) n, &rules, d->sig + a);
	}
	if (keep)
	{
		bt_simulate(&d->s, a, n, d->sig + a, &o->bt.sim, keep);
		keep->n_signals = 0;
		for (int64 i = 0; i < n; i++)
			keep->n_signals += d->sig[a + i].present;
		return true;
	}
	if (fs_simulate(d->s.bars + a, d->sig + a, (size_t) n, &o->bt.sim, NULL, NULL, 0, NULL,
					r + *nr, &nd, &m) != NULL)
		return false;
	*nr += (int64) nd;
	if (m_out)
		*m_out = m;
	return true;
}

/* ---------------------------------------------------------------- storing */

static void
params_obj(StringInfo buf, const FsTpeParam *space, int np, const double *x)
{
	appendStringInfoChar(buf, '{');
	for (int k = 0; k < np; k++)
	{
		if (space[k].step == 1 && strcmp(space[k].name, "use_gate") == 0)
			appendStringInfo(buf, "%s\"use_gate\": %s", k ? ", " : "", x[k] >= 0.5 ? "true" : "false");
		else
			bt_json_num(buf, space[k].name, x[k], k > 0);
	}
	appendStringInfoChar(buf, '}');
}

static void
store_trial(const char *symbol, int64 cal_id, int trial_no, bool pruned, const char *params,
			double score, const double *folds, int nfolds)
{
	Oid			types[7] = {TEXTOID, INT8OID, INT4OID, TEXTOID, JSONBOID, FLOAT8OID, FLOAT8ARRAYOID};
	Datum		values[7];
	char		nulls[7] = "       ";
	Datum	   *fd = palloc(sizeof(Datum) * Max(nfolds, 1));
	int			nf = 0;

	for (int i = 0; i < nfolds; i++)
		if (!isnan(folds[i]))
			fd[nf++] = Float8GetDatum(folds[i]);
	values[0] = CStringGetTextDatum(symbol);
	values[1] = Int64GetDatum(cal_id);
	values[2] = Int32GetDatum(trial_no);
	values[3] = CStringGetTextDatum(pruned ? "pruned" : "complete");
	values[4] = bt_jsonb(params);
	values[5] = Float8GetDatum(score);
	if (!isfinite(score))
		nulls[5] = 'n';
	values[6] = PointerGetDatum(construct_array(fd, nf, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("INSERT INTO trading.calibration_trials (symbol, calibration_id, trial_no, "
							  "state, params, score, fold_scores) VALUES ($1, $2, $3, $4, $5, $6, $7)",
							  7, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "storing a calibration trial failed");
}

static bool
caller_is_admin(void)
{
	Oid			admin = get_role_oid("fsmml_admin", true);

	return OidIsValid(admin) && has_privs_of_role(fsmml_caller(), admin);
}

/* ---------------------------------------------------------------- entry point */

Datum
fsmml_optimize(PG_FUNCTION_ARGS)
{
	char	   *agent = fsmml_arg_cstring(fcinfo, 0, "agent");
	char	   *symbol = fsmml_arg_cstring(fcinfo, 1, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 2, "timeframe");
	int			n_trials = PG_ARGISNULL(3) ? 100 : PG_GETARG_INT32(3);
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	OptParams	o;
	OptData		d;
	const FsTpeParam *space;
	int			np;
	FsTpeConfig cfg = FS_TPE_CONFIG_DEFAULT;
	FsRng		rng;
	FsTpeTrial *trials;
	double	   *xs,
			   *scratch,
			   *inter,
			   *rets,
			   *trial_sr;
	int64	   *fold_at;
	int			n_complete = 0,
				n_pruned = 0,
				best = -1;
	int64		cal_id,
				bt_id;
	char	   *instance;
	StringInfoData th,
				det,
				hm;
	BtRun		hold;
	double		best_score = NAN,
				dsr,
				sr0,
				var_sr = 0,
				sr_mean = 0;
	int			n_sr = 0;
	RetStats	best_st;
	bool		significant,
				active;
	Datum		out[3];
	bool		onull[3] = {false, false, false};

	if (strcmp(agent, "ExecRules") == 0)
	{
		space = exec_space;
		np = lengthof(exec_space);
	}
	else if (strcmp(agent, "StateFSM") == 0)
	{
		space = fsm_space;
		np = lengthof(fsm_space);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fsmml_optimize calibrates ExecRules or StateFSM, not \"%s\"", agent),
				 errhint("ExecRules: long/short thresholds, stop and target multiples, gate use; "
						 "StateFSM: effort_p20/p80, result_p20/p80, layer_sep, bias_slope.")));
	if (n_trials < 1 || n_trials > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_trials must lie between 1 and 10000")));

	InitMaterializedSRF(fcinfo, 0);
	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml optimize", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* our allocations live in opcxt, not in SPI's procedure context (freed by SPI_finish) */
	MemoryContextSwitchTo(opcxt);
	opt_parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &o);
	/* method => 'random' (0.2.0's sixth argument) */
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
	{
		char	   *m = text_to_cstring(PG_GETARG_TEXT_PP(5));

		if (strcmp(m, "tpe") != 0 && strcmp(m, "random") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("method must be \"tpe\" or \"random\", not \"%s\"", m)));
		o.random = strcmp(m, "random") == 0;
	}
	if (o.activate && !caller_is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("activating a calibration needs the privileges of fsmml_admin"),
				 errhint("Run without params.activate, and let an admin activate it.")));

	memset(&d, 0, sizeof(d));
	d.fsm = space == fsm_space;
	bt_load_series(&d.s, symbol, timeframe, DT_NOBEGIN, DT_NOEND);
	if (d.s.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s has no bars", symbol, timeframe)));
	d.sig = palloc(sizeof(FsSimSignal) * d.s.n);
	d.w0 = 0;
	d.w1 = d.s.n;
	if (d.fsm)
	{
		d.states = palloc(sizeof(FsFsmState) * d.s.n);
		read_state_metrics(&d);
	}
	else
	{
		int64		found;

		if (o.bt.version_id == 0)
			o.bt.version_id = direction_champion(symbol, timeframe);
		if (o.bt.version_id == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("%s %s has no DirectionXGB champion to calibrate ExecRules on", symbol, timeframe),
					 errhint("Train one (fsmml_train) and store its predictions (fsmml_score), or pass params.version_id.")));
		d.prob = palloc(sizeof(double) * d.s.n);
		d.gate = palloc(sizeof(int) * d.s.n);
		found = bt_version_probs(&d.s, o.bt.version_id, 0, d.s.n, d.prob);
		read_gates(&d.s, d.gate);
		/* the window with predictions */
		while (d.w0 < d.s.n && isnan(d.prob[d.w0]))
			d.w0++;
		while (d.w1 > d.w0 && isnan(d.prob[d.w1 - 1]))
			d.w1--;
		if (found < 50)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("agent version " INT64_FORMAT " has " INT64_FORMAT " stored predictions for %s %s; at least 50 are needed",
							o.bt.version_id, found, symbol, timeframe),
					 errhint("Store them first: SELECT fsmml_score('%s', '%s', from_ts, to_ts).", symbol, timeframe)));
	}
	d.train_end = d.w0 + (int64) floor((d.w1 - d.w0) * (1 - o.test_size));
	if (d.train_end - d.w0 < 2 * o.folds || d.w1 - d.train_end < 2)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s has too few bars (" INT64_FORMAT ") to optimise over %d folds and a hold-out",
						symbol, timeframe, d.w1 - d.w0, o.folds)));
	/* one annualisation for every block: that of the whole series */
	if (o.bt.sim.periods_per_year == 0)
	{
		FsSimMetrics m;
		size_t		nt;

		fs_simulate(d.s.bars, NULL, (size_t) d.s.n, &o.bt.sim, NULL, NULL, 0, &nt, NULL, NULL, &m);
		o.bt.sim.periods_per_year = m.periods_per_year;
	}
	d.ppy = o.bt.sim.periods_per_year;

	/* the calibration row first: trials reference it */
	{
		Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		values[4] = {CStringGetTextDatum(symbol), CStringGetTextDatum(timeframe),
		CStringGetTextDatum(o.random ? "random" : "tpe"), CStringGetTextDatum(agent)};
		bool		isnull;

		if (SPI_execute_with_args("INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, agent) "
								  "VALUES ($1, $2, $3, '{}', $4) RETURNING id",
								  4, types, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "storing the calibration failed");
		cal_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}

	/* walk-forward blocks of the training window */
	fold_at = palloc(sizeof(int64) * (o.folds + 1));
	for (int k = 0; k <= o.folds; k++)
		fold_at[k] = d.w0 + (d.train_end - d.w0) * k / o.folds;

	trials = palloc0(sizeof(FsTpeTrial) * n_trials);
	xs = palloc(sizeof(double) * n_trials * np);
	inter = palloc(sizeof(double) * n_trials * o.folds);
	trial_sr = palloc(sizeof(double) * n_trials);
	scratch = palloc(sizeof(double) * fs_tpe_scratch_size(n_trials, &cfg));
	rets = palloc(sizeof(double) * (d.train_end - d.w0 + o.folds + 1));
	fs_rng_seed(&rng, o.seed);
	instance = psprintf("%s@%s-%s optimize", agent, symbol, timeframe);
	fsmml_progress_begin(instance, 0, n_trials);
	fsmml_progress_phase("trials", 0);

	for (int t = 0; t < n_trials; t++)
	{
		double	   *x = xs + t * np;
		int64		nr = 0;
		bool		pruned = false,
					valid = true;
		double		score = NAN;
		StringInfoData pj;

		CHECK_FOR_INTERRUPTS();
		if (o.random)
			fs_tpe_random(space, np, &rng, x);
		else
			fs_tpe_suggest(space, np, trials, t, &cfg, &rng, scratch, x);
		trials[t].x = x;
		trials[t].step = -1;
		for (int k = 0; k < o.folds; k++)
			inter[t * o.folds + k] = NAN;
		for (int k = 0; k < o.folds && valid; k++)
		{
			double		v,
						best_so_far = INFINITY;

			valid = run_block(&d, &o, x, fold_at[k], fold_at[k + 1], rets, &nr, NULL, NULL);
			if (!valid)
				break;
			v = opt_objective_value(o.objective, rets, nr, d.ppy);
			inter[t * o.folds + k] = v;
			if (k == o.folds - 1)
			{
				score = v;
				break;
			}
			/* the median pruner works on losses: -objective */
			for (int j = 0; j <= k; j++)
				if (!isnan(inter[t * o.folds + j]))
					best_so_far = fmin(best_so_far, -inter[t * o.folds + j]);
			if (o.prune && !o.random)
			{
				double	   *others = palloc(sizeof(double) * Max(t, 1));
				int			no = 0;

				for (int u = 0; u < t; u++)
					if (trials[u].state == FS_TRIAL_COMPLETE)
						others[no++] = -inter[u * o.folds + k];
				if (fs_median_prune(isinf(best_so_far) ? NAN : best_so_far, others, no, n_complete, 5))
				{
					pruned = true;
					trials[t].state = FS_TRIAL_PRUNED;
					trials[t].step = k;
					trials[t].loss = -v;
					pfree(others);
					break;
				}
				pfree(others);
			}
		}
		if (!pruned)
		{
			trials[t].state = FS_TRIAL_COMPLETE;
			trials[t].loss = isnan(score) ? NAN : -score;
			n_complete++;
			trial_sr[t] = valid ? opt_sharpe_pp(rets, nr) : NAN;
			if (isfinite(trial_sr[t]))
			{
				/* running mean and variance of the trials' Sharpe ratios */
				double		delta = trial_sr[t] - sr_mean;

				n_sr++;
				sr_mean += delta / n_sr;
				var_sr += delta * (trial_sr[t] - sr_mean);
			}
			if (isfinite(score) && (best < 0 || score > best_score))
			{
				best = t;
				best_score = score;
			}
		}
		else
			n_pruned++;
		initStringInfo(&pj);
		params_obj(&pj, space, np, x);
		store_trial(symbol, cal_id, t + 1, pruned, pj.data, pruned ? NAN : score,
					inter + t * o.folds, o.folds);
		pfree(pj.data);
		fsmml_progress_round(t + 1, opt_objective_name(o.objective), best_score);
	}
	var_sr = n_sr > 1 ? var_sr / (n_sr - 1) : 0;
	if (best < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no trial of %s gave a defined %s", instance, opt_objective_name(o.objective)),
				 errhint("The training window may be too short or never trade.")));

	/* the best trial again over the whole training window: its returns for the deflated Sharpe */
	fsmml_progress_phase("holdout", 0);
	{
		int64		nr = 0;

		for (int k = 0; k < o.folds; k++)
			run_block(&d, &o, xs + best * np, fold_at[k], fold_at[k + 1], rets, &nr, NULL, NULL);
		opt_ret_stats(rets, nr, &best_st);
		dsr = fs_deflated_sharpe(opt_sharpe_pp(rets, nr), var_sr, n_trials, (double) nr,
								 best_st.skew, best_st.kurt, &sr0);
	}
	memset(&hold, 0, sizeof(hold));
	run_block(&d, &o, xs + best * np, d.train_end, d.w1, NULL, NULL, NULL, &hold);
	significant = isfinite(dsr) && dsr >= o.dsr_threshold;
	active = o.activate && significant;

	initStringInfo(&th);
	params_obj(&th, space, np, xs + best * np);
	initStringInfo(&hm);
	bt_metrics_json(&hm, &hold, &o.bt.sim);
	{
		StringInfoData pj;

		initStringInfo(&pj);
		appendStringInfo(&pj, "{\"calibration_id\": " INT64_FORMAT ", \"agent\": \"%s\", \"thresholds\": %s",
						 cal_id, agent, th.data);
		if (!d.fsm)
			appendStringInfo(&pj, ", \"version_id\": " INT64_FORMAT, o.bt.version_id);
		appendStringInfoChar(&pj, '}');
		bt_id = bt_store(&d.s, &hold, "calibration", pj.data, hm.data,
						 &o.bt.version_id, d.fsm ? 0 : 1, o.bt.store_curve);
	}

	initStringInfo(&det);
	appendStringInfo(&det, "{\"objective\": \"%s\", \"sampler\": \"%s\", \"seed\": " UINT64_FORMAT
					 ", \"n_trials\": %d, \"complete\": %d, \"pruned\": %d, \"folds\": %d",
					 opt_objective_name(o.objective),
					 o.random ? "random search" : "TPE (Optuna 3.1 TPESampler defaults), median pruner",
					 o.seed, n_trials, n_complete, n_pruned, o.folds);
	appendStringInfo(&det, ", \"train_from\": \"%s\", \"train_to\": \"%s\", \"holdout_from\": \"%s\", \"holdout_to\": \"%s\"",
					 fsmml_iso8601(d.s.bars[d.w0].ts), fsmml_iso8601(d.s.bars[d.train_end - 1].ts),
					 fsmml_iso8601(d.s.bars[d.train_end].ts), fsmml_iso8601(d.s.bars[d.w1 - 1].ts));
	bt_json_num(&det, "best_trial", best + 1, true);
	bt_json_num(&det, "train_score", best_score, true);
	bt_json_num(&det, "train_sharpe", opt_sharpe_pp(rets, best_st.n) * sqrt(d.ppy), true);
	bt_json_num(&det, "trial_sharpe_var", var_sr, true);
	bt_json_num(&det, "returns_skew", best_st.skew, true);
	bt_json_num(&det, "returns_kurtosis", best_st.kurt, true);
	bt_json_num(&det, "return_periods", (double) best_st.n, true);
	bt_json_num(&det, "expected_max_sharpe", sr0 * sqrt(d.ppy), true);
	bt_json_num(&det, "deflated_sharpe", dsr, true);
	bt_json_num(&det, "dsr_threshold", o.dsr_threshold, true);
	appendStringInfo(&det, ", \"significant\": %s", significant ? "true" : "false");
	bt_json_num(&det, "holdout_sharpe", hold.m.sharpe, true);
	bt_json_num(&det, "holdout_score", opt_objective_value(o.objective, hold.daily, (int64) hold.n_daily, d.ppy), true);
	appendStringInfo(&det, ", \"holdout\": %s, \"holdout_backtest_id\": " INT64_FORMAT, hm.data, bt_id);
	if (!d.fsm)
		appendStringInfo(&det, ", \"version_id\": " INT64_FORMAT, o.bt.version_id);
	else
		appendStringInfo(&det, ", \"strategy\": \"long in trend_up and up-expansion, short in trend_down and "
						 "down-expansion, flat otherwise; stop %g ATR\"", o.fsm_sl_atr);
	if (!significant)
		appendStringInfo(&det, ", \"warning\": \"deflated Sharpe %.3f below %.2f: the best of %d trials is "
						 "consistent with noise; not activated\"", isfinite(dsr) ? dsr : 0.0,
						 o.dsr_threshold, n_trials);
	appendStringInfoChar(&det, '}');

	{
		Oid			types[6] = {INT8OID, TEXTOID, JSONBOID, FLOAT8OID, BOOLOID, JSONBOID};
		Datum		values[6] = {Int64GetDatum(cal_id), CStringGetTextDatum(symbol), bt_jsonb(th.data),
		Float8GetDatum(best_score), BoolGetDatum(active), bt_jsonb(det.data)};

		if (active)
		{
			Oid			t2[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
			Datum		v2[4] = {CStringGetTextDatum(symbol), CStringGetTextDatum(timeframe),
			CStringGetTextDatum(o.random ? "random" : "tpe"), CStringGetTextDatum(agent)};

			/*
			 * One activation of the series' calibration at a time, held to
			 * commit: a concurrent one waits here, then deactivates ours
			 * instead of failing on calibrations_one_active.
			 */
			fsmml_lock_calibration(agent, symbol, timeframe, o.random ? "random" : "tpe");
			if (SPI_execute_with_args("UPDATE trading.calibrations SET is_active = false WHERE symbol = $1 "
									  "AND timeframe = $2 AND method = $3 AND agent IS NOT DISTINCT FROM $4 AND is_active",
									  4, t2, v2, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "deactivating the previous calibration failed");
		}
		if (SPI_execute_with_args("UPDATE trading.calibrations SET thresholds = $3, score = $4, is_active = $5, "
								  "details = $6 WHERE symbol = $2 AND id = $1",
								  6, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "storing the calibration failed");
		{
			Oid			t3[3] = {TEXTOID, INT8OID, INT8OID};
			Datum		v3[3] = {CStringGetTextDatum(symbol), Int64GetDatum(cal_id), Int64GetDatum(bt_id)};

			/* our own hold-out run (another optimisation may have stored one since) */
			if (SPI_execute_with_args("UPDATE trading.backtests SET calibration_id = $2 WHERE symbol = $1 AND id = $3",
									  3, t3, v3, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "linking the hold-out backtest failed");
		}
	}
	if (!significant)
		ereport(WARNING,
				(errmsg("calibration " INT64_FORMAT " of %s is not significant: deflated Sharpe %.3f < %.2f",
						cal_id, instance, isfinite(dsr) ? dsr : 0.0, o.dsr_threshold),
				 errdetail("The best of %d trials (Sharpe %.2f on the training window) is what noise gives "
						   "that many tries (expected maximum %.2f); hold-out Sharpe %.2f.",
						   n_trials, opt_sharpe_pp(rets, best_st.n) * sqrt(d.ppy), sr0 * sqrt(d.ppy),
						   isfinite(hold.m.sharpe) ? hold.m.sharpe : 0.0),
				 errhint("It is stored with this warning and never activated automatically.")));
	fsmml_progress_end();

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	out[0] = Int64GetDatum(cal_id);
	out[1] = Float8GetDatum(best_score);
	out[2] = bt_jsonb(th.data);
	tuplestore_putvalues(rsi->setResult, rsi->setDesc, out, onull);
	MemoryContextDelete(opcxt);
	return (Datum) 0;
}
