/*
 * privilege.c — owner mode and caller scopes (the model is in privilege.h).
 *
 * Which entry points run in owner mode is decided here, in one list, by a
 * function manager hook: every fsmml entry point pins search_path (SET
 * clause), so PostgreSQL calls it through fmgr_security_definer, which calls
 * fmgr_hook around it.  The hook enters owner mode at FHET_START and leaves
 * at FHET_END/FHET_ABORT.  A function whose SET clause was removed is called
 * directly, stays in caller mode and fails closed ("permission denied" on
 * fsmml's tables).  No needs_fmgr_hook: it would cost a catalogue lookup for
 * every function of every query in the database.
 *
 * The switch is SetUserIdAndSecContext with SECURITY_LOCAL_USERID_CHANGE,
 * what a SECURITY DEFINER function does, so SET ROLE is refused inside and
 * aborts restore the previous user.  fsmml_owner is looked up on every entry
 * (a syscache hit): a dropped and re-created role is never a stale oid.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "fsmml.h"
#include "privilege.h"

/* The caller of the outermost owner-mode entry; InvalidOid outside one. */
static Oid	current_caller = InvalidOid;

/* Entry points that write (or read the model blobs of) fsmml's own tables. */
extern Datum fsmml_build_features(PG_FUNCTION_ARGS);
extern Datum fsmml_train(PG_FUNCTION_ARGS);
extern Datum fsmml_promote(PG_FUNCTION_ARGS);
extern Datum fsmml_deploy(PG_FUNCTION_ARGS);
extern Datum fsmml_import_model(PG_FUNCTION_ARGS);
extern Datum fsmml_export_model(PG_FUNCTION_ARGS);
extern Datum fsmml_model_card(PG_FUNCTION_ARGS);
extern Datum fsmml_predict(PG_FUNCTION_ARGS);
extern Datum fsmml_score(PG_FUNCTION_ARGS);
extern Datum fsmml_backtest(PG_FUNCTION_ARGS);
extern Datum fsmml_compare(PG_FUNCTION_ARGS);
extern Datum fsmml_optimize(PG_FUNCTION_ARGS);
extern Datum fsmml_report(PG_FUNCTION_ARGS);
extern Datum fsmml_live_trigger(PG_FUNCTION_ARGS);
extern Datum fsmml_enable_scoring(PG_FUNCTION_ARGS);
extern Datum fsmml_disable_scoring(PG_FUNCTION_ARGS);

static const PGFunction owner_mode_entries[] = {
	fsmml_build_features, fsmml_train, fsmml_promote, fsmml_deploy, fsmml_import_model,
	fsmml_export_model, fsmml_model_card, fsmml_predict, fsmml_score,
	fsmml_backtest, fsmml_compare, fsmml_optimize, fsmml_report,
	fsmml_live_trigger, fsmml_enable_scoring, fsmml_disable_scoring,	/* live scoring */
};

/* Per call site (fmgr_security_definer's cache): ours or not, and the saved user. */
typedef struct HookState
{
	bool		owner_mode;
	int			depth;			/* recursion through the same call site */
	FsmmlUserScope scopes[8];
	Datum		next_private;
} HookState;

static fmgr_hook_type next_fmgr_hook = NULL;

static void
privilege_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	HookState  *hs = (HookState *) DatumGetPointer(*private);

	if (hs == NULL)
	{
		hs = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(HookState));
		for (int i = 0; i < lengthof(owner_mode_entries); i++)
			if (flinfo->fn_addr == owner_mode_entries[i])
				hs->owner_mode = true;
		*private = PointerGetDatum(hs);
	}
	if (hs->owner_mode)
	{
		if (event == FHET_START)
		{
			if (hs->depth >= lengthof(hs->scopes))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("fsmml entry points nested too deeply")));
			fsmml_owner_enter(&hs->scopes[hs->depth++]);
		}
		else if (hs->depth > 0)
		{
			/* FHET_END restores; FHET_ABORT too (the abort would restore the user anyway). */
			fsmml_owner_leave(&hs->scopes[--hs->depth]);
		}
	}
	if (next_fmgr_hook)
		(*next_fmgr_hook) (event, flinfo, &hs->next_private);
}

static void
privilege_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		current_caller = InvalidOid;
}

void
fsmml_privilege_init(void)
{
	RegisterXactCallback(privilege_xact_callback, NULL);
	next_fmgr_hook = fmgr_hook;
	fmgr_hook = privilege_fmgr_hook;
}

/* Set once this backend saw the database's fsmml at the library's version. */
static bool version_checked = false;

/*
 * A new library over an old install (the package upgraded, ALTER EXTENSION
 * not yet run) would write tables the old script gave to another owner:
 * say what to do instead of "permission denied".
 */
static void
check_installed_version(void)
{
	Oid			extoid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *installed = NULL;

	if (version_checked)
		return;					/* a catalog scan per call otherwise (per bar, live) */
	extoid = get_extension_oid("fsmml", true);
	if (!OidIsValid(extoid))
		return;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			installed = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (installed && strcmp(installed, FSMML_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fsmml's library is version %s but this database has fsmml %s installed",
						FSMML_VERSION, installed),
				 errhint("Run ALTER EXTENSION fsmml UPDATE.")));
	version_checked = true;
}

/* fsmml_owner's oid, refusing a role that could do more than own fsmml's tables. */
static Oid
owner_role(void)
{
	Oid			owner = get_role_oid(FSMML_OWNER_ROLE, true);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", FSMML_OWNER_ROLE),
				 errhint("fsmml's tables are owned by that role; reinstall the extension (DROP EXTENSION fsmml; CREATE EXTENSION fsmml) as a superuser.")));
	if (superuser_arg(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" must not be a superuser", FSMML_OWNER_ROLE),
				 errhint("ALTER ROLE %s NOSUPERUSER: fsmml runs its writes as that role.",
						 FSMML_OWNER_ROLE)));
	return owner;
}

void
fsmml_owner_enter(FsmmlUserScope *s)
{
	Oid			owner;

	check_installed_version();
	owner = owner_role();
	GetUserIdAndSecContext(&s->save_user, &s->save_sec);
	s->save_caller = current_caller;
	/* A nested entry (an fsmml function called from owner mode) keeps the outer caller. */
	if (s->save_user != owner || !OidIsValid(current_caller))
		current_caller = s->save_user;
	SetUserIdAndSecContext(owner, s->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
fsmml_owner_leave(FsmmlUserScope *s)
{
	SetUserIdAndSecContext(s->save_user, s->save_sec);
	current_caller = s->save_caller;
}

Oid
fsmml_caller(void)
{
	return OidIsValid(current_caller) ? current_caller : GetUserId();
}

void
fsmml_caller_enter(FsmmlUserScope *s)
{
	GetUserIdAndSecContext(&s->save_user, &s->save_sec);
	s->save_caller = current_caller;
	if (OidIsValid(current_caller))
		SetUserIdAndSecContext(current_caller, s->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
fsmml_caller_leave(FsmmlUserScope *s)
{
	SetUserIdAndSecContext(s->save_user, s->save_sec);
	current_caller = s->save_caller;
}
