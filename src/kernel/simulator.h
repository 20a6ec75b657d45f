/*
 * simulator.h — the bar simulator behind every backtest (pure C, no
 * PostgreSQL headers, no allocation: the caller passes every buffer).
 *
 * Input: bars in time order and one optional signal per bar.  A signal is a
 * desired position: side -1/0/+1, size (fraction of equity, NaN = 1), stop
 * and target prices (NaN = none).  Conventions (backtesting.py, vectorbt,
 * freqtrade):
 *   - a signal on bar i acts at the open of bar i + latency (latency >= 1):
 *     side 0 closes the position, the opposite side reverses it, the same
 *     side keeps the open position (its levels unchanged), any side enters
 *     when flat;
 *   - entry and exit prices are moved against the trade by slippage_bps; a
 *     fee of fee_bps is charged on the notional of every fill;
 *   - from the entry bar on, stop and target are checked against each
 *     bar's low/high; when both lie inside one bar the stop is taken
 *     (pessimistic) and the exit is counted as ambiguous; a bar that opens
 *     beyond a level (a gap) fills at its open;
 *   - one position per symbol; quantity = size x equity / entry price
 *     (compounding); an open position is closed at the last bar's close.
 * Equity starts at 1 and is marked at each bar's close.
 *
 * Metrics come from the equity curve resampled to UTC days (the last
 * equity of each day; the first day's return is against the starting
 * equity), annualised with periods_per_year (365 for markets that trade
 * every day, 252 otherwise).
 */
#ifndef FSMML_SIMULATOR_H
#define FSMML_SIMULATOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct FsSimBar
{
	int64_t		ts;				/* bar open time, Unix microseconds */
	double		open,
				high,
				low,
				close;
} FsSimBar;

typedef struct FsSimSignal
{
	int			present;		/* 0: no signal on this bar (keep what is held) */
	int			side;			/* -1, 0, 1 */
	double		size;			/* fraction of equity; NaN = 1 */
	double		sl;				/* stop price; NaN = none */
	double		tp;				/* target price; NaN = none */
} FsSimSignal;

typedef struct FsSimParams
{
	int			latency_bars;	/* >= 1; default 1 */
	double		fee_bps;		/* per fill, on notional; default 5 */
	double		slippage_bps;	/* per fill, against the trade; default 0 */
	double		periods_per_year;	/* 0 = guess: 365 when any bar falls on a weekend, else 252 */
} FsSimParams;

#define FS_SIM_PARAMS_DEFAULT {1, 5.0, 0.0, 0.0}

typedef enum FsSimExit
{
	FS_SIM_EXIT_SIGNAL,			/* a flat or opposite signal, at the open */
	FS_SIM_EXIT_SL,				/* stop inside the bar */
	FS_SIM_EXIT_TP,				/* target inside the bar */
	FS_SIM_EXIT_GAP_SL,			/* opened beyond the stop: filled at the open */
	FS_SIM_EXIT_GAP_TP,			/* opened beyond the target: filled at the open */
	FS_SIM_EXIT_END				/* still open at the last bar: its close */
} FsSimExit;

typedef struct FsSimTrade
{
	int64_t		entry_bar,
				exit_bar;		/* indexes into the bars */
	int			side;
	double		size;			/* fraction of equity at entry */
	double		entry_price,
				exit_price;		/* with slippage */
	double		pnl;			/* in equity units, fees included */
	double		ret;			/* pnl / equity at entry */
	double		fees;
	FsSimExit	exit;
	int			ambiguous;		/* both levels inside the exit bar */
} FsSimTrade;

typedef struct FsSimMetrics
{
	int64_t		bars;
	int64_t		days;			/* daily periods in the curve */
	double		periods_per_year;
	double		total_return;	/* final equity - 1 */
	double		ann_return;		/* (1 + total)^(ppy / days) - 1 */
	double		volatility;		/* sd(daily, ddof 1) x sqrt(ppy) */
	double		sharpe;			/* mean / sd x sqrt(ppy); NaN when < 2 days or sd = 0 */
	double		sortino;		/* mean / sqrt(mean(min(r,0)^2)) x sqrt(ppy); NaN without a losing day */
	double		calmar;			/* ann_return / max_drawdown; NaN when no drawdown */
	double		max_drawdown;	/* largest fall from a peak of the per-bar equity, fraction >= 0 */
	int64_t		max_dd_bars;	/* longest time under water, bars */
	double		max_dd_seconds;	/* the same in seconds (peak bar to recovery or last bar) */
	double		profit_factor;	/* gross profit / gross loss of trades; NaN when no loss */
	double		win_rate;		/* trades with pnl > 0 / trades; NaN without trades */
	double		expectancy;		/* mean trade ret; NaN without trades */
	double		avg_trade,
				best_trade,
				worst_trade;	/* trade ret; NaN without trades */
	int64_t		trades;
	int64_t		ambiguous_exits;
	double		exposure;		/* fraction of bars with a position held at the close */
	double		turnover;		/* traded notional / mean equity */
	double		fees;			/* fees paid, equity units */
	double		skew,
				kurtosis;		/* of daily returns (kurtosis not excess; NaN when < 3 days) */
} FsSimMetrics;

/* NULL when usable, else what is wrong. */
extern const char *fs_sim_params_invalid(const FsSimParams *p);

/*
 * Runs the simulation.  equity (n values, may be NULL) receives the curve,
 * trades (room for max_trades, may be NULL) the trades; *n_trades counts
 * every trade even beyond max_trades (metrics use all of them).  daily
 * (room for n values, may be NULL) receives the daily returns and *n_daily
 * their number.  Returns NULL, or a message for invalid input (bad
 * parameters, bars out of order, a non-positive or NaN price).
 */
extern const char *fs_simulate(const FsSimBar *bars, const FsSimSignal *sig, size_t n,
							   const FsSimParams *p, double *equity,
							   FsSimTrade *trades, size_t max_trades, size_t *n_trades,
							   double *daily, size_t *n_daily, FsSimMetrics *m);

extern const char *fs_sim_exit_name(FsSimExit e);

#endif							/* FSMML_SIMULATOR_H */
