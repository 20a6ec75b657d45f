/*
 * report.c — fsmml_report: one self-contained HTML page about a series.
 *
 * Inline SVG only (no script, no external font or stylesheet), every value
 * from the database HTML-escaped.  Each chart is an <svg class="chart"
 * data-chart="NAME">; a chart without data says "no data yet" inside its
 * SVG.  The window is the last `days` days before the series' last bar.
 * Bars are read with the caller's rights (data/bars.c); the rest from
 * fsmml's tables in owner mode.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "backtest.h"
#include "bars.h"
#include "dataset.h"
#include "fsmml.h"
#include "serve.h"
#include "statefsm.h"
#include "svg.h"
#include "xgb.h"

PG_FUNCTION_INFO_V1(fsmml_report);

/* ---------------------------------------------------------------- data helpers */

static int
spi_rows(const char *sql, const char *symbol, const char *timeframe, TimestampTz from, TimestampTz to)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4] = {CStringGetTextDatum(symbol), CStringGetTextDatum(timeframe),
	TimestampTzGetDatum(from), TimestampTzGetDatum(to)};

	if (SPI_execute_with_args(sql, 4, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "report query failed: %s", sql);
	return (int) SPI_processed;
}

static double
fval(int r, int c)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

static int64
tval(int r, int c)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c, &isnull);

	return isnull ? 0 : fsmml_ts_to_unix(DatumGetTimestampTz(d));
}

static char *
sval(int r, int c)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c);

	return v ? v : "";
}

/* ---------------------------------------------------------------- panels */

typedef struct Ctx
{
	StringInfo	s;
	const char *symbol;
	const char *timeframe;
	FsmmlBars  *bars;			/* every bar up to the last */
	int64		b0;				/* first bar of the window */
	TimestampTz from,
				to;
} Ctx;

static void
panel_price(Ctx *c)
{
	int64		n = c->bars->n - c->b0;
	double	   *x = palloc(sizeof(double) * Max(n, 1));
	double	   *y = palloc(sizeof(double) * Max(n, 1));
	SvgFrame		f;
	int			ns;
	int			counts[3] = {0, 0, 0};

	for (int64 i = 0; i < n; i++)
	{
		x[i] = (double) c->bars->bars[c->b0 + i].ts;
		y[i] = c->bars->bars[c->b0 + i].close;
	}
	if (n < 2)
	{
		svg_empty(c->s, "price", "Price and signals", "fewer than two bars in the window");
		return;
	}
	svg_frame_of(&f, x, y, (int) n, false);
	svg_open(c->s, "price", "Price (close) and signals");
	svg_axes(c->s, &f, true, "time (UTC)", "close", 6);
	svg_polyline(c->s, &f, x, y, (int) n, "price");
	ns = spi_rows("SELECT \"timestamp\", side::float8 FROM trading.agentsignals WHERE symbol = $1 AND timeframe = $2 "
				  "AND \"timestamp\" BETWEEN $3 AND $4 ORDER BY 1 DESC LIMIT 2000",
				  c->symbol, c->timeframe, c->from, c->to);
	for (int r = 0; r < ns; r++)
	{
		int64		t = tval(r, 1);
		int			side = (int) fval(r, 2);
		int64		lo = c->b0,
					hi = c->bars->n - 1;
		double		cx,
					cy;

		/* the bar at or before the signal */
		while (lo < hi)
		{
			int64		mid = (lo + hi + 1) / 2;

			if (c->bars->bars[mid].ts <= t)
				lo = mid;
			else
				hi = mid - 1;
		}
		cx = svg_px(&f, (double) t);
		cy = svg_py(&f, c->bars->bars[lo].close);
		counts[side + 1]++;
		if (side > 0)
			appendStringInfo(c->s, "<path class=\"long\" d=\"M%.1f %.1fl-5 9h10z\"/>", cx, cy + 3);
		else if (side < 0)
			appendStringInfo(c->s, "<path class=\"short\" d=\"M%.1f %.1fl-5 -9h10z\"/>", cx, cy - 3);
		else
			appendStringInfo(c->s, "<circle class=\"flat\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", cx, cy);
	}
	appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" class=\"legend\">signals: %d long (▲), %d short (▼), %d flat (●)%s</text>",
					 ML + 8, 14, counts[2], counts[0], counts[1],
					 ns == 0 ? " — none in trading.agentsignals yet" : "");
	appendStringInfoString(c->s, "</svg></section>\n");
}

