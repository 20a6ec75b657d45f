/*
 * outbox_gate.c — fsmml.outbox_wanted(), the WHEN of the outbox triggers
 * on trading.agentsignals: whether any endpoint is enabled, kept per
 * backend, so a signal written while nothing is to be delivered (live
 * scoring's every bar) does not run the PL/pgSQL outbox trigger at all.
 *
 * A statement trigger on fsmml.endpoints queues a relcache invalidation of
 * that table (fsmml_versions_changed, generic); our relcache callback then
 * forgets the answer.  Other backends get it when the change commits, the
 * writing backend at its next command, so the answer is never staler than
 * what the outbox trigger's own query would have seen.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

static bool known = false;		/* wanted is current */
static bool wanted = false;
static bool callback_registered = false;
static Oid	endpoints_oid = InvalidOid;

static void
endpoints_changed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == endpoints_oid || endpoints_oid == InvalidOid)
		known = false;
}

PG_FUNCTION_INFO_V1(fsmml_outbox_wanted);

Datum
fsmml_outbox_wanted(PG_FUNCTION_ARGS)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(endpoints_changed, (Datum) 0);
		callback_registered = true;
	}
	if (!known)
	{
		bool		isnull;

		endpoints_oid = get_relname_relid("endpoints", get_namespace_oid("fsmml", false));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT EXISTS (SELECT 1 FROM fsmml.endpoints WHERE enabled)", true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading fsmml.endpoints failed");
		wanted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
		known = true;
	}
	PG_RETURN_BOOL(wanted);
}
