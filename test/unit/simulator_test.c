/*
 * simulator_test.c — hand-computed cases of src/kernel/simulator.c: a fixed
 * price path with fixed signals (PnL, drawdown, Sharpe known), fees and
 * slippage, no trades, all losing, both levels in one bar, a gap through
 * the stop, latency.
 */
#include <math.h>
#include <stdio.h>

#include "sim_signals.h"
#include "simulator.h"

#define DAY INT64_C(86400000000)
/* 2024-01-01 (a Monday) 00:00 UTC */
#define T0 INT64_C(1704067200000000)

static int	failures = 0;

static void
check(const char *what, int cond)
{
	printf("%s - simulator: %s\n", cond ? "ok" : "not ok", what);
	failures += !cond;
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-9 * (1 + fabs(b));
}

static FsSimSignal
sg(int side, double size, double sl, double tp)
{
	FsSimSignal s = {1, side, size, sl, tp};

	return s;
}

#define NONE ((FsSimSignal) {0, 0, NAN, NAN, NAN})

static void
daily_bars(FsSimBar *b, const double (*ohlc)[4], int n)
{
	for (int i = 0; i < n; i++)
		b[i] = (FsSimBar) {T0 + i * DAY, ohlc[i][0], ohlc[i][1], ohlc[i][2], ohlc[i][3]};
}

