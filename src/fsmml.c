/*
 * fsmml.c — module entry: GUC definitions and _PG_init.
 *
 * The library loads on demand for plain SQL use; under
 * shared_preload_libraries it also sets up what needs the postmaster
 * (shared memory, background workers) in the files that own those.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "fsmml.h"
#include "privilege.h"
#include "progress.h"

PG_MODULE_MAGIC;

int			fsmml_nthread = 1;
int			fsmml_train_nthread = 0;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("fsmml.nthread",
							"Threads XGBoost uses when scoring.",
							"Scoring runs inside a backend per bar; one thread keeps latency predictable.",
							&fsmml_nthread,
							1, 1, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("fsmml.train_nthread",
							"Threads XGBoost uses when training; 0 uses every core.",
							"params.xgb.nthread overrides it for one training.",
							&fsmml_train_nthread,
							0, 0, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("fsmml");

	fsmml_privilege_init();
	fsmml_progress_init();
}
