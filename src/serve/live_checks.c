/*
 * live_checks.c — the CHECK constraints of live scoring's write statement,
 * parsed and planned once per backend instead of once per bar.
 *
 * The executor prepares a result relation's CHECK constraints when its
 * first row is checked (ExecRelCheck: stringToNode of each ccbin, then
 * expression_planner and ExecInitExpr in the query's context), so a
 * statement that writes one row to each of five tables per bar re-parses
 * about ten expressions per bar.  Armed just before that statement runs,
 * the ExecutorStart hook below fills each result relation's
 * ri_ConstraintExprs the same way, from a per-backend copy of the planned
 * expressions: ExecInitExpr still runs per statement, in the query's
 * context, so the ExprStates are exactly what ExecRelCheck would build.
 * A copy is used only while the relation's ccbin strings are unchanged
 * (ALTER TABLE gives new ones); any pg_proc change discards every copy (a
 * CHECK may inline a SQL function).  Partitions the executor opens while
 * routing rows prepare their own, as before.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "live.h"

typedef struct CheckCopy
{
	Oid			relid;			/* hash key */
	bool		valid;
	int			ncheck;
	char	  **ccbin;			/* as the relcache had them */
	Expr	  **planned;		/* stringToNode + expression_planner of each */
} CheckCopy;

static HTAB *copies = NULL;
static MemoryContext copies_cxt = NULL;
static bool armed = false;
static ExecutorStart_hook_type prev_executor_start = NULL;

static void
invalidate_all(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS hs;
	CheckCopy  *c;

	if (copies == NULL)
		return;
	/* marked, not freed: an ExprState of a running statement may point into a tree */
	hash_seq_init(&hs, copies);
	while ((c = hash_seq_search(&hs)) != NULL)
		c->valid = false;
}

/* The planned CHECK expressions of rel, current with its relcache entry. */
static CheckCopy *
check_copy(Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;
	Oid			relid = RelationGetRelid(rel);
	CheckCopy  *c;
	bool		found;
	MemoryContext old;

	if (copies == NULL)
	{
		HASHCTL		ctl;

		copies_cxt = AllocSetContextCreate(CacheMemoryContext, "fsmml live checks",
										   ALLOCSET_SMALL_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CheckCopy);
		ctl.hcxt = copies_cxt;
		copies = hash_create("fsmml live checks", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterSyscacheCallback(PROCOID, invalidate_all, (Datum) 0);
	}
	c = hash_search(copies, &relid, HASH_ENTER, &found);
	if (found && c->valid && c->ncheck == constr->num_check)
	{
		int			i;

		for (i = 0; i < c->ncheck; i++)
			if (strcmp(c->ccbin[i], constr->check[i].ccbin) != 0)
				break;
		if (i == c->ncheck)
			return c;
	}
	/* (re)built; an older copy's trees are left where they are (see invalidate_all) */
	old = MemoryContextSwitchTo(copies_cxt);
	c->ncheck = constr->num_check;
	c->ccbin = palloc(sizeof(char *) * c->ncheck);
	c->planned = palloc(sizeof(Expr *) * c->ncheck);
	for (int i = 0; i < c->ncheck; i++)
	{
		c->ccbin[i] = pstrdup(constr->check[i].ccbin);
		c->planned[i] = expression_planner((Expr *) stringToNode(constr->check[i].ccbin));
	}
	MemoryContextSwitchTo(old);
	c->valid = true;
	return c;
}

static void
prepare_checks(EState *estate)
{
	ListCell   *lc;

	foreach(lc, estate->es_opened_result_relations)
	{
		ResultRelInfo *rri = lfirst(lc);
		Relation	rel = rri->ri_RelationDesc;
		TupleConstr *constr = rel->rd_att->constr;
		CheckCopy  *c;
		MemoryContext old;

		if (constr == NULL || constr->num_check == 0 || rri->ri_ConstraintExprs != NULL ||
			rel->rd_rel->relkind != RELKIND_RELATION)
			continue;
		c = check_copy(rel);
		old = MemoryContextSwitchTo(estate->es_query_cxt);
		rri->ri_ConstraintExprs = palloc(sizeof(ExprState *) * c->ncheck);
		for (int i = 0; i < c->ncheck; i++)
			rri->ri_ConstraintExprs[i] = ExecInitExpr(c->planned[i], NULL);
		MemoryContextSwitchTo(old);
	}
}

static void
live_checks_executor_start(QueryDesc *queryDesc, int eflags)
{
	bool		mine = armed;

	armed = false;				/* this statement only, not what its triggers run */
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	if (mine && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		prepare_checks(queryDesc->estate);
}

void
fsmml_live_checks_arm(void)
{
	armed = true;
}

void
fsmml_live_checks_disarm(void)
{
	armed = false;
}

void
fsmml_live_checks_init(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = live_checks_executor_start;
}
