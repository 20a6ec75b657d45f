/*
 * pred_write.c — writing fsmml_score's predictions into trading.agentpreds:
 * the prepared statements (stored rows of a range, INSERT of the missing,
 * UPDATE of the changed) and the direct writes of new rows into their
 * partition's heap and indexes (bulk_insert.c), exactly as INSERT would.
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "bars.h"
#include "bulk_insert.h"
#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "xgb.h"
#include "serve.h"

/* The columns fsmml_score writes, as its INSERT names them. */
static const char *const pred_cols[PRED_NCOLS] = {
	"agent_version_id", "symbol", "timeframe", "timestamp", "horizon", "payload"
};

typedef struct PredPartition
{
	Oid			relid;
	bool		direct;			/* direct writes possible */
} PredPartition;

SPIPlanPtr
fsmml_spi_prepare(const char *sql, int nargs, Oid *types)
{
	return fsmml_spi_prepare_opts(sql, nargs, types, 0);
}

/* The plan in *slot, prepared and kept (SPI_keepplan) on first use: the live path's statements. */
SPIPlanPtr
fsmml_spi_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	p = fsmml_spi_prepare(sql, nargs, types);

		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = p;
	}
	return *slot;
}

/*
 * CURSOR_OPT_CUSTOM_PLAN for the reads of stored rows: a table that
 * fsmml_score fills as it goes looks empty when the generic plan is made,
 * and that plan's sequential scan would then read the whole growing table
 * for every batch.
 */
SPIPlanPtr
fsmml_spi_prepare_opts(const char *sql, int nargs, Oid *types, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s: %s", SPI_result_code_string(SPI_result), sql);
	return plan;
}

/*
 * No ON CONFLICT: the batch is merged against the stored rows first, and
 * only missing rows are inserted (a plain INSERT costs half a speculative
 * one), changed ones updated, equal ones left alone.  The statements do not
 * depend on which unique index agentpreds has.
 */
PredPlans
fsmml_prepare_pred_plans(void)
{
	PredPlans	p;
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Oid			wtypes[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZARRAYOID, JSONBARRAYOID};

	p.existing = fsmml_spi_prepare_opts("SELECT \"timestamp\", payload FROM trading.agentpreds "
										"WHERE agent_version_id = $1 AND symbol = $2 AND timeframe = $3 "
										"AND horizon = $4 AND \"timestamp\" >= $5 AND \"timestamp\" <= $6 "
										"ORDER BY \"timestamp\"", 6, types, CURSOR_OPT_CUSTOM_PLAN);
	p.insert = fsmml_spi_prepare("INSERT INTO trading.agentpreds "
					   "(agent_version_id, symbol, timeframe, \"timestamp\", horizon, payload) "
					   "SELECT $1, $2, $3, u.t, $4, u.j FROM unnest($5, $6) AS u(t, j)",
					   6, wtypes);
	p.update = fsmml_spi_prepare("UPDATE trading.agentpreds AS p SET payload = u.j "
					   "FROM unnest($5, $6) AS u(t, j) "
					   "WHERE p.agent_version_id = $1 AND p.symbol = $2 AND p.timeframe = $3 "
					   "AND p.horizon = $4 AND p.\"timestamp\" = u.t",
					   6, wtypes);
	return p;
}

/* Same bytes: a stored payload equal to the one computed. */
bool
fsmml_payload_equal(Datum stored, Jsonb *computed)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(stored));

	return VARSIZE_ANY_EXHDR(v) == VARSIZE(computed) - VARHDRSZ &&
		memcmp(VARDATA_ANY(v), VARDATA(computed), VARSIZE(computed) - VARHDRSZ) == 0;
}