static void
panel_backtest(Ctx *c)
{
	int			n;
	int64		id = 0;
	double	   *x,
			   *eq,
			   *dd;
	char	   *title;

	n = spi_rows("SELECT id::float8, source, metrics->>'total_return', metrics->>'sharpe', metrics->>'max_drawdown', "
				 "metrics->>'trades', metrics->>'ambiguous_exits', to_char(from_ts, 'YYYY-MM-DD'), "
				 "to_char(to_ts, 'YYYY-MM-DD') FROM trading.backtests "
				 "WHERE symbol = $1 AND timeframe = $2 AND $3 <= $4 ORDER BY id DESC LIMIT 1",
				 c->symbol, c->timeframe, c->from, c->to);
	if (n == 0)
	{
		svg_empty(c->s, "equity", "Equity curve of the latest backtest", "no backtest of this series (fsmml_backtest)");
		svg_empty(c->s, "drawdown", "Drawdown of the latest backtest", "no backtest of this series (fsmml_backtest)");
		return;
	}
	id = (int64) fval(0, 1);
	title = psprintf("Equity of backtest %lld (%s, %s to %s): return %s, Sharpe %s, max drawdown %s, %s trades, %s ambiguous exits",
					 (long long) id, sval(0, 2), sval(0, 8), sval(0, 9),
					 svg_num(atof(sval(0, 3)), 3), svg_num(atof(sval(0, 4)), 3), svg_num(atof(sval(0, 5)), 3),
					 sval(0, 6), sval(0, 7));
	{
		Oid			types[2] = {TEXTOID, INT8OID};
		Datum		values[2] = {CStringGetTextDatum(c->symbol), Int64GetDatum(id)};

		if (SPI_execute_with_args("SELECT \"timestamp\", equity, drawdown FROM trading.backtest_equity "
								  "WHERE symbol = $1 AND backtest_id = $2 ORDER BY 1",
								  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading the equity curve failed");
	}
	n = (int) SPI_processed;
	x = palloc(sizeof(double) * Max(n, 1));
	eq = palloc(sizeof(double) * Max(n, 1));
	dd = palloc(sizeof(double) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		x[r] = (double) tval(r, 1);
		eq[r] = fval(r, 2);
		dd[r] = -100 * fval(r, 3);
	}
	svg_line_chart(c->s, "equity", title, x, eq, n, "equity (start = 1)", false, "equity",
			   "the latest backtest stored no equity curve");
	svg_line_chart(c->s, "drawdown", "Drawdown of the same backtest", x, dd, n, "drawdown (%)", true, "dd",
			   "the latest backtest stored no equity curve");
}

static const char *const state_names[] = {"neutral", "compression", "absorption", "expansion",
"trend_up", "trend_down", "exhaustion"};

static void
panel_states(Ctx *c)
{
	int			n = spi_rows("SELECT state, count(*)::float8 FROM trading.state_history WHERE symbol = $1 "
							 "AND timeframe = $2 AND \"timestamp\" BETWEEN $3 AND $4 GROUP BY 1 ORDER BY 2 DESC",
							 c->symbol, c->timeframe, c->from, c->to);
	char	  **lab = palloc(sizeof(char *) * Max(n, 1));
	double	   *v = palloc(sizeof(double) * Max(n, 1));

	for (int r = 0; r < n; r++)
	{
		lab[r] = pstrdup(sval(r, 1));
		v[r] = fval(r, 2);
	}
	svg_bar_chart(c->s, "states", "State distribution (bars per state, trading.state_history)", lab, v, n,
			  "bars", "no rows in trading.state_history for this window");
}

static void
panel_transitions(Ctx *c)
{
	int			n = spi_rows("SELECT from_state, to_state, count(*)::float8 FROM trading.transitions WHERE symbol = $1 "
							 "AND timeframe = $2 AND \"timestamp\" BETWEEN $3 AND $4 GROUP BY 1, 2",
							 c->symbol, c->timeframe, c->from, c->to);
	double		m[FS_FSM_NSTATES][FS_FSM_NSTATES] = {{0}};
	double		mx = 0;
	int			cw = 80,
				ch = 24,
				x0 = 200,
				y0 = 30;

	if (n == 0)
	{
		svg_empty(c->s, "transitions", "State transitions (from row to column)",
				  "no rows in trading.transitions for this window");
		return;
	}
	for (int r = 0; r < n; r++)
	{
		FsFsmState a = fs_fsm_state_from_name(sval(r, 1)),
					b = fs_fsm_state_from_name(sval(r, 2));

		if (a >= 0 && b >= 0)
		{
			m[a][b] += fval(r, 3);
			mx = fmax(mx, m[a][b]);
		}
	}
	svg_open(c->s, "transitions", "State transitions (count, from row to column)");
	for (int j = 0; j < FS_FSM_NSTATES; j++)
		appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>",
						 x0 + j * cw + cw / 2, y0 - 8, state_names[j]);
	for (int i = 0; i < FS_FSM_NSTATES; i++)
	{
		appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"tick\">%s</text>",
						 x0 - 8, y0 + i * ch + ch / 2 + 4, state_names[i]);
		for (int j = 0; j < FS_FSM_NSTATES; j++)
		{
			double		a = mx > 0 ? m[i][j] / mx : 0;

			appendStringInfo(c->s, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
							 "fill=\"rgb(%d,%d,%d)\" class=\"cell\"/>",
							 x0 + j * cw, y0 + i * ch, cw - 2, ch - 2,
							 (int) (255 - 200 * a), (int) (255 - 120 * a), 255);
			if (m[i][j] > 0)
				appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%.0f</text>",
								 x0 + j * cw + cw / 2, y0 + i * ch + ch / 2 + 4, m[i][j]);
		}
	}
	appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" class=\"atitle\">to state →</text>"
					 "<text x=\"12\" y=\"%d\" class=\"atitle\">from state ↓</text></svg></section>\n",
					 x0 + 7 * cw + 10, y0 - 8, y0 + 10);
}

