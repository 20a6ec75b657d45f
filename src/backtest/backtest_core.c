/*
 * backtest_core.c — bars, signals, parameters, metrics and storage shared
 * by the backtest, compare, optimize and report entry points (backtest.h).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "backtest.h"
#include "bars.h"
#include "fsmml.h"
#include "privilege.h"
#include "sim_signals.h"
#include "xgb.h"

void
bt_series_from_bars(BtSeries *s, const char *symbol, const char *timeframe,
					const FsmmlBars *b, int64 from_us)
{
	s->symbol = symbol;
	s->timeframe = timeframe;
	s->n = b->n;
	s->bars = palloc(sizeof(FsSimBar) * Max(b->n, 1));
	s->atr = palloc(sizeof(double) * Max(b->n, 1));
	s->from = b->n;
	for (int64 i = 0; i < b->n; i++)
	{
		const FsBar *x = &b->bars[i];

		s->bars[i] = (FsSimBar) {x->ts, x->open, x->high, x->low, x->close};
		if (s->from == b->n && x->ts >= from_us)
			s->from = i;
	}
	/* causal: the ATR of a bar does not depend on the bars read after it */
	fs_atr_wilder(s->bars, (size_t) s->n, 14, s->atr);
	s->raw = (void *) b;
}

void
bt_load_series(BtSeries *s, const char *symbol, const char *timeframe,
			   TimestampTz from_ts, TimestampTz to_ts)
{
	FsmmlBars  *b;
	int64		from_us = from_ts == DT_NOBEGIN ? PG_INT64_MIN : fsmml_ts_to_unix(from_ts);

	fsmml_timeframe_usec(timeframe);	/* ERROR when invalid */
	if (from_ts > to_ts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid backtest range [%s, %s]",
						pstrdup(timestamptz_to_str(from_ts)), pstrdup(timestamptz_to_str(to_ts))),
				 errhint("Pass from_ts <= to_ts.")));
	/* every bar up to to_ts: those before from_ts warm the ATR up */
	b = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, to_ts, CurrentMemoryContext);
	bt_series_from_bars(s, symbol, timeframe, b, from_us);
}

int64
bt_bar_at_or_before(const BtSeries *s, int64 t)
{
	int64		lo = 0,
				hi = s->n - 1,
				ans = -1;

	while (lo <= hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (s->bars[mid].ts <= t)
		{
			ans = mid;
			lo = mid + 1;
		}
		else
			hi = mid - 1;
	}
	return ans;
}

/* ---------------------------------------------------------------- parameters */

static const char *const bt_keys[] = {
	"latency_bars", "fee_bps", "slippage_bps", "periods_per_year", "version_id",
	"long_threshold", "short_threshold", "sl_atr", "tp_atr", "risk_fraction", "max_size",
	"use_gate", "store_curve", NULL
};

#define BT_HINT "Backtest parameters: latency_bars, fee_bps, slippage_bps, periods_per_year, " \
	"version_id, long_threshold, short_threshold, sl_atr, tp_atr, risk_fraction, max_size, " \
	"use_gate, store_curve."

static double
num_param(cJSON *v, const char *key, double lo, double hi)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.%s must be a number between %g and %g", key, lo, hi)));
	return v->valuedouble;
}

