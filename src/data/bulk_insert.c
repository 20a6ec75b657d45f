/*
 * bulk_insert.c — rows straight into a table's heap and indexes, as COPY
 * writes them.
 *
 * An INSERT ... SELECT FROM unnest(arrays) through SPI costs more per row
 * than writing the row (array deconstruction, a function scan that
 * materialises, the planner); COPY avoids all that and so does this.  What
 * INSERT would do to a row is done here the way copyfrom.c does it: a range
 * table entry for the target with INSERT permission on the columns given
 * (checked by ExecCheckRTPerms, and read back by ExecConstraints when it
 * describes a failing row), the target's column defaults for the columns
 * not given, stored generated columns, NOT NULL / CHECK (and, for a
 * partition written directly, partition) constraints, then a batch written
 * with one heap multi-insert and each row's index entries (unique,
 * exclusion, expression and partial indexes alike).  Shapes only the
 * executor honours are left to it: fsmml_bulk_insert_possible says no.
 *
 * Rows inserted through a partitioned table (root) are routed by the
 * caller; defaults then come from root, as INSERT INTO root takes them,
 * and the row is converted to the partition's layout when it differs.
 *
 * Triggers on a plain table (not a partition) that INSERT fires once the
 * row is in are fired as COPY fires them: BEFORE STATEMENT at the start,
 * AFTER ROW (foreign keys included) and transition-table capture per row
 * after its index entries, AFTER STATEMENT at the end, all in a query level
 * of their own, so the queued AFTER events run when the batch is written.
 * A BEFORE or INSTEAD OF ROW trigger may change or drop a row: only the
 * executor honours it.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "bulk_insert.h"

/* Rows per heap multi-insert (COPY uses 1000 too). */
#define BULK_BATCH 1000

struct FsmmlBulkInsert
{
	Relation	rel;			/* where rows go */
	Relation	root;			/* what they are inserted through (rel itself or its root) */
	EState	   *estate;
	ResultRelInfo *rri;			/* rel's */
	TupleTableSlot *slots[BULK_BATCH];	/* made when first needed */
	int			nslots;
	MemoryContext cxt;			/* of begin: where slots are made */
	TupleDesc	slotdesc;		/* rel's, copied: slots need not pin it */
	int			nbuffered;
	int			batch;			/* rows per multi-insert: 1 with volatile defaults */
	BulkInsertState bistate;
	CommandId	cid;
	bool		has_constraints;
	bool		has_generated;
	bool		partition_check;	/* rel is a partition written directly */
	bool		plain;			/* a formed tuple goes in as it is */
	bool		triggers;		/* INSERT triggers to fire (in a query level of our own) */
	bool		after_row;		/* AFTER ROW events or transition rows to queue */
	TransitionCaptureState *capture;
	TupleConversionMap *map;	/* root -> rel layout, NULL when the same */
	TupleTableSlot *rootslot;	/* a row in root's layout, when map */
	int			nnotgiven;
	int		   *notgiven;		/* 0-based attributes of root not given (not generated) */
	int			ndefaults;
	int		   *defmap;			/* 0-based attribute of each default */
	ExprState **defexprs;
	Datum	   *values;			/* a deformed tuple, root's natts */
	bool	   *nulls;
	uint64		rows;
};

/*
 * Table-level properties that only the executor's INSERT honours.  Triggers
 * are fired here only on a plain table written directly (with_triggers) and
 * only when none can change or drop a row before it goes in.
 */
static bool
plain_target(Relation rel, char relkind, bool with_triggers)
{
	TriggerDesc *t = rel->trigdesc;

	if (t != NULL && (!with_triggers || rel->rd_rel->relispartition ||
					  t->trig_insert_before_row || t->trig_insert_instead_row))
		return false;
	return rel->rd_rel->relkind == relkind &&
		!rel->rd_rel->relhasrules && !rel->rd_rel->relrowsecurity;
}

bool
fsmml_bulk_insert_possible(Oid relid, Oid root, const Bitmapset *given)
{
	Relation	rootrel = OidIsValid(root) ? table_open(root, AccessShareLock) : NULL;
	Relation	rel = table_open(relid, AccessShareLock);
	Relation	target = rootrel ? rootrel : rel;
	TupleDesc	desc = RelationGetDescr(target);
	bool		ok;

	ok = plain_target(rel, RELKIND_RELATION, rootrel == NULL) &&
		(rootrel == NULL || plain_target(rootrel, RELKIND_PARTITIONED_TABLE, false));
	for (int a = 0; ok && a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (att->attisdropped)
			continue;
		if (bms_is_member(a + 1, given))
		{
			/* INSERT refuses a value for it: let it say so. */
			if (att->attgenerated)
				ok = false;
		}
		else if (!att->attgenerated && get_typtype(att->atttypid) == TYPTYPE_DOMAIN &&
				 build_column_default(target, a + 1) == NULL)
		{
			/* INSERT checks the domain's constraints on the NULL; COPY does not. */
			ok = false;
		}
	}
	table_close(rel, AccessShareLock);
	if (rootrel)
		table_close(rootrel, AccessShareLock);
	return ok;
}