static void
panel_effort(Ctx *c)
{
	int			n = spi_rows("SELECT effort, result, state FROM trading.state_history WHERE symbol = $1 "
							 "AND timeframe = $2 AND \"timestamp\" BETWEEN $3 AND $4 AND effort IS NOT NULL "
							 "AND result IS NOT NULL ORDER BY \"timestamp\" DESC LIMIT 1500",
							 c->symbol, c->timeframe, c->from, c->to);
	double	   *x,
			   *y;
	const char *src = "trading.state_history";
	SvgFrame		f;

	if (n > 0)
	{
		x = palloc(sizeof(double) * n);
		y = palloc(sizeof(double) * n);
		for (int r = 0; r < n; r++)
		{
			x[r] = fval(r, 1);
			y[r] = fval(r, 2);
		}
	}
	else
	{
		/* no state history yet: the state metrics from the feature kernel over the bars */
		List	   *names = list_make2(pstrdup("effort"), pstrdup("result"));
		FsmmlDataset *ds;
		int64		a = Max(c->b0, c->bars->n - 1500);

		if (c->bars->n - a < 2)
		{
			svg_empty(c->s, "effort_result", "Effort vs result", "fewer than two bars in the window");
			return;
		}
		ds = fsmml_dataset_build(c->symbol, c->timeframe, c->bars, a, c->bars->n,
								 fsmml_resolve_features(c->timeframe, names), 0, false, CurrentMemoryContext);
		n = (int) ds->nrows;
		x = palloc(sizeof(double) * Max(n, 1));
		y = palloc(sizeof(double) * Max(n, 1));
		for (int r = 0; r < n; r++)
		{
			x[r] = ds->X[r * 2];
			y[r] = ds->X[r * 2 + 1];
		}
		src = "computed from the bars (no state history yet)";
	}
	{
		int			k = 0;

		for (int r = 0; r < n; r++)
			if (isfinite(x[r]) && isfinite(y[r]))
				k++;
		if (k == 0)
		{
			svg_empty(c->s, "effort_result", "Effort vs result", "the state metrics are still warming up");
			return;
		}
	}
	svg_frame_of(&f, x, y, n, true);
	svg_open(c->s, "effort_result", psprintf("Effort vs result, %d bars (%s)", n, src));
	{
		SvgFrame		g = f;

		svg_axes(c->s, &g, false, "effort = volume / SMA20(volume)", "result = |close - open| / ATR14", 3);
	}
	for (int r = 0; r < n; r++)
		if (isfinite(x[r]) && isfinite(y[r]))
			appendStringInfo(c->s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" class=\"dot\"/>", svg_px(&f, x[r]), svg_py(&f, y[r]));
	appendStringInfoString(c->s, "</svg></section>\n");
}