static bool
bool_param(cJSON *v, const char *key)
{
	if (!cJSON_IsBool(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.%s must be true or false", key)));
	return cJSON_IsTrue(v);
}

void
bt_parse_params(Jsonb *params, BtParams *p, const char *const *allowed_extra, cJSON **rest)
{
	cJSON	   *root;
	cJSON	   *item;
	const char *bad;

	p->sim = (FsSimParams) FS_SIM_PARAMS_DEFAULT;
	p->rules = (FsExecRules) FS_EXEC_RULES_DEFAULT;
	p->version_id = 0;
	p->store_curve = true;
	if (rest)
		*rest = NULL;
	if (params == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errhint("Pass '{}' for the defaults, or e.g. '{\"fee_bps\": 10, \"version_id\": 3}'.")));
	root = fsxgb_json_parse_owned(JsonbToCString(NULL, &params->root, VARSIZE(params)),
								  CurrentMemoryContext);
	if (rest)
		*rest = root;
	cJSON_ArrayForEach(item, root)
	{
		const char *k = item->string;
		bool		known = false;

		for (int i = 0; bt_keys[i]; i++)
			known |= strcmp(k, bt_keys[i]) == 0;
		for (int i = 0; allowed_extra && allowed_extra[i]; i++)
			known |= strcmp(k, allowed_extra[i]) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown parameter \"%s\"", k),
					 errhint(BT_HINT)));
		if (strcmp(k, "latency_bars") == 0)
		{
			double		v = num_param(item, k, 1, 1000);

			if (v != floor(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("params.latency_bars must be a whole number of bars, at least 1"),
						 errhint("A signal acts at the open of a later bar: latency 0 would trade on its own bar's close.")));
			p->sim.latency_bars = (int) v;
		}
		else if (strcmp(k, "fee_bps") == 0)
			p->sim.fee_bps = num_param(item, k, 0, 1000);
		else if (strcmp(k, "slippage_bps") == 0)
			p->sim.slippage_bps = num_param(item, k, 0, 1000);
		else if (strcmp(k, "periods_per_year") == 0)
			p->sim.periods_per_year = num_param(item, k, 1, 1e6);
		else if (strcmp(k, "version_id") == 0)
			p->version_id = (int64) num_param(item, k, 1, 9e15);
		else if (strcmp(k, "long_threshold") == 0)
			p->rules.long_threshold = num_param(item, k, 0, 1);
		else if (strcmp(k, "short_threshold") == 0)
			p->rules.short_threshold = num_param(item, k, 0, 1);
		else if (strcmp(k, "sl_atr") == 0)
			p->rules.sl_atr = num_param(item, k, 0, 1000);
		else if (strcmp(k, "tp_atr") == 0)
			p->rules.tp_atr = num_param(item, k, 0, 1000);
		else if (strcmp(k, "risk_fraction") == 0)
			p->rules.risk_fraction = num_param(item, k, 0, 1);
		else if (strcmp(k, "max_size") == 0)
			p->rules.max_size = num_param(item, k, 0, 100);
		else if (strcmp(k, "use_gate") == 0)
			p->rules.use_gate = bool_param(item, k);
		else if (strcmp(k, "store_curve") == 0)
			p->store_curve = bool_param(item, k);
	}
	if ((bad = fs_exec_rules_invalid(&p->rules)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ExecRules parameters: %s", bad)));
}

/* ---------------------------------------------------------------- signals */

int64
bt_signals_from_table(const BtSeries *s, int64 from, int64 n, FsSimSignal *sig)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	int64		used = 0;

	for (int64 i = 0; i < n; i++)
		sig[i] = (FsSimSignal) {0, 0, NAN, NAN, NAN};
	if (n == 0)
		return 0;
	values[0] = CStringGetTextDatum(s->symbol);
	values[1] = CStringGetTextDatum(s->timeframe);
	values[2] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[from].ts));
	/* up to the next bar: a signal stamped between bars belongs to the bar before it */
	values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(from + n < s->n ? s->bars[from + n].ts :
													 s->bars[from + n - 1].ts + fsmml_timeframe_usec(s->timeframe)));
	if (SPI_execute_with_args("SELECT \"timestamp\", side, size, sl, tp FROM trading.agentsignals "
							  "WHERE symbol = $1 AND timeframe = $2 AND \"timestamp\" >= $3 "
							  "AND \"timestamp\" < $4 ORDER BY \"timestamp\"",
							  4, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentsignals failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		t = fsmml_ts_to_unix(DatumGetTimestampTz(SPI_getbinval(tup, td, 1, &isnull)));
		int64		i = bt_bar_at_or_before(s, t) - from;
		Datum		d;

		if (i < 0 || i >= n)
			continue;
		sig[i].present = 1;
		sig[i].side = DatumGetInt16(SPI_getbinval(tup, td, 2, &isnull));
		d = SPI_getbinval(tup, td, 3, &isnull);
		sig[i].size = isnull ? NAN : DatumGetFloat8(d);
		d = SPI_getbinval(tup, td, 4, &isnull);
		sig[i].sl = isnull ? NAN : DatumGetFloat8(d);
		d = SPI_getbinval(tup, td, 5, &isnull);
		sig[i].tp = isnull ? NAN : DatumGetFloat8(d);
		used++;
	}
	return used;
}

