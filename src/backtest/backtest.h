/*
 * backtest.h — what fsmml_backtest, fsmml_compare, fsmml_optimize and
 * fsmml_report share: a series' bars for the simulator, signals from
 * trading.agentsignals or a version's stored predictions, parameters,
 * metrics as JSON, storing a backtest.
 *
 * Every function here runs inside an owner-mode entry point connected to
 * SPI; bars are read through data/bars.c (the caller's rights).
 */
#ifndef FSMML_BACKTEST_H
#define FSMML_BACKTEST_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include <cjson/cJSON.h>

#include "exec_rules.h"
#include "simulator.h"

/* The bars of a series up to to_ts, for the simulator; [from, n) is the window. */
typedef struct BtSeries
{
	const char *symbol;
	const char *timeframe;
	FsSimBar   *bars;
	double	   *atr;			/* Wilder ATR(14), price units */
	void	   *raw;			/* the FsmmlBars read (volumes too), for the feature kernel */
	int64		n;
	int64		from;			/* first bar at or after from_ts */
} BtSeries;

/* Parameters of a backtest (params jsonb): the simulator's and ExecRules'. */
typedef struct BtParams
{
	FsSimParams sim;
	FsExecRules rules;
	int64		version_id;		/* 0: trading.agentsignals */
	bool		store_curve;	/* store equity and trades (default true) */
} BtParams;

/* The simulation of one window, with its outputs (palloc'd). */
typedef struct BtRun
{
	int64		from,
				n;				/* the window [from, from + n) of the series */
	FsSimSignal *sig;			/* n */
	int64		n_signals;
	double	   *equity;			/* n */
	FsSimTrade *trades;
	size_t		n_trades;
	double	   *daily;			/* n_daily */
	size_t		n_daily;
	FsSimMetrics m;
	bool		ppy_given;
} BtRun;

extern void bt_load_series(BtSeries *s, const char *symbol, const char *timeframe,
						   TimestampTz from_ts, TimestampTz to_ts);

/*
 * The same from bars already read (every bar of the series from the first,
 * so the ATR warms up as in bt_load_series); s->from is the first bar at or
 * after from_us.  b must outlive s.
 */
struct FsmmlBars;
extern void bt_series_from_bars(BtSeries *s, const char *symbol, const char *timeframe,
								const struct FsmmlBars *b, int64 from_us);

/* Index of the last bar with ts <= t (Unix us), -1 when none. */
extern int64 bt_bar_at_or_before(const BtSeries *s, int64 t);

/*
 * Parses params (NULL = defaults).  allowed_extra: NULL-terminated keys the
 * caller handles itself (left in *rest when rest is not NULL).
 */
extern void bt_parse_params(Jsonb *params, BtParams *p, const char *const *allowed_extra,
							cJSON **rest);

/* Signals of trading.agentsignals for the window into sig[0..n). */
extern int64 bt_signals_from_table(const BtSeries *s, int64 from, int64 n, FsSimSignal *sig);

/*
 * A direction version's stored prob_up for bars [from, from + n) into
 * prob[n] (NaN where none).  ERROR when the version is not of this series.
 * Returns how many bars have one.
 */
extern int64 bt_version_probs(const BtSeries *s, int64 version_id, int64 from, int64 n,
							  double *prob);

/* The version's series (ERROR when it does not exist). */
extern void bt_version_series(int64 version_id, char **symbol, char **timeframe, char **label);

/* Runs the simulator over [from, from + n) with sig (n); ERROR on invalid input. */
extern void bt_simulate(const BtSeries *s, int64 from, int64 n, FsSimSignal *sig,
						const FsSimParams *p, BtRun *run);

/*
 * A direction model's prob_up for bars [from, from + n) (NaN: no
 * prediction, no signal) through ExecRules and the simulator: what
 * fsmml_backtest with params.version_id, fsmml_compare, training's hold-out
 * backtest and the promotion rule all run.
 */
extern void bt_run_probs(const BtSeries *s, int64 from, int64 n, const double *prob,
						 const FsExecRules *rules, const FsSimParams *p, BtRun *run);

/* The metrics object: {"total_return": ..., ...} (NaN as null). */
extern void bt_metrics_json(StringInfo buf, const BtRun *run, const FsSimParams *p);
extern void bt_json_num(StringInfo buf, const char *key, double v, bool comma);

/* Stores a run in trading.backtests (+ equity and trades); returns its id. */
extern int64 bt_store(const BtSeries *s, const BtRun *run, const char *source,
					  const char *params_json, const char *metrics_json,
					  const int64 *version_ids, int n_versions, bool store_curve);

/* Jsonb from a JSON text. */
extern Datum bt_jsonb(const char *json);

/* The caller's role name (the session user of this call, not fsmml_owner). */
extern char *bt_caller_name(void);

#endif							/* FSMML_BACKTEST_H */