static void
panel_calibrations(Ctx *c)
{
	int			n = spi_rows("SELECT created_at, score, coalesce(agent, '?') || ' ' || method || ' #' || id "
							 "|| CASE WHEN is_active THEN ' (active)' ELSE '' END || ': deflated Sharpe ' || "
							 "coalesce(round((details->>'deflated_sharpe')::numeric, 3)::text, 'n/a') || ', hold-out ' "
							 "|| coalesce(round((details->>'holdout_sharpe')::numeric, 2)::text, 'n/a') || "
							 "CASE WHEN details ? 'warning' THEN ' — not significant' ELSE '' END "
							 "FROM trading.calibrations WHERE symbol = $1 AND timeframe = $2 AND $3 <= $4 "
							 "ORDER BY id DESC LIMIT 12",
							 c->symbol, c->timeframe, c->from, c->to);
	char	  **lab = palloc(sizeof(char *) * Max(n, 1));
	double	   *v = palloc(sizeof(double) * Max(n, 1));

	for (int r = 0; r < n; r++)
	{
		lab[r] = pstrdup(sval(r, 3));
		v[r] = fval(r, 2);
	}
	/* labels are long: the bar chart's label column holds the id, the text the rest */
	if (n == 0)
	{
		svg_empty(c->s, "calibrations", "Calibration history", "no calibration yet (fsmml_optimize)");
		return;
	}
	svg_open(c->s, "calibrations", "Calibration history (training score of the best trial, newest first)");
	{
		double		mx = 0,
					rowh = (double) (H - MT - 10) / Max(n, 6);

		for (int r = 0; r < n; r++)
			mx = fmax(mx, fabs(v[r]));
		if (mx == 0)
			mx = 1;
		for (int r = 0; r < n; r++)
		{
			double		w = isfinite(v[r]) ? fabs(v[r]) / mx * 200 : 0;
			double		y = MT + r * rowh;

			appendStringInfo(c->s, "<rect x=\"10\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\"/>"
							 "<text x=\"216\" y=\"%.1f\" class=\"tick\">%s — ",
							 y, fmax(w, 1), rowh * 0.7, v[r] < 0 ? "neg" : "bar", y + rowh * 0.6, svg_num(v[r], 3));
			svg_esc(c->s, lab[r]);
			appendStringInfoString(c->s, "</text>");
		}
	}
	appendStringInfoString(c->s, "</svg></section>\n");
}

static void
panel_champions(Ctx *c)
{
	int			n = spi_rows("SELECT agent || ' ' || version || ' (' || status || ')', "
							 "(metrics->'holdout'->>'auc')::float8 FROM trading.agentversions "
							 "WHERE symbol = $1 AND timeframe = $2 AND $3 <= $4 AND metrics->'holdout' ? 'auc' "
							 "ORDER BY id DESC LIMIT 10",
							 c->symbol, c->timeframe, c->from, c->to);
	char	  **lab = palloc(sizeof(char *) * Max(n, 1));
	double	   *v = palloc(sizeof(double) * Max(n, 1));

	for (int r = 0; r < n; r++)
	{
		lab[r] = pstrdup(sval(r, 1));
		v[r] = fval(r, 2);
	}
	svg_bar_chart(c->s, "champions", "Hold-out AUC over versions (newest first)", lab, v, n, "hold-out AUC",
			  "no trained version with hold-out metrics (fsmml_train)");
}

