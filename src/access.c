/*-------------------------------------------------------------------------
 * access.c
 *	  Owns company isolation inside the SECURITY DEFINER entry points. They
 *	  act as the extension owner, which row-level security does not limit,
 *	  so each checks first that the calling role may touch the company of
 *	  the agent, run or company it was given: a role bound to companies in
 *	  paperclip.company_roles touches only theirs (42501 otherwise); a role
 *	  bound to none, and every superuser, touches all.
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

/* $1 agent, $2 role: a row only when the role is bound, "denied" when not to the agent's company */
static PcPlan plan_agent_denied = PC_PLAN(
	"SELECT NOT (a.company_id OPERATOR(pg_catalog.=) ANY (r.c)) AS denied, a.company_id "
	"FROM paperclip.agents a, (SELECT paperclip.visible_companies($2) AS c) r "
	"WHERE a.id OPERATOR(pg_catalog.=) $1 AND r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_run_denied = PC_PLAN(
	"SELECT NOT (h.company_id OPERATOR(pg_catalog.=) ANY (r.c)) AS denied, h.company_id "
	"FROM paperclip.heartbeat_runs h, (SELECT paperclip.visible_companies($2) AS c) r "
	"WHERE h.id OPERATOR(pg_catalog.=) $1 AND r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_company_denied = PC_PLAN(
	"SELECT NOT ($1 OPERATOR(pg_catalog.=) ANY (r.c)) AS denied, $1 AS company_id "
	"FROM (SELECT paperclip.visible_companies($2) AS c) r WHERE r.c IS NOT NULL",
	UUIDOID, NAMEOID);

static PcPlan plan_role_bound = PC_PLAN(
	"SELECT paperclip.visible_companies($1) IS NOT NULL AS bound",
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

static void
check(PcPlan *plan, Datum id)
{
	char	   *role = restricted_caller();
	Datum		v[2];
	bool		isnull;
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;

	if (role == NULL)
		return;
	v[0] = id;
	v[1] = DirectFunctionCall1(namein, CStringGetDatum(role));
	if (pc_exec_row(plan, v, NULL) && DatumGetBool(pc_getattr(0, "denied", &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for company %s", pc_getattr_cstring(0, "company_id")),
				 errdetail("Role \"%s\" is bound to other companies in paperclip.company_roles.", role)));
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}

/* The caller may touch this agent's company (an unknown agent passes: the caller reports it). */
void
pc_check_agent_access(Datum agent_id)
{
	check(&plan_agent_denied, agent_id);
}

void
pc_check_run_access(Datum run_id)
{
	check(&plan_run_denied, run_id);
}

void
pc_check_company_access(Datum company_id)
{
	check(&plan_company_denied, company_id);
}

/* What spans every company (timer ticks, retry promotion, pruning) needs an unbound role. */
void
pc_check_all_companies(const char *function_name)
{
	char	   *role = restricted_caller();
	Datum		v;
	bool		isnull;

	if (role == NULL)
		return;
	v = DirectFunctionCall1(namein, CStringGetDatum(role));
	if (pc_exec_row(&plan_role_bound, &v, NULL) && DatumGetBool(pc_getattr(0, "bound", &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", function_name),
				 errdetail("It acts on every company, and role \"%s\" is bound to some in paperclip.company_roles.",
						   role),
				 errhint("Call it as a role bound to no company.")));
}
