/*
 * bulk_insert.c — rows straight into a table's heap and indexes.
 *
 * An INSERT ... SELECT FROM unnest(arrays) through SPI costs more per row
 * than writing the row (array deconstruction, a function scan that
 * materialises, the planner); COPY avoids all that and so does this: one
 * ResultRelInfo, a BulkInsertState, and per row the constraint check, the
 * heap insert and the index inserts.  Tables with triggers or rules are
 * left to the executor (fsmml_bulk_insert_possible says no).
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

struct FsmmlBulkInsert
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
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
	b->slot = MakeSingleTupleTableSlot(RelationGetDescr(b->rel), &TTSOpsVirtual);
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

void
fsmml_bulk_insert_row(FsmmlBulkInsert *b, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = b->slot;
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	if (b->has_constraints)
		ExecConstraints(b->rri, slot, b->estate);
	table_tuple_insert(b->rel, slot, b->cid, 0, b->bistate);
	if (b->rri->ri_NumIndices > 0)
		ExecInsertIndexTuples(b->rri, slot, b->estate, false, false, NULL, NIL);
	ResetPerTupleExprContext(b->estate);
	if ((++b->rows & 4095) == 0)
		CHECK_FOR_INTERRUPTS();
}

void
fsmml_bulk_insert_end(FsmmlBulkInsert *b)
{
	FreeBulkInsertState(b->bistate);
	table_finish_bulk_insert(b->rel, 0);
	ExecDropSingleTupleTableSlot(b->slot);
	ExecCloseIndices(b->rri);
	FreeExecutorState(b->estate);
	table_close(b->rel, NoLock);
	CommandCounterIncrement();
	pfree(b);
}