/* Live model health: the champion's stored predictions against what happened, per day. */
static void
panel_health(Ctx *c)
{
	int			n = spi_rows("SELECT p.\"timestamp\", (p.payload->>'prob_up')::float8, v.version "
							 "FROM trading.agentpreds p JOIN trading.agentversions v ON v.id = p.agent_version_id "
							 "WHERE v.symbol = $1 AND v.timeframe = $2 AND v.agent = 'DirectionXGB' "
							 "AND v.status = 'champion' AND p.symbol = $1 AND p.timeframe = $2 "
							 "AND p.\"timestamp\" BETWEEN $3 AND $4 AND p.horizon = 1 ORDER BY 1",
							 c->symbol, c->timeframe, c->from, c->to);
	double	   *dx = palloc(sizeof(double) * (n + 1)),
			   *acc = palloc(sizeof(double) * (n + 1)),
			   *mp = palloc(sizeof(double) * (n + 1));
	int			nd = 0,
				hits = 0,
				cnt = 0,
				pc = 0;
	double		psum = 0;
	int64		day = -1;
	int64		bi = c->b0;
	int64		bucket = n > 1 && tval(n - 1, 1) - tval(0, 1) < 3 * USECS_PER_DAY ? USECS_PER_HOUR : USECS_PER_DAY;
	SvgFrame		f;
	char	   *version = n > 0 ? pstrdup(sval(0, 3)) : "";

	for (int r = 0; r <= n; r++)
	{
		int64		t = r < n ? tval(r, 1) : 0;
		int64		d = r < n ? t / bucket : -2;

		if (d != day && day >= 0 && pc > 0)
		{
			dx[nd] = (double) (day * bucket);
			acc[nd] = cnt > 0 ? (double) hits / cnt : NAN;
			mp[nd] = psum / pc;
			nd++;
			hits = cnt = pc = 0;
			psum = 0;
		}
		if (r == n)
			break;
		day = d;
		{
			double		p = fval(r, 2);

			if (!isfinite(p))
				continue;
			psum += p;
			pc++;
			while (bi < c->bars->n && c->bars->bars[bi].ts < t)
				bi++;
			if (bi + 1 < c->bars->n && c->bars->bars[bi].ts == t)
			{
				bool		up = c->bars->bars[bi + 1].close > c->bars->bars[bi].close;

				hits += (p > 0.5) == up;
				cnt++;
			}
		}
	}
	if (nd == 0)
	{
		svg_empty(c->s, "health", "Live model health and drift",
				  "no stored predictions of a DirectionXGB champion in the window (fsmml_score)");
		return;
	}
	f.x0 = dx[0];
	f.x1 = nd > 1 ? dx[nd - 1] : dx[0] + bucket;
	f.y0 = 0;
	f.y1 = 1;
	svg_open(c->s, "health", psprintf("Live model health: champion %s, %s hit rate and mean prob_up (drift)", version,
									  bucket == USECS_PER_HOUR ? "hourly" : "daily"));
	svg_axes(c->s, &f, true, bucket == USECS_PER_HOUR ? "hour (UTC)" : "day (UTC)", "fraction", 2);
	appendStringInfo(c->s, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"ref\"/>",
					 ML, W - MR, svg_py(&f, 0.5), svg_py(&f, 0.5));
	if (nd == 1)
	{
		appendStringInfo(c->s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" class=\"acc\"/>", svg_px(&f, dx[0]), svg_py(&f, acc[0]));
		appendStringInfo(c->s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" class=\"mp\"/>", svg_px(&f, dx[0]), svg_py(&f, mp[0]));
	}
	svg_polyline(c->s, &f, dx, acc, nd, "acc");
	svg_polyline(c->s, &f, dx, mp, nd, "mp");
	appendStringInfo(c->s, "<text x=\"%d\" y=\"%d\" class=\"legend\"><tspan class=\"acc-t\">— hit rate</tspan> "
					 "<tspan class=\"mp-t\">— mean prob_up</tspan> (0.5 dashed)</text></svg></section>\n", ML + 8, 14);
}

typedef struct Imp
{
	char	   *name;
	double		gain;
} Imp;

