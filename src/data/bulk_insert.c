/*
 * bulk_insert.c — rows straight into a table's heap and indexes.
 *
 * An INSERT ... SELECT FROM unnest(arrays) through SPI costs more per row
 * than writing the row (array deconstruction, a function scan that
 * materialises, the planner); COPY avoids all that and so does this: one
 * ResultRelInfo, a BulkInsertState, rows checked against the table's
 * constraints and buffered, a batch written with one heap multi-insert (fewer
 * page locks and WAL records than a row at a time), then each row's index
 * entries.  Tables with triggers or rules are left to the executor
 * (fsmml_bulk_insert_possible says no).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/rel.h"

#include "bulk_insert.h"

/* Rows per heap multi-insert (COPY uses 1000 too). */
#define BULK_BATCH 1000

struct FsmmlBulkInsert
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slots[BULK_BATCH];
	int			nbuffered;
	BulkInsertState bistate;
	CommandId	cid;
	bool		has_constraints;
	uint64		rows;
};

bool
fsmml_bulk_insert_possible(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		ok;

	ok = rel->rd_rel->relkind == RELKIND_RELATION &&
		rel->trigdesc == NULL && !rel->rd_rel->relhasrules;
	table_close(rel, AccessShareLock);
	return ok;
}

FsmmlBulkInsert *
fsmml_bulk_insert_begin(Oid relid)
{
	FsmmlBulkInsert *b = palloc0(sizeof(FsmmlBulkInsert));

	b->rel = table_open(relid, RowExclusiveLock);
	if (!(b->rel->rd_rel->relkind == RELKIND_RELATION &&
		  b->rel->trigdesc == NULL && !b->rel->rd_rel->relhasrules))
		elog(ERROR, "relation \"%s\" cannot take bulk inserts",
			 RelationGetRelationName(b->rel));
	b->estate = CreateExecutorState();
	b->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(b->rri, b->rel, 1, NULL, 0);
	ExecOpenIndices(b->rri, false);
	for (int i = 0; i < BULK_BATCH; i++)
		b->slots[i] = table_slot_create(b->rel, NULL);
	b->bistate = GetBulkInsertState();
	b->cid = GetCurrentCommandId(true);
	b->has_constraints = RelationGetDescr(b->rel)->constr != NULL;
	return b;
}

TupleDesc
fsmml_bulk_insert_tupdesc(FsmmlBulkInsert *b)
{
	return RelationGetDescr(b->rel);
}

/* Writes the buffered rows: one heap multi-insert, then their index entries. */
static void
flush(FsmmlBulkInsert *b)
{
	if (b->nbuffered == 0)
		return;
	table_multi_insert(b->rel, b->slots, b->nbuffered, b->cid, 0, b->bistate);
	for (int i = 0; i < b->nbuffered; i++)
	{
		if (b->rri->ri_NumIndices > 0)
			ExecInsertIndexTuples(b->rri, b->slots[i], b->estate, false, false, NULL, NIL);
		ExecClearTuple(b->slots[i]);
	}
	ResetPerTupleExprContext(b->estate);
	b->nbuffered = 0;
	CHECK_FOR_INTERRUPTS();
}

/* Checks the row in slot and buffers it; a full buffer is written. */
static void
buffer_row(FsmmlBulkInsert *b, TupleTableSlot *slot)
{
	if (b->has_constraints)
		ExecConstraints(b->rri, slot, b->estate);
	b->rows++;
	if (++b->nbuffered == BULK_BATCH)
		flush(b);
}

void
fsmml_bulk_insert_row(FsmmlBulkInsert *b, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = b->slots[b->nbuffered];
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	/* The row's by-reference values belong to the caller: copy them now. */
	ExecMaterializeSlot(slot);
	buffer_row(b, slot);
}

void
fsmml_bulk_insert_tuple(FsmmlBulkInsert *b, HeapTuple tuple)
{
	TupleTableSlot *slot = b->slots[b->nbuffered];

	ExecClearTuple(slot);
	ExecForceStoreHeapTuple(tuple, slot, false);
	ExecMaterializeSlot(slot);
	buffer_row(b, slot);
}

void
fsmml_bulk_insert_end(FsmmlBulkInsert *b)
{
	flush(b);
	FreeBulkInsertState(b->bistate);
	table_finish_bulk_insert(b->rel, 0);
	for (int i = 0; i < BULK_BATCH; i++)
		ExecDropSingleTupleTableSlot(b->slots[i]);
	ExecCloseIndices(b->rri);
	FreeExecutorState(b->estate);
	table_close(b->rel, NoLock);
	CommandCounterIncrement();
	pfree(b);
}
