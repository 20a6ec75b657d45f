/*
 * simulator.c — the bar simulator and its metrics (simulator.h).
 */
#include "simulator.h"

#include <math.h>

#define USEC_PER_DAY INT64_C(86400000000)

const char *
fs_sim_params_invalid(const FsSimParams *p)
{
	if (p->latency_bars < 1 || p->latency_bars > 1000)
		return "latency_bars must lie between 1 and 1000";
	if (!(p->fee_bps >= 0 && p->fee_bps < 1e4))
		return "fee_bps must lie in [0, 10000)";
	if (!(p->slippage_bps >= 0 && p->slippage_bps < 1e4))
		return "slippage_bps must lie in [0, 10000)";
	if (!(p->periods_per_year >= 0 && p->periods_per_year <= 1e6))
		return "periods_per_year must lie in (0, 1000000] (0 = guess)";
	return NULL;
}

const char *
fs_sim_exit_name(FsSimExit e)
{
	switch (e)
	{
		case FS_SIM_EXIT_SIGNAL:
			return "signal";
		case FS_SIM_EXIT_SL:
			return "sl";
		case FS_SIM_EXIT_TP:
			return "tp";
		case FS_SIM_EXIT_GAP_SL:
			return "gap_sl";
		case FS_SIM_EXIT_GAP_TP:
			return "gap_tp";
		case FS_SIM_EXIT_END:
			return "end";
	}
	return "?";
}

/* floor division: the UTC day of a timestamp, also before 1970 */
static int64_t
day_of(int64_t ts)
{
	return ts >= 0 ? ts / USEC_PER_DAY : -((-ts + USEC_PER_DAY - 1) / USEC_PER_DAY);
}

/* Online moments of the daily returns (Terriberry's update). */
typedef struct Moments
{
	int64_t		n;
	double		mean,
				m2,
				m3,
				m4,
				down2;			/* sum of min(r, 0)^2 */
} Moments;

static void
moments_add(Moments *s, double x)
{
	int64_t		n1 = s->n;
	double		n,
				delta,
				dn,
				dn2,
				t1;

	s->n++;
	n = (double) s->n;
	delta = x - s->mean;
	dn = delta / n;
	dn2 = dn * dn;
	t1 = delta * dn * (double) n1;
	s->mean += dn;
	s->m4 += t1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * s->m2 - 4 * dn * s->m3;
	s->m3 += t1 * dn * (n - 2) - 3 * dn * s->m2;
	s->m2 += t1;
	if (x < 0)
		s->down2 += x * x;
}

typedef struct Position
{
	int			side;			/* 0 flat */
	int64_t		entry_bar;
	double		size,
				qty,
				entry_price,
				entry_equity,
				sl,
				tp,
				fees;
} Position;

typedef struct SimState
{
	const FsSimParams *p;
	double		cash;			/* equity when flat */
	Position	pos;
	FsSimTrade *trades;
	size_t		max_trades;
	size_t		n_trades;
	double		fees,
				notional,
				gross_win,
				gross_loss,
				sum_ret,
				best,
				worst;
	int64_t		wins,
				ambiguous;
} SimState;

static void
close_position(SimState *s, int64_t bar, double raw_price, FsSimExit why, int ambiguous)
{
	Position   *q = &s->pos;
	double		px = raw_price * (1 - q->side * s->p->slippage_bps / 1e4);
	double		fee = q->qty * px * s->p->fee_bps / 1e4;
	double		pnl;

	s->cash += q->side * q->qty * (px - q->entry_price) - fee;
	s->fees += fee;
	s->notional += q->qty * px;
	q->fees += fee;
	pnl = q->side * q->qty * (px - q->entry_price) - q->fees;
	if (s->n_trades < s->max_trades)
	{
		FsSimTrade *t = &s->trades[s->n_trades];

		t->entry_bar = q->entry_bar;
		t->exit_bar = bar;
		t->side = q->side;
		t->size = q->size;
		t->entry_price = q->entry_price;
		t->exit_price = px;
		t->pnl = pnl;
		t->ret = pnl / q->entry_equity;
		t->fees = q->fees;
		t->exit = why;
		t->ambiguous = ambiguous;
	}
	s->n_trades++;
	if (pnl > 0)
	{
		s->gross_win += pnl;
		s->wins++;
	}
	else
		s->gross_loss -= pnl;
	s->sum_ret += pnl / q->entry_equity;
	if (s->n_trades == 1 || pnl / q->entry_equity > s->best)
		s->best = pnl / q->entry_equity;
	if (s->n_trades == 1 || pnl / q->entry_equity < s->worst)
		s->worst = pnl / q->entry_equity;
	s->ambiguous += ambiguous;
	q->side = 0;
}

