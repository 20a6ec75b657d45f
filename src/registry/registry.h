/*
 * registry.h — versioned agent models in trading.agentversions.
 *
 * An instance is agent@symbol-timeframe.  Versions are vMAJOR.MINOR.PATCH:
 * the first is v1.0.0; a different feature list or objective than the
 * latest version bumps MINOR; a retrain with the same spec bumps PATCH.
 * MAJOR is for a change of model format or agent semantics (an upgrade
 * script's business, never a retrain).  Callers are SPI-connected.
 */
#ifndef FSMML_REGISTRY_H
#define FSMML_REGISTRY_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

typedef struct FsmmlNewVersion
{
	const char *agent;
	const char *symbol;
	const char *timeframe;
	bytea	   *model;
	const char *model_format;	/* 'xgboost-ubj', 'xgboost-json' or 'fsmml-json' */
	const char *params;			/* JSON text, resolved */
	const char *metrics;		/* JSON text */
	List	   *feature_names;	/* of char * */
	const char *objective;		/* e.g. binary:logistic; part of the spec */
	TimestampTz train_from, train_to, test_from, test_to;	/* DT_NOBEGIN = NULL */
} FsmmlNewVersion;

typedef struct FsmmlVersionRow
{
	int64		id;
	char	   *version;
	char	   *status;
} FsmmlVersionRow;

/* "DirectionXGB@BTCUSDT-1m" (palloc'd). */
extern char *fsmml_instance_name(const char *agent, const char *symbol, const char *timeframe);

/* Serialises version numbering and promotion of one instance (xact advisory lock). */
extern void fsmml_registry_lock_instance(const char *agent, const char *symbol, const char *timeframe);

/* ERROR unless agent is in trading.agents; returns its kind. */
extern char *fsmml_agent_kind(const char *agent);

/*
 * Inserts the version with the next version number; it becomes champion
 * when the instance has none, else challenger.
 */
extern FsmmlVersionRow fsmml_registry_insert(const FsmmlNewVersion *v);

/* Id of the instance's champion, or 0. */
extern int64 fsmml_registry_champion(const char *agent, const char *symbol, const char *timeframe);

/*
 * Makes version_id the champion of its instance, retires the previous one
 * and logs the decision (promoted | manual | rollback) with both sides'
 * metrics in fsmml.promotions.  Returns the previous champion's id or 0.
 */
extern int64 fsmml_registry_promote(const char *symbol, int64 version_id, const char *decision,
									const char *reason, const char *challenger_metrics,
									const char *champion_metrics);

/* Logs a decision that changed nothing (kept). */
extern void fsmml_registry_log_decision(const char *symbol, const char *timeframe,
										const char *agent, int64 challenger_id,
										int64 champion_id, const char *decision,
										const char *reason, const char *challenger_metrics,
										const char *champion_metrics);

#endif							/* FSMML_REGISTRY_H */