void
bt_version_series(int64 version_id, char **symbol, char **timeframe, char **label)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(version_id)};

	if (SPI_execute_with_args("SELECT symbol, timeframe, agent || '@' || symbol || '-' || timeframe "
							  "|| ' ' || version FROM trading.agentversions WHERE id = $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentversions failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("agent version " INT64_FORMAT " does not exist", version_id),
				 errhint("SELECT id, agent, symbol, timeframe, version FROM trading.agentversions lists them.")));
	*symbol = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*timeframe = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	*label = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
}

int64
bt_version_probs(const BtSeries *s, int64 version_id, int64 from, int64 n, double *prob)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	char	   *vsym,
			   *vtf,
			   *label;
	int64		found = 0;

	for (int64 i = 0; i < n; i++)
		prob[i] = NAN;
	bt_version_series(version_id, &vsym, &vtf, &label);
	if (strcmp(vsym, s->symbol) != 0 || strcmp(vtf, s->timeframe) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agent version " INT64_FORMAT " (%s) is not a version of %s %s",
						version_id, label, s->symbol, s->timeframe)));
	if (n == 0)
		return 0;
	values[0] = Int64GetDatum(version_id);
	values[1] = CStringGetTextDatum(s->symbol);
	values[2] = CStringGetTextDatum(s->timeframe);
	values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[from].ts));
	values[4] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[from + n - 1].ts));
	/* the shortest horizon the version has predictions for */
	if (SPI_execute_with_args("SELECT p.\"timestamp\", (p.payload->>'prob_up')::float8 "
							  "FROM trading.agentpreds p WHERE p.agent_version_id = $1 AND p.symbol = $2 "
							  "AND p.timeframe = $3 AND p.\"timestamp\" BETWEEN $4 AND $5 "
							  "AND p.horizon = (SELECT min(horizon) FROM trading.agentpreds q "
							  "WHERE q.agent_version_id = $1 AND q.symbol = $2 AND q.timeframe = $3) "
							  "ORDER BY p.\"timestamp\"",
							  5, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading trading.agentpreds failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull,
					pnull;
		int64		t = fsmml_ts_to_unix(DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[r],
																			SPI_tuptable->tupdesc, 1, &isnull)));
		Datum		p = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &pnull);
		int64		i = bt_bar_at_or_before(s, t) - from;

		if (pnull || i < 0 || i >= n || s->bars[from + i].ts != t)
			continue;
		prob[i] = DatumGetFloat8(p);
		found++;
	}
	return found;
}

/* ---------------------------------------------------------------- simulation, metrics */

void
bt_simulate(const BtSeries *s, int64 from, int64 n, FsSimSignal *sig,
			const FsSimParams *p, BtRun *run)
{
	const char *bad;

	run->from = from;
	run->n = n;
	run->sig = sig;
	run->equity = palloc(sizeof(double) * Max(n, 1));
	run->daily = palloc(sizeof(double) * Max(n, 1));
	run->trades = palloc(sizeof(FsSimTrade) * Max(n, 1));	/* at most one trade per bar */
	run->ppy_given = p->periods_per_year > 0;
	bad = fs_simulate(s->bars + from, sig, (size_t) n, p, run->equity, run->trades, (size_t) Max(n, 1),
					  &run->n_trades, run->daily, &run->n_daily, &run->m);
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backtest of %s %s: %s", s->symbol, s->timeframe, bad)));
}

void
bt_run_probs(const BtSeries *s, int64 from, int64 n, const double *prob,
			 const FsExecRules *rules, const FsSimParams *p, BtRun *run)
{
	FsSimSignal *sig = palloc(sizeof(FsSimSignal) * Max(n, 1));
	int64		found = 0;

	for (int64 i = 0; i < n; i++)
		found += !isnan(prob[i]);
	/* no regime gate: a direction model's predictions alone */
	fs_signals_from_probs(s->bars + from, prob, NULL, s->atr + from, (size_t) n, rules, sig);
	bt_simulate(s, from, n, sig, p, run);
	run->n_signals = found;
}

void
bt_json_num(StringInfo buf, const char *key, double v, bool comma)
{
	appendStringInfo(buf, "%s\"%s\": ", comma ? ", " : "", key);
	if (isfinite(v))
		appendStringInfo(buf, "%.10g", v);
	else
		appendStringInfoString(buf, "null");
}