static void
open_position(SimState *s, int64_t bar, double open, const FsSimSignal *g)
{
	Position   *q = &s->pos;
	double		size = isnan(g->size) ? 1.0 : g->size;
	double		px,
				fee;

	if (!(size > 0) || !isfinite(size))
		return;
	px = open * (1 + g->side * s->p->slippage_bps / 1e4);
	q->side = g->side;
	q->entry_bar = bar;
	q->size = size;
	q->entry_equity = s->cash;
	q->qty = size * s->cash / px;
	q->entry_price = px;
	q->sl = g->sl;
	q->tp = g->tp;
	fee = q->qty * px * s->p->fee_bps / 1e4;
	q->fees = fee;
	s->cash -= fee;
	s->fees += fee;
	s->notional += q->qty * px;
}

/* Stop and target against one bar; the stop first when both are inside. */
static void
check_levels(SimState *s, int64_t j, const FsSimBar *b)
{
	Position   *q = &s->pos;
	int			d = q->side;
	int			has_sl = !isnan(q->sl),
				has_tp = !isnan(q->tp);
	int			sl_hit,
				tp_hit;

	if (d == 0)
		return;
	/* a bar opening beyond a level fills there, at the open */
	if (has_sl && d * (b->open - q->sl) <= 0)
	{
		close_position(s, j, b->open, FS_SIM_EXIT_GAP_SL, 0);
		return;
	}
	if (has_tp && d * (b->open - q->tp) >= 0)
	{
		close_position(s, j, b->open, FS_SIM_EXIT_GAP_TP, 0);
		return;
	}
	sl_hit = has_sl && (d > 0 ? b->low <= q->sl : b->high >= q->sl);
	tp_hit = has_tp && (d > 0 ? b->high >= q->tp : b->low <= q->tp);
	if (sl_hit)
		close_position(s, j, q->sl, FS_SIM_EXIT_SL, tp_hit);
	else if (tp_hit)
		close_position(s, j, q->tp, FS_SIM_EXIT_TP, 0);
}

