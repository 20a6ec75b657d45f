/*
 * bgw_xact.c — a background worker's transaction around SPI: the launcher,
 * the job workers' bookkeeping and the delivery worker run their passes as
 * short transactions of their own.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw.h"

void
fsmml_bgw_begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
fsmml_bgw_commit_xact(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}
