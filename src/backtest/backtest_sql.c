/*
 * backtest_sql.c — fsmml_backtest and fsmml_compare.
 *
 * fsmml_backtest runs trading.agentsignals, or with params.version_id a
 * direction version's stored predictions through ExecRules, through the
 * bar simulator (kernel/simulator.c) and stores the result in
 * trading.backtests with its equity curve and trades.  fsmml_compare runs
 * two versions' predictions over the same bars with the same parameters.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backtest.h"
#include "fsmml.h"
#include "serve.h"
#include "sim_signals.h"

PG_FUNCTION_INFO_V1(fsmml_backtest);
PG_FUNCTION_INFO_V1(fsmml_compare);

static void
params_json(StringInfo buf, const BtParams *p)
{
	appendStringInfoChar(buf, '{');
	bt_json_num(buf, "latency_bars", p->sim.latency_bars, false);
	bt_json_num(buf, "fee_bps", p->sim.fee_bps, true);
	bt_json_num(buf, "slippage_bps", p->sim.slippage_bps, true);
	if (p->sim.periods_per_year > 0)
		bt_json_num(buf, "periods_per_year", p->sim.periods_per_year, true);
	if (p->version_id > 0)
	{
		bt_json_num(buf, "version_id", (double) p->version_id, true);
		bt_json_num(buf, "long_threshold", p->rules.long_threshold, true);
		bt_json_num(buf, "short_threshold", p->rules.short_threshold, true);
		bt_json_num(buf, "sl_atr", p->rules.sl_atr, true);
		bt_json_num(buf, "tp_atr", p->rules.tp_atr, true);
		bt_json_num(buf, "risk_fraction", p->rules.risk_fraction, true);
		bt_json_num(buf, "max_size", p->rules.max_size, true);
		appendStringInfo(buf, ", \"use_gate\": %s", p->rules.use_gate ? "true" : "false");
	}
	appendStringInfoChar(buf, '}');
}

static void
require_range(FunctionCallInfo fcinfo, int a, int b)
{
	if (PG_ARGISNULL(a) || PG_ARGISNULL(b))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_ts and to_ts must not be NULL"),
				 errhint("Pass the range of bars; '-infinity' and 'infinity' are accepted.")));
}

static void
require_bars(const BtSeries *s)
{
	if (s->from >= s->n)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s has no bars in the backtest range", s->symbol, s->timeframe),
				 errhint("Load bars into trading.historicaldata, or widen from_ts and to_ts.")));
}

/* A version's predictions through ExecRules over the window of s. */
static void
run_version(const BtSeries *s, const BtParams *p, int64 version_id, BtRun *run)
{
	int64		n = s->n - s->from;
	double	   *prob = palloc(sizeof(double) * Max(n, 1));
	int64		found = bt_version_probs(s, version_id, s->from, n, prob);

	if (found == 0)
		ereport(NOTICE,
				(errmsg("agent version " INT64_FORMAT " has no stored predictions for %s %s in the range: no trades",
						version_id, s->symbol, s->timeframe),
				 errhint("Store them first: SELECT fsmml_score('%s', '%s', from_ts, to_ts).",
						 s->symbol, s->timeframe)));
	bt_run_probs(s, s->from, n, prob, &p->rules, &p->sim, run);
}

Datum
fsmml_backtest(PG_FUNCTION_ARGS)
{
	char	   *symbol = fsmml_arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 1, "timeframe");
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	BtSeries	s;
	BtParams	p;
	BtRun		run;
	StringInfoData pj,
				mj;
	int64		id;
	Datum		out[2];
	bool		nulls[2] = {false, false};

	require_range(fcinfo, 2, 3);
	InitMaterializedSRF(fcinfo, 0);
	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml backtest", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* our allocations live in opcxt, not in SPI's procedure context (freed by SPI_finish) */
	MemoryContextSwitchTo(opcxt);
	bt_parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &p, NULL, NULL);
	bt_load_series(&s, symbol, timeframe, PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_TIMESTAMPTZ(3));
	require_bars(&s);
	memset(&run, 0, sizeof(run));
	if (p.version_id > 0)
		run_version(&s, &p, p.version_id, &run);
	else
	{
		int64		n = s.n - s.from;
		FsSimSignal *sig = palloc(sizeof(FsSimSignal) * n);
		int64		used = bt_signals_from_table(&s, s.from, n, sig);

		if (used == 0)
			ereport(NOTICE,
					(errmsg("%s %s has no rows in trading.agentsignals in the range: no trades",
							symbol, timeframe)));
		bt_simulate(&s, s.from, n, sig, &p.sim, &run);
		run.n_signals = used;
	}
	initStringInfo(&pj);
	params_json(&pj, &p);
	initStringInfo(&mj);
	bt_metrics_json(&mj, &run, &p.sim);
	id = bt_store(&s, &run, p.version_id > 0 ? "version" : "signals", pj.data, mj.data,
				  &p.version_id, p.version_id > 0 ? 1 : 0, p.store_curve);

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	out[0] = Int64GetDatum(id);
	out[1] = bt_jsonb(mj.data);
	tuplestore_putvalues(rsi->setResult, rsi->setDesc, out, nulls);
	MemoryContextDelete(opcxt);
	return (Datum) 0;
}

