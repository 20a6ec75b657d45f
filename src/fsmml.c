/*
 * fsmml.c — module entry: _PG_init calls each subsystem's init (GUCs,
 * shared memory).
 *
 * The library loads on demand for plain SQL use; under
 * shared_preload_libraries it also sets up what needs the postmaster
 * (shared memory, background workers) in the files that own those.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "bgw.h"
#include "delivery.h"
#include "fsmml.h"
#include "privilege.h"
#include "progress.h"
#include "serve.h"
#include "xgb.h"

extern void fsmml_live_init(void);	/* serve/live_trigger.c */
extern void fsmml_live_state_init(void);	/* serve/live_state.c */
extern void fsmml_live_listeners_init(void);	/* serve/live_listeners.c */

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	fsxgb_guc_init();
	fsmml_bgw_init();			/* GUCs before the prefix is reserved */
	fsmml_live_init();
	fsmml_live_state_init();
	fsmml_delivery_init();

	MarkGUCPrefixReserved("fsmml");

	fsmml_privilege_init();
	fsmml_progress_init();
	fsmml_live_listeners_init();
	if (process_shared_preload_libraries_in_progress)
		fsmml_sha256_preload();
}