void
bt_metrics_json(StringInfo buf, const BtRun *run, const FsSimParams *p)
{
	const FsSimMetrics *m = &run->m;

	appendStringInfoChar(buf, '{');
	bt_json_num(buf, "total_return", m->total_return, false);
	bt_json_num(buf, "ann_return", m->ann_return, true);
	bt_json_num(buf, "volatility", m->volatility, true);
	bt_json_num(buf, "sharpe", m->sharpe, true);
	bt_json_num(buf, "sortino", m->sortino, true);
	bt_json_num(buf, "calmar", m->calmar, true);
	bt_json_num(buf, "max_drawdown", m->max_drawdown, true);
	bt_json_num(buf, "max_dd_bars", (double) m->max_dd_bars, true);
	bt_json_num(buf, "max_dd_duration_s", m->max_dd_seconds, true);
	bt_json_num(buf, "profit_factor", m->profit_factor, true);
	bt_json_num(buf, "win_rate", m->win_rate, true);
	bt_json_num(buf, "expectancy", m->expectancy, true);
	bt_json_num(buf, "trades", (double) m->trades, true);
	bt_json_num(buf, "avg_trade", m->avg_trade, true);
	bt_json_num(buf, "best_trade", m->best_trade, true);
	bt_json_num(buf, "worst_trade", m->worst_trade, true);
	bt_json_num(buf, "ambiguous_exits", (double) m->ambiguous_exits, true);
	bt_json_num(buf, "exposure", m->exposure, true);
	bt_json_num(buf, "turnover", m->turnover, true);
	bt_json_num(buf, "fees_paid", m->fees, true);
	bt_json_num(buf, "bars", (double) m->bars, true);
	bt_json_num(buf, "days", (double) m->days, true);
	bt_json_num(buf, "signals", (double) run->n_signals, true);
	bt_json_num(buf, "periods_per_year", m->periods_per_year, true);
	appendStringInfo(buf, ", \"annualisation\": \"%s\"",
					 run->ppy_given ? "params.periods_per_year" :
					 m->periods_per_year == 365 ? "365: bars on weekends (a market that trades every day)" :
					 "252: no bar on a weekend");
	bt_json_num(buf, "latency_bars", p->latency_bars, true);
	bt_json_num(buf, "fee_bps", p->fee_bps, true);
	bt_json_num(buf, "slippage_bps", p->slippage_bps, true);
	appendStringInfoChar(buf, '}');
}

Datum
bt_jsonb(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

char *
bt_caller_name(void)
{
	return GetUserNameFromId(fsmml_caller(), false);
}

/* ---------------------------------------------------------------- storage */

static Datum
array_of(Datum *d, int n, Oid type)
{
	int16		typlen;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &typlen, &byval, &align);
	return PointerGetDatum(construct_array(d, n, type, typlen, byval, align));
}