const char *
fs_simulate(const FsSimBar *bars, const FsSimSignal *sig, size_t n,
			const FsSimParams *p, double *equity,
			FsSimTrade *trades, size_t max_trades, size_t *n_trades,
			double *daily, size_t *n_daily, FsSimMetrics *m)
{
	const char *bad = fs_sim_params_invalid(p);
	SimState	s = {0};
	Moments		mo = {0};
	double		ppy = p->periods_per_year;
	double		peak = 1.0,
				eq = 1.0,
				day_start_eq = 1.0,
				sum_eq = 0,
				max_dd = 0;
	int64_t		peak_bar = 0,
				max_dd_bars = 0,
				held = 0;
	double		max_dd_sec = 0;
	int64_t		cur_day = 0;
	size_t		nd = 0;
	int			weekend = 0;

	if (bad)
		return bad;
	for (size_t i = 0; i < n; i++)
	{
		const FsSimBar *b = &bars[i];
		int64_t		wd;

		if (!(b->open > 0 && b->high > 0 && b->low > 0 && b->close > 0) ||
			!isfinite(b->open + b->high + b->low + b->close))
			return "every price must be positive and finite";
		if (b->high < b->low || b->open > b->high || b->open < b->low ||
			b->close > b->high || b->close < b->low)
			return "open and close must lie within [low, high]";
		if (i > 0 && b->ts <= bars[i - 1].ts)
			return "bars must be in strictly increasing time order";
		if (sig && sig[i].present && sig[i].side != -1 && sig[i].side != 0 && sig[i].side != 1)
			return "a signal's side must be -1, 0 or 1";
		wd = (day_of(b->ts) + 4) % 7;	/* 1970-01-01 was a Thursday: 0 = Sunday */
		if (wd < 0)
			wd += 7;
		if (wd == 0 || wd == 6)
			weekend = 1;
	}
	if (ppy == 0)
		ppy = weekend ? 365.0 : 252.0;

	s.p = p;
	s.cash = 1.0;
	s.trades = trades;
	s.max_trades = trades ? max_trades : 0;
	if (n > 0)
		cur_day = day_of(bars[0].ts);

	for (size_t j = 0; j < n; j++)
	{
		const FsSimBar *b = &bars[j];
		double		under;

		/* the signal of bar j - latency acts at this open */
		if (sig && j >= (size_t) p->latency_bars && sig[j - p->latency_bars].present)
		{
			const FsSimSignal *g = &sig[j - p->latency_bars];

			if (s.pos.side != 0 && g->side != s.pos.side)
				close_position(&s, (int64_t) j, b->open, FS_SIM_EXIT_SIGNAL, 0);
			if (s.pos.side == 0 && g->side != 0)
				open_position(&s, (int64_t) j, b->open, g);
		}
		check_levels(&s, (int64_t) j, b);
		if (s.pos.side != 0)
			held++;
		if (s.pos.side != 0 && j == n - 1)
			close_position(&s, (int64_t) j, b->close, FS_SIM_EXIT_END, 0);

		eq = s.cash + (s.pos.side ? s.pos.side * s.pos.qty * (b->close - s.pos.entry_price) : 0);
		if (equity)
			equity[j] = eq;
		sum_eq += eq;

		if (eq >= peak)
		{
			peak = eq;
			peak_bar = (int64_t) j;
		}
		under = 1 - eq / peak;
		if (under > max_dd)
			max_dd = under;
		if (under > 0 && (int64_t) j - peak_bar > max_dd_bars)
		{
			max_dd_bars = (int64_t) j - peak_bar;
			max_dd_sec = (double) (b->ts - bars[peak_bar].ts) / 1e6;
		}

		/* the day ends at the last bar of each UTC day */
		if (j == n - 1 || day_of(bars[j + 1].ts) != cur_day)
		{
			double		r = eq / day_start_eq - 1;

			if (daily)
				daily[nd] = r;
			nd++;
			moments_add(&mo, r);
			day_start_eq = eq;
			if (j + 1 < n)
				cur_day = day_of(bars[j + 1].ts);
		}
	}
	if (n_trades)
		*n_trades = s.n_trades;
	if (n_daily)
		*n_daily = nd;

	m->bars = (int64_t) n;
	m->days = (int64_t) nd;
	m->periods_per_year = ppy;
	m->total_return = eq - 1;
	m->ann_return = nd > 0 && eq > 0 ? pow(eq, ppy / (double) nd) - 1 : NAN;
	{
		double		var = mo.n > 1 ? mo.m2 / (double) (mo.n - 1) : NAN;
		double		sd = sqrt(var);

		m->volatility = mo.n > 1 ? sd * sqrt(ppy) : NAN;
		m->sharpe = mo.n > 1 && sd > 1e-15 ? mo.mean / sd * sqrt(ppy) : NAN;
		m->sortino = mo.down2 > 0 ? mo.mean / sqrt(mo.down2 / (double) mo.n) * sqrt(ppy) : NAN;
		if (mo.n > 2 && mo.m2 > 0)
		{
			double		pv = mo.m2 / (double) mo.n;	/* population moments */

			m->skew = (mo.m3 / (double) mo.n) / pow(pv, 1.5);
			m->kurtosis = (mo.m4 / (double) mo.n) / (pv * pv);
		}
		else
			m->skew = m->kurtosis = NAN;
	}
	m->max_drawdown = max_dd;
	m->max_dd_bars = max_dd_bars;
	m->max_dd_seconds = max_dd_sec;
	m->calmar = max_dd > 0 ? m->ann_return / max_dd : NAN;
	m->trades = (int64_t) s.n_trades;
	m->ambiguous_exits = s.ambiguous;
	m->profit_factor = s.gross_loss > 0 ? s.gross_win / s.gross_loss : NAN;
	if (s.n_trades > 0)
	{
		m->win_rate = (double) s.wins / (double) s.n_trades;
		m->expectancy = m->avg_trade = s.sum_ret / (double) s.n_trades;
		m->best_trade = s.best;
		m->worst_trade = s.worst;
	}
	else
		m->win_rate = m->expectancy = m->avg_trade = m->best_trade = m->worst_trade = NAN;
	m->exposure = n > 0 ? (double) held / (double) n : NAN;
	m->turnover = n > 0 && sum_eq > 0 ? s.notional / (sum_eq / (double) n) : NAN;
	m->fees = s.fees;
	return NULL;
}