/* The range table of the insert: target, INSERT on the given columns, checked. */
static List *
insert_range_table(Relation target, const Bitmapset *given)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	int			x = -1;
	List	   *rtable;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(target);
	rte->relkind = target->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	while ((x = bms_next_member(given, x)) >= 0)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   x - FirstLowInvalidHeapAttributeNumber);
	rtable = list_make1(rte);
	ExecCheckRTPerms(rtable, true);
	return rtable;
}

/* Defaults of root's columns not given, as copyfrom.c prepares them. */
static void
prepare_defaults(FsmmlBulkInsert *b, const Bitmapset *given)
{
	TupleDesc	desc = RelationGetDescr(b->root);

	b->notgiven = palloc(sizeof(int) * desc->natts);
	b->defmap = palloc(sizeof(int) * desc->natts);
	b->defexprs = palloc(sizeof(ExprState *) * desc->natts);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		Expr	   *defexpr;

		if (att->attisdropped || att->attgenerated || bms_is_member(a + 1, given))
			continue;
		b->notgiven[b->nnotgiven++] = a;
		defexpr = (Expr *) build_column_default(b->root, a + 1);
		if (defexpr == NULL)
			continue;
		defexpr = expression_planner(defexpr);
		b->defexprs[b->ndefaults] = ExecInitExpr(defexpr, NULL);
		b->defmap[b->ndefaults++] = a;
		/* A volatile default may read the table: rows go in one at a time, as COPY does. */
		if (contain_volatile_functions_not_nextval((Node *) defexpr))
			b->batch = 1;
	}
}

FsmmlBulkInsert *
fsmml_bulk_insert_begin(Oid relid, Oid root, const Bitmapset *given)
{
	FsmmlBulkInsert *b = palloc0(sizeof(FsmmlBulkInsert));
	ResultRelInfo *rootrri;
	TupleDesc	rootdesc;

	/* The root is locked before its partition, as INSERT does. */
	b->root = OidIsValid(root) ? table_open(root, RowExclusiveLock) : NULL;
	b->rel = table_open(relid, RowExclusiveLock);
	if (b->root == NULL)
		b->root = b->rel;
	if (!plain_target(b->rel, RELKIND_RELATION, b->root == b->rel) ||
		(b->root != b->rel && !plain_target(b->root, RELKIND_PARTITIONED_TABLE, false)))
		elog(ERROR, "relation \"%s\" cannot take bulk inserts",
			 RelationGetRelationName(b->rel));
	rootdesc = RelationGetDescr(b->root);

	b->estate = CreateExecutorState();
	ExecInitRangeTable(b->estate, insert_range_table(b->root, given));
	rootrri = makeNode(ResultRelInfo);
	ExecInitResultRelation(b->estate, rootrri, 1);
	if (b->root != b->rel)
	{
		b->rri = makeNode(ResultRelInfo);
		InitResultRelInfo(b->rri, b->rel, 0, rootrri, 0);
		b->map = convert_tuples_by_name(rootdesc, RelationGetDescr(b->rel));
		b->rri->ri_RootToPartitionMap = b->map;
		if (b->map)
			b->rootslot = MakeSingleTupleTableSlot(rootdesc, &TTSOpsVirtual);
	}
	else
	{
		b->rri = rootrri;
		b->partition_check = b->rel->rd_rel->relispartition;
	}
	CheckValidResultRel(b->rri, CMD_INSERT);
	ExecOpenIndices(b->rri, false);

	b->batch = BULK_BATCH;
	b->cxt = CurrentMemoryContext;
	/*
	 * A copy (not reference-counted) of rel's descriptor for the slots: a
	 * thousand slots per batch pinning rel's would each be remembered and
	 * forgotten by the resource owner.
	 */
	b->slotdesc = CreateTupleDescCopy(RelationGetDescr(b->rel));
	prepare_defaults(b, given);
	b->bistate = GetBulkInsertState();
	b->cid = GetCurrentCommandId(true);
	b->has_constraints = RelationGetDescr(b->rel)->constr != NULL;
	b->has_generated = b->has_constraints &&
		RelationGetDescr(b->rel)->constr->has_generated_stored;
	b->plain = b->ndefaults == 0 && !b->has_generated && b->map == NULL;
	b->values = palloc(sizeof(Datum) * rootdesc->natts);
	b->nulls = palloc(sizeof(bool) * rootdesc->natts);

	/* plain_target allows triggers only on rel written as itself */
	b->triggers = b->rri->ri_TrigDesc != NULL;
	if (b->triggers)
	{
		TriggerDesc *t = b->rri->ri_TrigDesc;

		AfterTriggerBeginQuery();
		b->capture = MakeTransitionCaptureState(t, RelationGetRelid(b->rel), CMD_INSERT);
		b->after_row = t->trig_insert_after_row || t->trig_insert_new_table;
		ExecBSInsertTriggers(b->estate, b->rri);
	}
	return b;
}

