/*
 * bulk_insert.h — appending many rows to a plain table the way COPY does.
 */
#ifndef FSMML_BULK_INSERT_H
#define FSMML_BULK_INSERT_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"

typedef struct FsmmlBulkInsert FsmmlBulkInsert;

/*
 * True when rows can go straight into the heap and its indexes: a plain
 * table without triggers or rules (those need the executor's INSERT).
 */
extern bool fsmml_bulk_insert_possible(Oid relid);

/* Opens relid for appending (RowExclusiveLock), checks, indexes and all. */
extern FsmmlBulkInsert *fsmml_bulk_insert_begin(Oid relid);
extern TupleDesc fsmml_bulk_insert_tupdesc(FsmmlBulkInsert *b);

/* One row: CHECK / NOT NULL constraints, heap, every index (a duplicate key is an ERROR). */
extern void fsmml_bulk_insert_row(FsmmlBulkInsert *b, Datum *values, bool *nulls);

/* The same for a row already formed for this table (copied). */
extern void fsmml_bulk_insert_tuple(FsmmlBulkInsert *b, HeapTuple tuple);

/* Closes everything and makes the rows visible to the following commands. */
extern void fsmml_bulk_insert_end(FsmmlBulkInsert *b);

#endif							/* FSMML_BULK_INSERT_H */