void
fsmml_write_rows(SPIPlanPtr plan, Datum *values, const Datum *tsd, const Datum *jd, int n, int expect)
{
	int			rc;

	if (n == 0)
		return;
	values[4] = PointerGetDatum(construct_array((Datum *) tsd, n, TIMESTAMPTZOID,
												sizeof(TimestampTz), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_array((Datum *) jd, n, JSONBOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_plan(plan, values, NULL, false, 0);
	if (rc != expect)
		elog(ERROR, "writing predictions failed: %s", SPI_result_code_string(rc));
}

/* ---------------------------------------------------------------- direct writes */

/*
 * New predictions go straight into the heap and indexes of their monthly
 * partition (bulk_insert.c: what COPY does, without the executor's INSERT)
 * when the row comes out exactly as INSERT INTO trading.agentpreds would
 * make it: INSERT privilege on agentpreds, the other columns' defaults
 * (created_at's now() included), generated columns, constraints and every
 * index; and when nothing else has to see the rows go in: no trigger or
 * rule on agentpreds or the partition (the foreign key's RI triggers
 * count), no row-level security (fsmml_bulk_insert_possible).  The
 * partition of a row is found from the partition bounds as the executor's
 * routing does.  Otherwise the batch goes through the prepared
 * INSERT ... SELECT FROM unnest(...).
 */

void
fsmml_pred_target_open(PredTarget *t)
{
	static const Oid types[PRED_NCOLS] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID,
	JSONBOID};
	Oid			relid = RangeVarGetRelid(makeRangeVar("trading", "agentpreds", -1),
										 RowExclusiveLock, false);
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	desc = RelationGetDescr(rel);
	PartitionKey key;

	memset(t, 0, sizeof(*t));
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE || rel->trigdesc != NULL ||
		rel->rd_rel->relhasrules || rel->rd_rel->relrowsecurity)
	{
		table_close(rel, NoLock);
		return;
	}
	key = RelationGetPartitionKey(rel);
	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] == 0 ||
		strcmp(NameStr(TupleDescAttr(desc, key->partattrs[0] - 1)->attname),
			   "timestamp") != 0 ||
		key->parttypid[0] != TIMESTAMPTZOID)
	{
		table_close(rel, NoLock);
		return;
	}
	t->natts = desc->natts;
	for (int c = 0; c < PRED_NCOLS; c++)
	{
		t->attpos[c] = -1;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), pred_cols[c]) == 0 &&
				att->atttypid == types[c])
				t->attpos[c] = a;
		}
		if (t->attpos[c] < 0)
		{
			/* A column changed type or went away: INSERT will say what is wrong. */
			table_close(rel, NoLock);
			return;
		}
		t->given = bms_add_member(t->given, t->attpos[c] + 1);
	}
	t->parent = rel;
	t->key = key;
	t->pd = RelationGetPartitionDesc(rel, true);
}

void
fsmml_pred_target_close(PredTarget *t)
{
	if (t->parent)
		table_close(t->parent, NoLock);
	t->parent = NULL;
}

/* The partition holding ts, or InvalidOid (no partition: the executor will say so). */
static Oid
pred_partition_of(PredTarget *t, TimestampTz ts)
{
	PartitionBoundInfo bi = t->pd->boundinfo;
	Datum		v = TimestampTzGetDatum(ts);
	bool		equal = false;
	int			idx = -1;

	if (bi == NULL)
		return InvalidOid;
	if (bi->ndatums > 0)
	{
		int			off = partition_range_datum_bsearch(t->key->partsupfunc,
														t->key->partcollation,
														bi, 1, &v, &equal);

		idx = bi->indexes[off + 1];
	}
	if (idx < 0)
		idx = bi->default_index;
	return idx < 0 ? InvalidOid : t->pd->oids[idx];
}

static PredPartition *
pred_partition(PredTarget *t, Oid relid)
{
	ListCell   *lc;
	PredPartition *p;

	foreach(lc, t->parts)
	{
		p = lfirst(lc);
		if (p->relid == relid)
			return p;
	}
	p = palloc0(sizeof(PredPartition));
	p->relid = relid;
	p->direct = fsmml_bulk_insert_possible(relid, RelationGetRelid(t->parent), t->given);
	t->parts = lappend(t->parts, p);
	return p;
}

/*
 * Writes rows [0, n) directly when every row's partition allows it;
 * returns false (nothing written) otherwise.
 */
bool
fsmml_write_rows_direct(PredTarget *t, const Datum *fixed, const Datum *tsd, const Datum *jd, int n)
{
	Oid		   *part;
	Datum	   *values;
	bool	   *nulls;
	int			r = 0;

	if (t->parent == NULL || n == 0)
		return false;
	part = palloc(sizeof(Oid) * n);
	for (int k = 0; k < n; k++)
	{
		part[k] = pred_partition_of(t, DatumGetTimestampTz(tsd[k]));
		if (!OidIsValid(part[k]) ||
			((k == 0 || part[k] != part[k - 1]) && !pred_partition(t, part[k])->direct))
			return false;
	}
	/* Rows in agentpreds' layout; the other columns take their defaults. */
	values = palloc0(sizeof(Datum) * t->natts);
	nulls = palloc(sizeof(bool) * t->natts);
	memset(nulls, true, sizeof(bool) * t->natts);
	for (int c = 0; c < PRED_NCOLS; c++)
		nulls[t->attpos[c]] = false;
	values[t->attpos[0]] = fixed[0];	/* agent_version_id */
	values[t->attpos[1]] = fixed[1];	/* symbol */
	values[t->attpos[2]] = fixed[2];	/* timeframe */
	values[t->attpos[4]] = fixed[3];	/* horizon */
	while (r < n)
	{
		Oid			relid = part[r];
		FsmmlBulkInsert *bi = fsmml_bulk_insert_begin(relid, RelationGetRelid(t->parent),
													  t->given);

		for (; r < n && part[r] == relid; r++)
		{
			values[t->attpos[3]] = tsd[r];
			values[t->attpos[5]] = jd[r];
			fsmml_bulk_insert_row(bi, values, nulls);
		}
		fsmml_bulk_insert_end(bi);
	}
	return true;
}