Datum
fsmml_compare(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	int64		v[2];
	char	   *sym[2],
			   *tf[2],
			   *label[2];
	BtSeries	s;
	BtParams	p;
	BtRun		run[2];
	int64		id[2];
	static const char *const names[] = {
		"backtest_id", "total_return", "ann_return", "volatility", "sharpe", "sortino", "calmar",
		"max_drawdown", "max_dd_bars", "profit_factor", "win_rate", "expectancy", "trades",
		"avg_trade", "best_trade", "worst_trade", "ambiguous_exits", "exposure", "turnover",
		"fees_paid", "signals"
	};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("champion_version and challenger_version must not be NULL")));
	require_range(fcinfo, 2, 3);
	v[0] = PG_GETARG_INT64(0);
	v[1] = PG_GETARG_INT64(1);
	InitMaterializedSRF(fcinfo, 0);
	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml compare", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* our allocations live in opcxt, not in SPI's procedure context (freed by SPI_finish) */
	MemoryContextSwitchTo(opcxt);
	bt_parse_params(PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4), &p, NULL, NULL);
	if (p.version_id > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.version_id has no meaning for fsmml_compare"),
				 errhint("The versions are its first two arguments.")));
	for (int k = 0; k < 2; k++)
		bt_version_series(v[k], &sym[k], &tf[k], &label[k]);
	if (strcmp(sym[0], sym[1]) != 0 || strcmp(tf[0], tf[1]) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("versions " INT64_FORMAT " (%s) and " INT64_FORMAT " (%s) are not of the same series",
						v[0], label[0], v[1], label[1])));
	bt_load_series(&s, sym[0], tf[0], PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_TIMESTAMPTZ(3));
	require_bars(&s);
	for (int k = 0; k < 2; k++)
	{
		StringInfoData pj,
					mj;

		memset(&run[k], 0, sizeof(BtRun));
		p.version_id = v[k];
		run_version(&s, &p, v[k], &run[k]);
		initStringInfo(&pj);
		params_json(&pj, &p);
		initStringInfo(&mj);
		bt_metrics_json(&mj, &run[k], &p.sim);
		id[k] = bt_store(&s, &run[k], k == 0 ? "compare:champion" : "compare:challenger",
						 pj.data, mj.data, v, 2, p.store_curve);
	}

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	for (int i = 0; i < lengthof(names); i++)
	{
		double		x[2];
		Datum		out[4];
		bool		nulls[4] = {false, false, false, false};

		for (int k = 0; k < 2; k++)
		{
			const FsSimMetrics *m = &run[k].m;
			const char *nm = names[i];

			x[k] = strcmp(nm, "backtest_id") == 0 ? (double) id[k] :
				strcmp(nm, "total_return") == 0 ? m->total_return :
				strcmp(nm, "ann_return") == 0 ? m->ann_return :
				strcmp(nm, "volatility") == 0 ? m->volatility :
				strcmp(nm, "sharpe") == 0 ? m->sharpe :
				strcmp(nm, "sortino") == 0 ? m->sortino :
				strcmp(nm, "calmar") == 0 ? m->calmar :
				strcmp(nm, "max_drawdown") == 0 ? m->max_drawdown :
				strcmp(nm, "max_dd_bars") == 0 ? (double) m->max_dd_bars :
				strcmp(nm, "profit_factor") == 0 ? m->profit_factor :
				strcmp(nm, "win_rate") == 0 ? m->win_rate :
				strcmp(nm, "expectancy") == 0 ? m->expectancy :
				strcmp(nm, "trades") == 0 ? (double) m->trades :
				strcmp(nm, "avg_trade") == 0 ? m->avg_trade :
				strcmp(nm, "best_trade") == 0 ? m->best_trade :
				strcmp(nm, "worst_trade") == 0 ? m->worst_trade :
				strcmp(nm, "ambiguous_exits") == 0 ? (double) m->ambiguous_exits :
				strcmp(nm, "exposure") == 0 ? m->exposure :
				strcmp(nm, "turnover") == 0 ? m->turnover :
				strcmp(nm, "fees_paid") == 0 ? m->fees : (double) run[k].n_signals;
		}
		out[0] = CStringGetTextDatum(names[i]);
		for (int k = 0; k < 2; k++)
		{
			nulls[1 + k] = !isfinite(x[k]);
			out[1 + k] = Float8GetDatum(x[k]);
		}
		nulls[3] = nulls[1] || nulls[2] || i == 0;
		out[3] = Float8GetDatum(x[1] - x[0]);
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, out, nulls);
	}
	MemoryContextDelete(opcxt);
	return (Datum) 0;
}
