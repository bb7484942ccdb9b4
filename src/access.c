/*-------------------------------------------------------------------------
 * access.c
 *	  Owns company isolation inside the SECURITY DEFINER entry points. They
 *	  act as the extension owner, which row-level security does not limit,
 *	  so each checks first that the calling role may touch the company of
 *	  the agent, run or company it was given (paperclip.visible_companies):
 *	  a role touches the companies its rows in paperclip.company_roles name,
 *	  every company with a row whose company_id is NULL, none without rows
 *	  (42501 otherwise); every superuser touches all. A refusal names what
 *	  the caller gave, never the company it belongs to.
 *
 *	  The calling role is the outer user: the role in effect outside any
 *	  SECURITY DEFINER function (the session's role after SET ROLE).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "paperclip.h"
#include "spi_util.h"

/*
 * $1 agent, $2 role: a row only when the role does not see every company,
 * "denied" when it may not see the agent's
 */
static PcPlan plan_agent_denied = PC_PLAN(
	"SELECT NOT (a.company_id OPERATOR(pg_catalog.=) ANY (r.c)) AS denied "
	"FROM paperclip.agents a, (SELECT paperclip.visible_companies($2) AS c) r "
	"WHERE a.id OPERATOR(pg_catalog.=) $1 AND r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_run_denied = PC_PLAN(
	"SELECT NOT (h.company_id OPERATOR(pg_catalog.=) ANY (r.c)) AS denied "
	"FROM paperclip.heartbeat_runs h, (SELECT paperclip.visible_companies($2) AS c) r "
	"WHERE h.id OPERATOR(pg_catalog.=) $1 AND r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_company_denied = PC_PLAN(
	"SELECT NOT ($1 OPERATOR(pg_catalog.=) ANY (r.c)) AS denied "
	"FROM (SELECT paperclip.visible_companies($2) AS c) r WHERE r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_sees_all = PC_PLAN(
	"SELECT paperclip.visible_companies($1) IS NULL AS sees_all",
	NAMEOID);

/* The calling role's name, or NULL for a superuser (who touches everything). */
static char *
restricted_caller(void)
{
	Oid			role = GetOuterUserId();

	if (superuser_arg(role))
		return NULL;
	return GetUserNameFromId(role, false);
}

/* what: "agent", "heartbeat run" or "company": the kind of id the caller gave */
static void
check(PcPlan *plan, Datum id, const char *what)
{
	char	   *role = restricted_caller();
	Datum		v[2];
	bool		isnull;
	bool		denied;
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;

	if (role == NULL)
		return;
	v[0] = id;
	v[1] = DirectFunctionCall1(namein, CStringGetDatum(role));
	denied = pc_exec_row(plan, v, NULL) && DatumGetBool(pc_getattr(0, "denied", &isnull));
	pc_free_tuptable(SPI_tuptable);
	if (denied)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s %s", what,
						DatumGetCString(DirectFunctionCall1(uuid_out, id))),
				 errdetail("Role \"%s\" may not touch its company (paperclip.company_roles).", role)));
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}

/* The caller may touch this agent's company (an unknown agent passes: the caller reports it). */
void
pc_check_agent_access(Datum agent_id)
{
	check(&plan_agent_denied, agent_id, "agent");
}

void
pc_check_run_access(Datum run_id)
{
	check(&plan_run_denied, run_id, "heartbeat run");
}

void
pc_check_company_access(Datum company_id)
{
	check(&plan_company_denied, company_id, "company");
}

/*
 * What spans every company (timer ticks, retry promotion, pruning) needs a
 * role that sees every company.
 */
void
pc_check_all_companies(const char *function_name)
{
	char	   *role = restricted_caller();
	Datum		v;
	bool		isnull;
	bool		sees_all;

	if (role == NULL)
		return;
	v = DirectFunctionCall1(namein, CStringGetDatum(role));
	sees_all = pc_exec_row(&plan_sees_all, &v, NULL) && DatumGetBool(pc_getattr(0, "sees_all", &isnull));
	pc_free_tuptable(SPI_tuptable);
	if (!sees_all)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", function_name),
				 errdetail("It acts on every company, and role \"%s\" may not see every company.", role),
				 errhint("Call it as a role bound to every company: a row with company_id NULL in paperclip.company_roles.")));
}
