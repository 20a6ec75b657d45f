/*
 * privilege.h — whose rights each part of an fsmml call runs with.
 *
 * fsmml's SQL functions are SECURITY INVOKER.  An entry point that writes
 * fsmml's own tables enters "owner mode": it runs as the role fsmml_owner
 * (NOLOGIN, never a superuser), which owns those tables and nothing else.
 * Anything that touches a table another role controls (the bars in
 * trading.historicaldata: their triggers, defaults, index expressions, RLS
 * policies, a view in their place) runs as the caller instead, inside a
 * caller scope.  fsmml_owner has no privilege on the bars, so a read of them
 * outside a caller scope fails rather than running someone's code as owner.
 *
 * Scopes nest.  An ERROR needs no cleanup: transaction and subtransaction
 * abort restore the user id, and the recorded caller is forgotten at the end
 * of every top-level transaction.
 */
#ifndef FSMML_PRIVILEGE_H
#define FSMML_PRIVILEGE_H

#include "postgres.h"

#define FSMML_OWNER_ROLE "fsmml_owner"

typedef struct FsmmlUserScope
{
	Oid			save_user;
	int			save_sec;
	Oid			save_caller;
} FsmmlUserScope;

extern void fsmml_privilege_init(void);

/* Run as fsmml_owner until fsmml_owner_leave; the current user is the caller. */
extern void fsmml_owner_enter(FsmmlUserScope *s);
extern void fsmml_owner_leave(FsmmlUserScope *s);

/* Run as the caller (a no-op outside owner mode) until fsmml_caller_leave. */
extern void fsmml_caller_enter(FsmmlUserScope *s);
extern void fsmml_caller_leave(FsmmlUserScope *s);

/* The role whose rights user code runs with: the caller in owner mode, else the current user. */
extern Oid	fsmml_caller(void);

#endif							/* FSMML_PRIVILEGE_H */