static int
imp_cmp(const void *a, const void *b)
{
	const Imp  *x = a,
			   *y = b;

	return x->gain < y->gain ? 1 : x->gain > y->gain ? -1 : strcmp(x->name, y->name);
}

static void
panel_importance(Ctx *c)
{
	int			n = spi_rows("SELECT model, model_format, feature_names, version FROM trading.agentversions "
							 "WHERE symbol = $1 AND timeframe = $2 AND agent = 'DirectionXGB' AND status = 'champion' "
							 "AND $3 <= $4", c->symbol, c->timeframe, c->from, c->to);
	bool		isnull;
	bytea	   *model;
	char	   *fmt,
			   *version;
	ArrayType  *fnames;
	Datum	   *fn;
	int			nfn;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext mcxt;
	ResourceOwner oldowner = CurrentResourceOwner;
	Imp		   *imp = NULL;
	int			nimp = 0;
	char	   *err = NULL;

	if (n == 0)
	{
		svg_empty(c->s, "importance", "Feature importance", "no DirectionXGB champion for this series");
		return;
	}
	model = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	fmt = pstrdup(sval(0, 2));
	version = pstrdup(sval(0, 4));
	fnames = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	deconstruct_array(fnames, TEXTOID, -1, false, TYPALIGN_INT, &fn, NULL, &nfn);
	if (strncmp(fmt, "xgboost-", 8) != 0)
	{
		svg_empty(c->s, "importance", "Feature importance", psprintf("the champion %s is not an XGBoost model", version));
		return;
	}
	/* a model XGBoost cannot read makes this panel say so, not the page fail */
	mcxt = AllocSetContextCreate(oldcxt, "fsmml report model", ALLOCSET_DEFAULT_SIZES);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		FsXgbBooster *b = fsxgb_booster_load_bytea(mcxt, model);
		char	  **names;
		double	   *scores;
		int			k = fsxgb_feature_score(b, "gain", &names, &scores);

		MemoryContextSwitchTo(oldcxt);
		imp = palloc(sizeof(Imp) * Max(k, 1));
		for (int i = 0; i < k; i++)
		{
			int			idx;
			char		tail;

			imp[i].name = pstrdup(names[i]);
			if (sscanf(names[i], "f%d%c", &idx, &tail) == 1 && idx >= 0 && idx < nfn)
				imp[i].name = TextDatumGetCString(fn[idx]);
			imp[i].gain = isfinite(scores[i]) ? scores[i] : 0;
		}
		nimp = k;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(oldcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		err = psprintf("the champion's model could not be read: %s", e->message);
	}
	PG_END_TRY();
	MemoryContextDelete(mcxt);
	if (err)
	{
		svg_empty(c->s, "importance", "Feature importance", err);
		return;
	}
	qsort(imp, nimp, sizeof(Imp), imp_cmp);
	{
		int			k = Min(nimp, 12);
		char	  **lab = palloc(sizeof(char *) * Max(k, 1));
		double	   *v = palloc(sizeof(double) * Max(k, 1));

		for (int i = 0; i < k; i++)
		{
			lab[i] = imp[i].name;
			v[i] = imp[i].gain;
		}
		svg_bar_chart(c->s, "importance", psprintf("Feature importance of champion %s (gain, top %d)", version, k),
				  lab, v, k, "average gain of a split on the feature", "no tree of the model splits on a feature");
	}
}

/* ---------------------------------------------------------------- page */

