/*
 * bulk_insert.h — appending many rows to a table the way COPY does.
 */
#ifndef FSMML_BULK_INSERT_H
#define FSMML_BULK_INSERT_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/bitmapset.h"

typedef struct FsmmlBulkInsert FsmmlBulkInsert;

/*
 * True when rows can go straight into relid's heap and indexes and come out
 * exactly as INSERT INTO root (given columns) would make them; false when
 * only the executor's INSERT can honour the table's shape (rules, row-level
 * security, a foreign or partitioned table, a column left out whose type is
 * a domain without a default, triggers on a partition or on rows routed
 * through root, a BEFORE or INSTEAD OF ROW INSERT trigger).  Other INSERT
 * triggers of a plain table are fired as INSERT (and COPY) fires them.  root is the partitioned
 * table the rows are inserted through (relid being one of its partitions,
 * routed by the caller), or InvalidOid.  given: the attribute numbers, in
 * root's numbering, of the columns the caller supplies; the others get
 * their defaults.
 */
extern bool fsmml_bulk_insert_possible(Oid relid, Oid root, const Bitmapset *given);

/*
 * Opens relid for appending (RowExclusiveLock): checks INSERT privilege on
 * root (or relid) for the given columns as the executor does, prepares
 * defaults, generated columns, constraints and indexes.
 */
extern FsmmlBulkInsert *fsmml_bulk_insert_begin(Oid relid, Oid root, const Bitmapset *given);

/* The descriptor rows are passed in: root's (or relid's). */
extern TupleDesc fsmml_bulk_insert_tupdesc(FsmmlBulkInsert *b);

/*
 * One row in that descriptor (columns not given are ignored): defaults,
 * stored generated columns, NOT NULL / CHECK constraints, then heap and
 * every index (a duplicate key is an ERROR).
 */
extern void fsmml_bulk_insert_row(FsmmlBulkInsert *b, Datum *values, bool *nulls);

/* The same for a row already formed in that descriptor (copied). */
extern void fsmml_bulk_insert_tuple(FsmmlBulkInsert *b, HeapTuple tuple);

/* Closes everything and makes the rows visible to the following commands. */
extern void fsmml_bulk_insert_end(FsmmlBulkInsert *b);

#endif							/* FSMML_BULK_INSERT_H */
