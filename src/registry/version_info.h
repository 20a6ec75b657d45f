/*
 * version_info.h — helpers of the registry's SQL functions (promote.c,
 * model_io.c, model_card.c).
 *
 * Each SQL function runs between fsmml_registry_call_begin() and
 * fsmml_registry_call_end(): a per-call memory context, current for the
 * whole call, that owns the XGBoost handles and cJSON trees it makes (see
 * xgb.h), so an ERROR anywhere frees them without PG_TRY, and an SPI
 * connection.  A result that outlives the call is allocated in call.caller.
 */
#ifndef FSMML_VERSION_INFO_H
#define FSMML_VERSION_INFO_H

#include "postgres.h"
#include "fmgr.h"
#include "nodes/pg_list.h"

#include "xgb.h"

/* One row of trading.agentversions, as text (NULL for SQL NULL). */
typedef struct VersionInfo
{
	int64		id;
	char	   *symbol;
	char	   *timeframe;
	char	   *agent;
	char	   *version;
	char	   *status;
	char	   *model_format;
	char	   *model_sha256;
	bytea	   *model;			/* only when asked for */
	char	   *params;
	char	   *metrics;
	int			nfeatures;
	char	  **feature_names;
	char	   *train_from;
	char	   *train_to;
	char	   *test_from;
	char	   *test_to;
	char	   *ext_version;
	char	   *created_at;
	char	   *created_by;
	char	   *promoted_at;
	char	   *promoted_by;
	char	   *promote_reason;
} VersionInfo;

typedef struct RegistryCall
{
	MemoryContext cxt;			/* the call's own context */
	MemoryContext caller;		/* current when the call began */
} RegistryCall;

extern void fsmml_registry_call_begin(RegistryCall *call);
extern void fsmml_registry_call_end(RegistryCall *call);

/* ERROR (with hint) when argument argno is NULL. */
extern void fsmml_require_arg(FunctionCallInfo fcinfo, int argno, const char *name, const char *hint);

/* Column col of the first row of SPI_tuptable as text, NULL for SQL NULL. */
extern char *fsmml_spi_text(int col);

/*
 * Reads version id; ERROR when there is none.  read_only = false takes a
 * fresh snapshot (use it after taking the instance lock).
 */
extern VersionInfo *fsmml_version_read(int64 id, bool with_model, bool read_only);

/* metrics::text of a version of symbol, or NULL (id 0 too). */
extern char *fsmml_version_metrics(const char *symbol, int64 id);

/* The feature names saved inside an XGBoost model, or NIL when it has none. */
extern List *fsmml_booster_feature_names(FsXgbBooster *b, MemoryContext owner);

#endif							/* FSMML_VERSION_INFO_H */