int64
bt_store(const BtSeries *s, const BtRun *run, const char *source,
		 const char *params_json, const char *metrics_json,
		 const int64 *version_ids, int n_versions, bool store_curve)
{
	Oid			types[9] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, JSONBOID,
	JSONBOID, INT8ARRAYOID, TEXTOID};
	Datum		values[9];
	char		nulls[9] = "         ";
	Datum	   *vid = palloc(sizeof(Datum) * Max(n_versions, 1));
	int64		id;
	bool		isnull;

	for (int i = 0; i < n_versions; i++)
		vid[i] = Int64GetDatum(version_ids[i]);
	values[0] = CStringGetTextDatum(s->symbol);
	values[1] = CStringGetTextDatum(s->timeframe);
	values[2] = CStringGetTextDatum(source);
	if (run->n > 0)
	{
		values[3] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[run->from].ts));
		values[4] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[run->from + run->n - 1].ts));
	}
	else
		nulls[3] = nulls[4] = 'n';
	values[5] = bt_jsonb(params_json);
	values[6] = bt_jsonb(metrics_json);
	values[7] = array_of(vid, n_versions, INT8OID);
	values[8] = CStringGetTextDatum(bt_caller_name());
	if (SPI_execute_with_args("INSERT INTO trading.backtests (symbol, timeframe, source, from_ts, to_ts, "
							  "params, metrics, version_ids, created_by) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
							  9, types, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "storing the backtest failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!store_curve || run->n == 0)
		return id;

	/* the equity curve, one row per bar, with its drawdown and the position held */
	{
		Oid			t2[6] = {TEXTOID, INT8OID, TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID};
		Datum		v2[6];
		Datum	   *ts = palloc(sizeof(Datum) * run->n);
		Datum	   *eq = palloc(sizeof(Datum) * run->n);
		Datum	   *dd = palloc(sizeof(Datum) * run->n);
		Datum	   *pos = palloc(sizeof(Datum) * run->n);
		double		peak = 1;
		size_t		k = 0;

		for (int64 i = 0; i < run->n; i++)
		{
			double		held = 0;

			/* the position held at the bar's close (trades in time order) */
			while (k < run->n_trades && run->trades[k].exit_bar < i)
				k++;
			if (k < run->n_trades && run->trades[k].entry_bar <= i && run->trades[k].exit_bar > i)
				held = run->trades[k].side * run->trades[k].size;
			if (run->equity[i] > peak)
				peak = run->equity[i];
			ts[i] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[run->from + i].ts));
			eq[i] = Float8GetDatum(run->equity[i]);
			dd[i] = Float8GetDatum(1 - run->equity[i] / peak);
			pos[i] = Float8GetDatum(held);
		}
		v2[0] = values[0];
		v2[1] = Int64GetDatum(id);
		v2[2] = array_of(ts, (int) run->n, TIMESTAMPTZOID);
		v2[3] = array_of(eq, (int) run->n, FLOAT8OID);
		v2[4] = array_of(dd, (int) run->n, FLOAT8OID);
		v2[5] = array_of(pos, (int) run->n, FLOAT8OID);
		if (SPI_execute_with_args("INSERT INTO trading.backtest_equity (symbol, backtest_id, \"timestamp\", "
								  "equity, drawdown, position) SELECT $1, $2, * FROM unnest($3, $4, $5, $6)",
								  6, t2, v2, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing the equity curve failed");
	}
	if (run->n_trades > 0)
	{
		int			nt = (int) run->n_trades;
		Oid			t3[13] = {TEXTOID, INT8OID, INT2ARRAYOID, FLOAT8ARRAYOID, TIMESTAMPTZARRAYOID,
			TIMESTAMPTZARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, TEXTARRAYOID, BOOLARRAYOID};
		Datum		v3[13];
		Datum	   *c[11];
		Oid			et[11] = {INT2OID, FLOAT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, FLOAT8OID, FLOAT8OID,
		FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, BOOLOID};

		for (int j = 0; j < 11; j++)
			c[j] = palloc(sizeof(Datum) * nt);
		for (int i = 0; i < nt; i++)
		{
			const FsSimTrade *t = &run->trades[i];

			c[0][i] = Int16GetDatum(t->side);
			c[1][i] = Float8GetDatum(t->size);
			c[2][i] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[run->from + t->entry_bar].ts));
			c[3][i] = TimestampTzGetDatum(fsmml_unix_to_ts(s->bars[run->from + t->exit_bar].ts));
			c[4][i] = Float8GetDatum(t->entry_price);
			c[5][i] = Float8GetDatum(t->exit_price);
			c[6][i] = Float8GetDatum(t->pnl);
			c[7][i] = Float8GetDatum(t->ret);
			c[8][i] = Float8GetDatum(t->fees);
			c[9][i] = CStringGetTextDatum(fs_sim_exit_name(t->exit));
			c[10][i] = BoolGetDatum(t->ambiguous != 0);
		}
		v3[0] = values[0];
		v3[1] = Int64GetDatum(id);
		for (int j = 0; j < 11; j++)
			v3[2 + j] = array_of(c[j], nt, et[j]);
		if (SPI_execute_with_args("INSERT INTO trading.backtest_trades (symbol, backtest_id, trade_no, side, "
								  "size, entry_ts, exit_ts, entry_price, exit_price, pnl, ret, fees, "
								  "exit_reason, ambiguous) SELECT $1, $2, row_number() OVER (), * "
								  "FROM unnest($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
								  13, t3, v3, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing the trades failed");
	}
	return id;
}