static const char *css =
"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;"
"color:#1d2733;background:#f6f8fa}h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}"
"p.meta{color:#57606a;margin:0 0 12px}section{background:#fff;border:1px solid #d8dee4;border-radius:6px;"
"padding:6px 12px 10px;margin:0 0 14px;max-width:900px}svg{display:block;max-width:100%;height:auto}"
".axis{stroke:#57606a;stroke-width:1}.grid{stroke:#eaeef2;stroke-width:1}.tick{font-size:11px;fill:#424a53}"
".atitle{font-size:12px;fill:#1d2733;font-weight:600}.legend{font-size:12px;fill:#1d2733}"
".price{fill:none;stroke:#0969da;stroke-width:1.3}.equity{fill:none;stroke:#1a7f37;stroke-width:1.6}"
".dd{fill:none;stroke:#cf222e;stroke-width:1.3}.long{fill:#1a7f37}.short{fill:#cf222e}.flat{fill:#8c959f}"
".bar{fill:#0969da}.neg{fill:#cf222e}.dot{fill:#8250df;fill-opacity:.45}.cell{stroke:#fff}"
".acc{fill:none;stroke:#1a7f37;stroke-width:1.6}.mp{fill:none;stroke:#bf8700;stroke-width:1.6}"
".acc-t{fill:#1a7f37}.mp-t{fill:#bf8700}.ref{stroke:#8c959f;stroke-dasharray:4 4}"
".empty{fill:#f6f8fa;stroke:#d8dee4;stroke-dasharray:6 4}.nodata{font-size:18px;fill:#57606a;font-weight:600}"
".why{font-size:12px;fill:#6e7781}";

Datum
fsmml_report(PG_FUNCTION_ARGS)
{
	char	   *symbol = fsmml_arg_cstring(fcinfo, 0, "symbol");
	char	   *timeframe = fsmml_arg_cstring(fcinfo, 1, "timeframe");
	int			days = PG_ARGISNULL(2) ? 30 : PG_GETARG_INT32(2);
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext opcxt;
	StringInfoData s;
	Ctx			c;
	text	   *result;

	fsmml_timeframe_usec(timeframe);
	if (days < 1 || days > 36600)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("days must lie between 1 and 36600")));
	opcxt = AllocSetContextCreate(CurrentMemoryContext, "fsmml report", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(opcxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* our allocations live in opcxt, not in SPI's procedure context (freed by SPI_finish) */
	MemoryContextSwitchTo(opcxt);
	initStringInfo(&s);
	c.s = &s;
	c.symbol = symbol;
	c.timeframe = timeframe;
	c.bars = fsmml_read_bars(symbol, timeframe, DT_NOBEGIN, DT_NOEND, opcxt);
	if (c.bars->n > 0)
	{
		int64		last = c.bars->bars[c.bars->n - 1].ts;
		int64		first = last - (int64) days * USECS_PER_DAY;

		c.b0 = c.bars->n - 1;
		while (c.b0 > 0 && c.bars->bars[c.b0 - 1].ts >= first)
			c.b0--;
		c.from = fsmml_unix_to_ts(first);
		c.to = fsmml_unix_to_ts(last);
	}
	else
	{
		c.b0 = 0;
		c.from = DT_NOBEGIN;
		c.to = DT_NOEND;
	}

	appendStringInfoString(&s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
						   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>fsmml report: ");
	svg_esc(&s, symbol);
	appendStringInfo(&s, " %s</title><style>%s</style></head><body>\n<h1>fsmml report: <span class=\"symbol\">", timeframe, css);
	svg_esc(&s, symbol);
	appendStringInfo(&s, "</span> %s</h1>\n<p class=\"meta\">", timeframe);
	if (c.bars->n > 0)
		appendStringInfo(&s, "Last %d days: %s to %s UTC, %lld bars (of %lld). Generated by fsmml %s.",
						 days, fsmml_iso8601(fsmml_ts_to_unix(c.from)), fsmml_iso8601(fsmml_ts_to_unix(c.to)),
						 (long long) (c.bars->n - c.b0), (long long) c.bars->n, FSMML_VERSION);
	else
		appendStringInfo(&s, "No bars of this series in trading.historicaldata. Generated by fsmml %s.", FSMML_VERSION);
	appendStringInfoString(&s, "</p>\n");

	panel_price(&c);
	panel_backtest(&c);
	panel_states(&c);
	panel_transitions(&c);
	panel_effort(&c);
	panel_calibrations(&c);
	panel_champions(&c);
	panel_health(&c);
	panel_importance(&c);
	appendStringInfoString(&s, "</body></html>\n");

	SPI_finish();
	MemoryContextSwitchTo(oldcxt);
	result = cstring_to_text_with_len(s.data, s.len);
	MemoryContextDelete(opcxt);
	PG_RETURN_TEXT_P(result);
}