TupleDesc
fsmml_bulk_insert_tupdesc(FsmmlBulkInsert *b)
{
	return RelationGetDescr(b->root);
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
		List	   *recheck = NIL;

		if (b->rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(b->rri, b->slots[i], b->estate, false, false, NULL,
											NIL);
		if (b->after_row)
			ExecARInsertTriggers(b->estate, b->rri, b->slots[i], recheck, b->capture);
		list_free(recheck);
		ExecClearTuple(b->slots[i]);
	}
	ResetPerTupleExprContext(b->estate);
	b->nbuffered = 0;
	CHECK_FOR_INTERRUPTS();
}

/* The slot of the next buffered row (a batch of a few rows makes a few slots). */
static TupleTableSlot *
next_slot(FsmmlBulkInsert *b)
{
	if (b->nbuffered == b->nslots)
	{
		MemoryContext old = MemoryContextSwitchTo(b->cxt);

		b->slots[b->nslots++] = MakeSingleTupleTableSlot(b->slotdesc,
														 table_slot_callbacks(b->rel));
		MemoryContextSwitchTo(old);
	}
	return b->slots[b->nbuffered];
}

/* Generated columns and constraints of the row in slot, then buffers it. */
static void
buffer_row(FsmmlBulkInsert *b, TupleTableSlot *slot)
{
	if (b->has_generated)
		ExecComputeStoredGenerated(b->rri, b->estate, slot, CMD_INSERT);
	if (b->has_constraints)
		ExecConstraints(b->rri, slot, b->estate);
	if (b->partition_check)
		ExecPartitionCheck(b->rri, slot, b->estate, true);
	b->rows++;
	if (++b->nbuffered >= b->batch)
		flush(b);
}

void
fsmml_bulk_insert_row(FsmmlBulkInsert *b, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = next_slot(b);
	TupleTableSlot *src = b->map ? b->rootslot : slot;
	int			natts = src->tts_tupleDescriptor->natts;

	ExecClearTuple(src);
	memcpy(src->tts_values, values, sizeof(Datum) * natts);
	memcpy(src->tts_isnull, nulls, sizeof(bool) * natts);
	for (int i = 0; i < b->nnotgiven; i++)
		src->tts_isnull[b->notgiven[i]] = true;
	if (b->ndefaults > 0)
	{
		ExprContext *econtext = GetPerTupleExprContext(b->estate);
		MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(b->estate));

		for (int i = 0; i < b->ndefaults; i++)
			src->tts_values[b->defmap[i]] = ExecEvalExpr(b->defexprs[i], econtext,
														 &src->tts_isnull[b->defmap[i]]);
		MemoryContextSwitchTo(old);
	}
	ExecStoreVirtualTuple(src);
	if (b->map)
		slot = execute_attr_map_slot(b->map->attrMap, src, slot);
	/* The row's by-reference values belong to the caller: copy them now. */
	ExecMaterializeSlot(slot);
	buffer_row(b, slot);
}

void
fsmml_bulk_insert_tuple(FsmmlBulkInsert *b, HeapTuple tuple)
{
	TupleTableSlot *slot;

	if (!b->plain)
	{
		heap_deform_tuple(tuple, RelationGetDescr(b->root), b->values, b->nulls);
		fsmml_bulk_insert_row(b, b->values, b->nulls);
		return;
	}
	slot = next_slot(b);
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
	if (b->triggers)
	{
		/* the rows are all in: AFTER STATEMENT, then every queued event runs */
		ExecASInsertTriggers(b->estate, b->rri, b->capture);
		AfterTriggerEndQuery(b->estate);
		/* the slots AFTER ROW triggers were given (each pins the relation's descriptor) */
		ExecResetTupleTable(b->estate->es_tupleTable, false);
	}
	for (int i = 0; i < b->nslots; i++)
		ExecDropSingleTupleTableSlot(b->slots[i]);
	FreeTupleDesc(b->slotdesc);
	if (b->rootslot)
		ExecDropSingleTupleTableSlot(b->rootslot);
	if (b->root != b->rel)
		ExecCloseIndices(b->rri);
	ExecCloseResultRelations(b->estate);
	ExecCloseRangeTableRelations(b->estate);
	FreeExecutorState(b->estate);
	table_close(b->rel, NoLock);
	if (b->root != b->rel)
		table_close(b->root, NoLock);
	CommandCounterIncrement();
	pfree(b);
}
