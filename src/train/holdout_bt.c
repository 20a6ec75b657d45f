/*
 * holdout_bt.c — the hold-out backtest of a direction model, through the
 * bar simulator (kernel/simulator.c) as fsmml_backtest runs it.
 *
 * The hold-out rows' prob_up are laid on the series' bars from the first
 * hold-out row to the last (a bar without a row has no signal) and go
 * through ExecRules and the simulator with bt_run_probs, the code
 * fsmml_backtest(..., {"version_id": v}) and fsmml_compare run on stored
 * predictions.  So a version's holdout.backtest equals fsmml_backtest over
 * [test_from, test_to] of its scored predictions, with the parameters the
 * backtest object records.
 */
#include "postgres.h"

#include <math.h>

#include "agent.h"
#include "fsmml.h"
#include "train.h"

void
fsmml_run_backtest(const char *symbol, const char *timeframe, const FsmmlBars *bars,
				   const int64 *row_ts, const double *prob, int64 nrows,
				   const TrainParams *p, FsmmlHoldoutBt *bt)
{
	double	   *bar_prob;

	memset(bt, 0, sizeof(FsmmlHoldoutBt));
	bt->sim = (FsSimParams) FS_SIM_PARAMS_DEFAULT;
	bt->sim.fee_bps = p->fee_bps;
	bt->rules = (FsExecRules) FS_EXEC_RULES_DEFAULT;
	bt->rules.long_threshold = p->long_threshold;
	bt->rules.short_threshold = p->short_threshold;
	if (nrows == 0)
		elog(ERROR, "hold-out backtest without rows");
	bt_series_from_bars(&bt->s, symbol, timeframe, bars, row_ts[0]);
	bt->from = bt->s.from;
	bt->n = bt_bar_at_or_before(&bt->s, row_ts[nrows - 1]) - bt->from + 1;
	bar_prob = palloc(sizeof(double) * bt->n);
	for (int64 i = 0; i < bt->n; i++)
		bar_prob[i] = NAN;
	for (int64 r = 0, i = 0; r < nrows; r++)
	{
		/* rows ascend and are bars of the series */
		while (i < bt->n - 1 && bt->s.bars[bt->from + i].ts < row_ts[r])
			i++;
		bar_prob[i] = prob[r];
	}
	bt_run_probs(&bt->s, bt->from, bt->n, bar_prob, &bt->rules, &bt->sim, &bt->run);
	pfree(bar_prob);
}

/*
 * fsmml_backtest's metrics, then what reproduces the run: the ExecRules
 * parameters and the bars.  "pnl" (= total_return) is what 0.1.0 versions
 * recorded and what fsmml_deploy ranks versions by.
 */
cJSON *
fsmml_backtest_json(const FsmmlHoldoutBt *bt)
{
	StringInfoData buf;
	cJSON	   *o;
	char	   *from = fsmml_iso8601(bt->s.bars[bt->from].ts);
	char	   *to = fsmml_iso8601(bt->s.bars[bt->from + bt->n - 1].ts);

	initStringInfo(&buf);
	bt_metrics_json(&buf, &bt->run, &bt->sim);
	/* malloc'd and unowned until the caller attaches it: nothing below may raise */
	o = cJSON_Parse(buf.data);
	if (o == NULL)
		elog(ERROR, "hold-out backtest metrics are not JSON: %s", buf.data);
	fsmml_json_num(o, "pnl", bt->run.m.total_return);
	fsmml_json_num(o, "sl_atr", bt->rules.sl_atr);
	fsmml_json_num(o, "tp_atr", bt->rules.tp_atr);
	fsmml_json_num(o, "risk_fraction", bt->rules.risk_fraction);
	fsmml_json_num(o, "max_size", bt->rules.max_size);
	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddStringToObject(o, "to", to);
	return o;
}