int
main(void)
{
	FsSimParams p = FS_SIM_PARAMS_DEFAULT;
	FsSimBar	b[16];
	FsSimSignal s[16];
	FsSimTrade	t[8];
	double		eq[16],
				daily[16];
	size_t		nt,
				nd;
	FsSimMetrics m;

	/* 1. long on day 0, flat on day 2: entry at day 1's open 100, exit at day 3's open 104.5 */
	{
		static const double px[5][4] = {
			{100, 101, 99, 100}, {100, 111, 99, 110}, {110, 111, 98, 104.5},
			{104.5, 106, 103, 105}, {105, 106, 104, 105}};
		double		mean = 0.01,
					sd = sqrt(((.01 * .01) * 3 + .09 * .09 + .06 * .06) / 4);

		daily_bars(b, px, 5);
		s[0] = sg(1, NAN, NAN, NAN);
		s[1] = NONE;
		s[2] = sg(0, NAN, NAN, NAN);
		s[3] = s[4] = NONE;
		p.fee_bps = 0;
		check("valid run", fs_simulate(b, s, 5, &p, eq, t, 8, &nt, daily, &nd, &m) == NULL);
		check("one trade, entered day 1 at 100, left day 3 at 104.5 (signal)",
			  nt == 1 && t[0].entry_bar == 1 && t[0].exit_bar == 3 && near(t[0].entry_price, 100) &&
			  near(t[0].exit_price, 104.5) && t[0].exit == FS_SIM_EXIT_SIGNAL);
		check("equity curve 1, 1.1, 1.045, 1.045, 1.045",
			  near(eq[0], 1) && near(eq[1], 1.1) && near(eq[2], 1.045) && near(eq[3], 1.045) && near(eq[4], 1.045));
		check("daily returns 0, .1, -.05, 0, 0",
			  nd == 5 && near(daily[1], .1) && near(daily[2], -.05) && near(daily[4], 0));
		check("total return 4.5 %", near(m.total_return, 0.045));
		check("max drawdown 1 - 1.045/1.1, under water from day 1 to the end (3 bars, 3 days)",
			  near(m.max_drawdown, 1 - 1.045 / 1.1) && m.max_dd_bars == 3 && near(m.max_dd_seconds, 3 * 86400));
		check("no weekend bar: 252 periods per year", m.periods_per_year == 252);
		check("Sharpe = mean/sd x sqrt(252)", near(m.sharpe, mean / sd * sqrt(252)));
		check("Sortino = mean / sqrt(.05^2/5) x sqrt(252)", near(m.sortino, mean / sqrt(.0025 / 5) * sqrt(252)));
		check("volatility = sd x sqrt(252)", near(m.volatility, sd * sqrt(252)));
		check("annualised return 1.045^(252/5) - 1", near(m.ann_return, pow(1.045, 252.0 / 5) - 1));
		check("Calmar = annualised return / max drawdown", near(m.calmar, m.ann_return / m.max_drawdown));
		check("one winning trade: win rate 1, profit factor undefined, best = worst = 4.5 %",
			  m.trades == 1 && near(m.win_rate, 1) && isnan(m.profit_factor) &&
			  near(m.best_trade, .045) && near(m.worst_trade, .045) && near(m.expectancy, .045));
		check("exposure 2 of 5 bars", near(m.exposure, 0.4));
		check("no fees", m.fees == 0 && m.ambiguous_exits == 0);

		/* the same with 10 bps fees and 10 bps slippage */
		p.fee_bps = 10;
		p.slippage_bps = 10;
		fs_simulate(b, s, 5, &p, eq, t, 8, &nt, NULL, NULL, &m);
		{
			double		in = 100 * 1.001,
						qty = 1 / in,
						out = 104.5 * 0.999,
						fees = 0.001 + qty * out * 0.001;

			check("fees and slippage: entry 100.1, exit 104.3955",
				  near(t[0].entry_price, in) && near(t[0].exit_price, out));
			check("fees and slippage: final equity and fees paid",
				  near(eq[4], 1 + qty * (out - in) - fees) && near(m.fees, fees) && near(t[0].fees, fees));
			check("turnover = traded notional / mean equity",
				  near(m.turnover, (1 + qty * out) / ((eq[0] + eq[1] + eq[2] + eq[3] + eq[4]) / 5)));
		}
		p.fee_bps = 0;
		p.slippage_bps = 0;

		/* latency 2: entry at day 2's open 110, exit at day 4's open 105 */
		p.latency_bars = 2;
		fs_simulate(b, s, 5, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("latency 2: entry at day 2's open, exit at day 4's",
			  nt == 1 && t[0].entry_bar == 2 && t[0].exit_bar == 4 && near(m.total_return, 105.0 / 110 - 1));
		p.latency_bars = 1;
	}

	/* 2. no trades */
	{
		static const double px[3][4] = {{100, 101, 99, 100}, {100, 102, 98, 101}, {101, 103, 100, 102}};

		daily_bars(b, px, 3);
		s[0] = s[1] = s[2] = NONE;
		fs_simulate(b, s, 3, &p, eq, t, 8, &nt, daily, &nd, &m);
		check("no trades: flat equity, zero return, no drawdown",
			  nt == 0 && m.trades == 0 && m.total_return == 0 && m.max_drawdown == 0 && near(eq[2], 1));
		check("no trades: Sharpe, win rate, profit factor undefined, exposure 0",
			  isnan(m.sharpe) && isnan(m.win_rate) && isnan(m.profit_factor) && m.exposure == 0 && isnan(m.calmar));
		check("no signals at all (NULL) is the same",
			  fs_simulate(b, NULL, 3, &p, NULL, NULL, 0, &nt, NULL, NULL, &m) == NULL && nt == 0);
	}

	/* 3. all losing: long stopped at 95, short stopped at 105 */
	{
		static const double px[6][4] = {
			{100, 100, 100, 100}, {100, 101, 94, 96}, {96, 100, 95, 100},
			{100, 106, 99, 104}, {104, 105, 103, 104}, {104, 105, 103, 104}};

		daily_bars(b, px, 6);
		for (int i = 0; i < 6; i++)
			s[i] = NONE;
		s[0] = sg(1, 0.5, 95, 200);
		s[2] = sg(-1, 1, 105, 50);
		fs_simulate(b, s, 6, &p, eq, t, 8, &nt, NULL, NULL, &m);
		{
			double		e1 = 1 - 0.5 * 0.05;				/* long half the equity, 100 -> 95 */
			double		e2 = e1 * (1 - 0.05);				/* short all of it, 100 -> 105 */

			check("long half-size stopped inside bar 1 at 95",
				  nt == 2 && t[0].exit == FS_SIM_EXIT_SL && near(t[0].exit_price, 95) && near(t[0].ret, -0.025));
			check("short stopped inside bar 3 at 105",
				  t[1].side == -1 && t[1].exit == FS_SIM_EXIT_SL && near(t[1].exit_price, 105) && near(t[1].ret, -0.05));
			check("all losing: win rate 0, profit factor 0, final equity .975 x .95",
				  near(m.win_rate, 0) && near(m.profit_factor, 0) && near(eq[5], e2) && near(m.total_return, e2 - 1));
			check("all losing: drawdown 1 - e2, best trade -2.5 %, worst -5 %",
				  near(m.max_drawdown, 1 - e2) && near(m.best_trade, -0.025) && near(m.worst_trade, -0.05));
		}
	}

	/* 4. both levels inside one bar: the stop, counted as ambiguous */
	{
		static const double px[3][4] = {{100, 100, 100, 100}, {100, 106, 94, 101}, {101, 102, 100, 101}};

		daily_bars(b, px, 3);
		s[0] = sg(1, 1, 95, 105);
		s[1] = s[2] = NONE;
		fs_simulate(b, s, 3, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("both levels in one bar: stop first (pessimistic), ambiguous",
			  nt == 1 && t[0].exit == FS_SIM_EXIT_SL && near(t[0].exit_price, 95) && t[0].ambiguous &&
			  m.ambiguous_exits == 1 && near(m.total_return, -0.05));
		/* only the target inside: tp */
		b[1].low = 96;
		fs_simulate(b, s, 3, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("target only: exit at 105, not ambiguous",
			  nt == 1 && t[0].exit == FS_SIM_EXIT_TP && near(t[0].exit_price, 105) && !t[0].ambiguous &&
			  m.ambiguous_exits == 0 && isnan(m.profit_factor));
	}

	/* 5. a gap through the stop fills at the open */
	{
		static const double px[4][4] = {
			{100, 100, 100, 100}, {100, 101, 99, 100}, {90, 92, 89, 91}, {91, 92, 90, 91}};

		daily_bars(b, px, 4);
		s[0] = sg(1, 1, 95, 120);
		s[1] = s[2] = s[3] = NONE;
		fs_simulate(b, s, 4, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("gap through the stop: filled at the open 90, not at 95",
			  nt == 1 && t[0].exit == FS_SIM_EXIT_GAP_SL && near(t[0].exit_price, 90) && near(m.total_return, -0.10));
		/* a short gapping through its target fills at the open too */
		s[0] = sg(-1, 1, 110, 95);
		fs_simulate(b, s, 4, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("gap through a short's target: filled at the open 90",
			  nt == 1 && t[0].exit == FS_SIM_EXIT_GAP_TP && near(t[0].exit_price, 90) && near(m.total_return, 0.10));
	}

	/* 6. a position still open at the end is closed at the last close; weekend bars: 365 */
	{
		FsSimBar	w[9];

		for (int i = 0; i < 9; i++)
			w[i] = (FsSimBar) {T0 + i * DAY, 100 + i, 100 + i, 100 + i, 100 + i};
		for (int i = 0; i < 9; i++)
			s[i] = NONE;
		s[0] = sg(1, 1, NAN, NAN);
		fs_simulate(w, s, 9, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("open at the end: closed at the last close (end)",
			  nt == 1 && t[0].exit == FS_SIM_EXIT_END && near(t[0].exit_price, 108) && near(m.total_return, 108.0 / 101 - 1));
		check("bars on a weekend: 365 periods per year", m.periods_per_year == 365);
		p.periods_per_year = 300;
		fs_simulate(w, s, 9, &p, eq, t, 8, &nt, NULL, NULL, &m);
		check("periods_per_year overrides", m.periods_per_year == 300);
		p.periods_per_year = 0;
	}

	/* 7. intraday bars resample to days */
	{
		FsSimBar	h[6];

		for (int i = 0; i < 6; i++)
			h[i] = (FsSimBar) {T0 + i * (DAY / 2), 100, 100, 100, 100};
		h[3] = (FsSimBar) {T0 + 3 * (DAY / 2), 100, 110, 100, 110};
		h[4] = (FsSimBar) {T0 + 4 * (DAY / 2), 110, 110, 110, 110};
		h[5] = (FsSimBar) {T0 + 5 * (DAY / 2), 110, 110, 110, 110};
		for (int i = 0; i < 6; i++)
			s[i] = NONE;
		s[2] = sg(1, 1, NAN, NAN);
		fs_simulate(h, s, 6, &p, eq, t, 8, &nt, daily, &nd, &m);
		check("12-hour bars: 3 daily returns 0, .1, 0", nd == 3 && near(daily[0], 0) && near(daily[1], .1) && near(daily[2], 0));
	}

	/* 8. invalid input */
	{
		FsSimParams bad = FS_SIM_PARAMS_DEFAULT;

		bad.latency_bars = 0;
		check("latency 0 (look-ahead) refused", fs_simulate(b, s, 3, &bad, NULL, NULL, 0, &nt, NULL, NULL, &m) != NULL);
		b[1].ts = b[0].ts;
		check("unordered bars refused", fs_simulate(b, s, 3, &p, NULL, NULL, 0, &nt, NULL, NULL, &m) != NULL);
	}

	/* 9. Wilder ATR(2) and the signals made from probabilities (ExecRules) and from states */
	{
		static const double px[5][4] = {
			{10, 11, 9, 10}, {10, 12, 10, 11}, {11, 11, 8, 9}, {9, 10, 9, 10}, {10, 10, 10, 10}};
		double		atr[5],
					prob[5] = {NAN, 0.6, 0.5, 0.3, 0.9};
		FsSimSignal g[5];
		FsExecRules r = FS_EXEC_RULES_DEFAULT;
		FsFsmState st[5] = {FS_FSM_UNKNOWN, FS_FSM_TREND_UP, FS_FSM_EXPANSION, FS_FSM_TREND_DOWN, FS_FSM_NEUTRAL};

		daily_bars(b, px, 5);
		fs_atr_wilder(b, 5, 2, atr);
		/* TR: -, 2, 3, 1, 0; ATR(2) at index 2 = (2 + 3)/2 = 2.5, then (2.5 + 1)/2 = 1.75, (1.75 + 0)/2 = .875 */
		check("Wilder ATR(2): NaN, NaN, 2.5, 1.75, 0.875",
			  isnan(atr[0]) && isnan(atr[1]) && near(atr[2], 2.5) && near(atr[3], 1.75) && near(atr[4], 0.875));
		check("ExecRules signals: one per probability (4), none for the NaN",
			  fs_signals_from_probs(b, prob, NULL, atr, 5, &r, g) == 4 && !g[0].present);
		check("prob .6 without ATR: present but flat (no stop distance)", g[1].present && g[1].side == 0);
		check("prob .5: flat", g[2].side == 0);
		/* short at close 10, ATR 1.75: stop 10 + 1.5 x 1.75, target 10 - 2 x 1.75, size .01 / (2.625/10) */
		check("prob .3: short, stop 12.625, target 6.5, size 0.0381",
			  g[3].side == -1 && near(g[3].sl, 12.625) && near(g[3].tp, 6.5) && near(g[3].size, 0.01 / 0.2625));
		fs_signals_from_states(b, st, atr, 5, 2.0, g);
		check("state signals: unknown none, trend_up long, an expansion closing down short, trend_down short, neutral flat",
			  !g[0].present && g[1].side == 1 && g[2].side == -1 && g[3].side == -1 && g[4].side == 0);
		check("state signals: trend_down stop 2 ATR above the close", near(g[3].sl, 10 + 2 * 1.75));
	}

	printf("# simulator: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
