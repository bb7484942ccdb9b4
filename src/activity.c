/*-------------------------------------------------------------------------
 * activity.c
 *	  Owns the activity feed: paperclip.log_activity, list_activity,
 *	  activity_for_issue, normalize_activity_limit, and the links between
 *	  runs and issues (runs_for_issue, issues_for_run). Rows about hidden
 *	  issues stay out of the feed. An activity row's run, agent and issue
 *	  are of its own company (composite foreign keys).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_normalize_activity_limit);
PG_FUNCTION_INFO_V1(paperclip_list_activity);
PG_FUNCTION_INFO_V1(paperclip_activity_for_issue);
PG_FUNCTION_INFO_V1(paperclip_log_activity);
PG_FUNCTION_INFO_V1(paperclip_runs_for_issue);
PG_FUNCTION_INFO_V1(paperclip_issues_for_run);

#define DEFAULT_ACTIVITY_LIMIT 100
#define MAX_ACTIVITY_LIMIT 500

static PcPlan plan_list_activity = PC_PLAN(
	"SELECT l.* FROM paperclip.activity_log l "
	"WHERE l.company_id = $1 "
	"AND ($2::uuid IS NULL OR l.agent_id = $2) "
	"AND ($3::text IS NULL OR l.entity_type = $3) "
	"AND ($4::text IS NULL OR l.entity_id = $4) "
	"AND NOT EXISTS (SELECT 1 FROM paperclip.issues i "
	"  WHERE l.entity_type = 'issue' AND i.id::text = l.entity_id "
	"  AND i.hidden_at IS NOT NULL) "
	"ORDER BY l.created_at DESC, l.id LIMIT $5",
	UUIDOID, UUIDOID, TEXTOID, TEXTOID, INT4OID);

/* the issue's own company only, and nothing of a hidden issue */
static PcPlan plan_activity_for_issue = PC_PLAN(
	"SELECT l.* FROM paperclip.activity_log l "
	"JOIN paperclip.issues i ON i.company_id = l.company_id AND i.id = $1 "
	"WHERE l.entity_type = 'issue' AND l.entity_id = $1::text AND i.hidden_at IS NULL "
	"ORDER BY l.created_at DESC, l.id",
	UUIDOID);

static PcPlan plan_log_activity = PC_PLAN(
	"INSERT INTO paperclip.activity_log "
	"(company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
	UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, UUIDOID, UUIDOID, JSONBOID);

/* Usage and result summaries with camelCase and snake_case keys mirrored. */
#define MIRROR2(j, a, b) \
	"'" a "', coalesce(" j " -> '" a "', " j " -> '" b "'), " \
	"'" b "', coalesce(" j " -> '" b "', " j " -> '" a "')"
#define MIRROR3(j, a, b, c) \
	"'" a "', coalesce(" j " -> '" a "', " j " -> '" b "', " j " -> '" c "'), " \
	"'" b "', coalesce(" j " -> '" b "', " j " -> '" a "', " j " -> '" c "'), " \
	"'" c "', coalesce(" j " -> '" c "', " j " -> '" b "', " j " -> '" a "')"

#define USAGE_SUMMARY \
	"CASE WHEN r.usage_json IS NULL THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object(" \
	MIRROR2("r.usage_json", "inputTokens", "input_tokens") ", " \
	MIRROR2("r.usage_json", "outputTokens", "output_tokens") ", " \
	"'cachedInputTokens', coalesce(r.usage_json -> 'cachedInputTokens', r.usage_json -> 'cached_input_tokens', r.usage_json -> 'cache_read_input_tokens'), " \
	"'cached_input_tokens', coalesce(r.usage_json -> 'cached_input_tokens', r.usage_json -> 'cachedInputTokens', r.usage_json -> 'cache_read_input_tokens'), " \
	"'cache_read_input_tokens', coalesce(r.usage_json -> 'cache_read_input_tokens', r.usage_json -> 'cached_input_tokens', r.usage_json -> 'cachedInputTokens'), " \
	MIRROR2("r.usage_json", "billingType", "billing_type") ", " \
	"'costUsd', coalesce(r.usage_json -> 'costUsd', r.usage_json -> 'cost_usd', r.usage_json -> 'total_cost_usd'), " \
	"'cost_usd', coalesce(r.usage_json -> 'cost_usd', r.usage_json -> 'costUsd', r.usage_json -> 'total_cost_usd'), " \
	"'total_cost_usd', coalesce(r.usage_json -> 'total_cost_usd', r.usage_json -> 'cost_usd', r.usage_json -> 'costUsd'))) END"

#define RESULT_SUMMARY \
	"CASE WHEN r.result_json IS NULL OR jsonb_typeof(r.result_json) <> 'object' THEN NULL " \
	"ELSE jsonb_strip_nulls(jsonb_build_object(" \
	MIRROR2("r.result_json", "billingType", "billing_type") ", " \
	"'costUsd', coalesce(r.result_json -> 'costUsd', r.result_json -> 'cost_usd', r.result_json -> 'total_cost_usd'), " \
	"'cost_usd', coalesce(r.result_json -> 'cost_usd', r.result_json -> 'costUsd', r.result_json -> 'total_cost_usd'), " \
	"'total_cost_usd', coalesce(r.result_json -> 'total_cost_usd', r.result_json -> 'cost_usd', r.result_json -> 'costUsd'), " \
	"'stopReason', r.result_json -> 'stopReason', " \
	"'effectiveTimeoutSec', r.result_json -> 'effectiveTimeoutSec', " \
	"'effectiveTimeoutMs', r.result_json -> 'effectiveTimeoutMs', " \
	"'timeoutConfigured', r.result_json -> 'timeoutConfigured', " \
	"'timeoutSource', r.result_json -> 'timeoutSource', " \
	"'timeoutFired', r.result_json -> 'timeoutFired')) END"

static PcPlan plan_runs_for_issue = PC_PLAN(
	"SELECT r.id AS run_id, r.status, r.agent_id, a.adapter_type, r.started_at, "
	" r.finished_at, r.created_at, r.invocation_source, "
	USAGE_SUMMARY " AS usage_json, "
	RESULT_SUMMARY " AS result_json, "
	" r.log_bytes, r.retry_of_run_id, r.scheduled_retry_at, r.scheduled_retry_attempt, "
	" r.scheduled_retry_reason, r.liveness_state, r.liveness_reason, "
	" r.continuation_attempt, r.last_useful_action_at, r.next_action, "
	" (SELECT e.message FROM paperclip.heartbeat_run_events e "
	"   WHERE e.run_id = r.id AND e.event_type = 'lifecycle' "
	"   AND e.message LIKE 'Bounded retry exhausted%' "
	"   ORDER BY e.id DESC LIMIT 1) AS retry_exhausted_reason "
	"FROM paperclip.heartbeat_runs r "
	"JOIN paperclip.agents a ON a.id = r.agent_id AND a.company_id = r.company_id "
	"WHERE r.company_id = $1 "
	"AND (r.context_issue_id = $2::text "
	"  OR EXISTS (SELECT 1 FROM paperclip.activity_log l "
	"    WHERE l.company_id = $1 AND l.entity_type = 'issue' "
	"    AND l.entity_id = $2::text AND l.run_id = r.id)) "
	"ORDER BY r.created_at DESC, r.id",
	UUIDOID, UUIDOID);

static PcPlan plan_issues_for_run = PC_PLAN(
	"WITH run AS (SELECT company_id, context_issue_id AS ctx "
	"  FROM paperclip.heartbeat_runs WHERE id = $1), "
	"linked AS ("
	"  SELECT 0 AS ord, i.id, i.identifier, i.title, i.status, i.priority "
	"  FROM run JOIN paperclip.issues i "
	"    ON i.company_id = run.company_id AND i.id::text = run.ctx "
	"  WHERE i.hidden_at IS NULL "
	"  UNION "
	"  SELECT 1, i.id, i.identifier, i.title, i.status, i.priority "
	"  FROM run JOIN paperclip.activity_log l "
	"    ON l.company_id = run.company_id AND l.run_id = $1 AND l.entity_type = 'issue' "
	"  JOIN paperclip.issues i "
	"    ON i.company_id = run.company_id AND i.id::text = l.entity_id "
	"  WHERE i.hidden_at IS NULL AND i.id::text IS DISTINCT FROM run.ctx) "
	"SELECT id AS issue_id, identifier, title, status, priority FROM linked "
	"ORDER BY ord, id::text",
	UUIDOID);

static int
normalize_limit(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return DEFAULT_ACTIVITY_LIMIT;
	return Max(1, Min(MAX_ACTIVITY_LIMIT, PG_GETARG_INT32(argno)));
}

/*
 * paperclip.normalize_activity_limit(limit) RETURNS int: null -> 100,
 * clamped to 1..500.
 */
Datum
paperclip_normalize_activity_limit(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(normalize_limit(fcinfo, 0));
}

/*
 * Run a plan with the function's arguments and return its rows as the set.
 * For the STABLE functions: read-only, in the calling query's snapshot.
 */
static Datum
return_query(FunctionCallInfo fcinfo, PcPlan *plan, Datum *values, const char *nulls)
{
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	pc_exec_ro(plan, values, nulls, 0);
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}

/*
 * paperclip.list_activity(company_id, agent_id, entity_type, entity_id,
 * limit) RETURNS SETOF activity_log, newest first.
 */
Datum
paperclip_list_activity(PG_FUNCTION_ARGS)
{
	Datum		v[5];
	char		n[5] = {' ', ' ', ' ', ' ', ' '};
	int			i;

	pc_check_not_null(fcinfo, 0, "company_id");
	for (i = 0; i < 4; i++)
	{
		v[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		n[i] = pc_null(PG_ARGISNULL(i));
	}
	v[4] = Int32GetDatum(normalize_limit(fcinfo, 4));
	return return_query(fcinfo, &plan_list_activity, v, n);
}

/*
 * paperclip.activity_for_issue(issue_id) RETURNS SETOF activity_log
 */
Datum
paperclip_activity_for_issue(PG_FUNCTION_ARGS)
{
	Datum		v[1];

	pc_check_not_null(fcinfo, 0, "issue_id");
	v[0] = PG_GETARG_DATUM(0);
	return return_query(fcinfo, &plan_activity_for_issue, v, NULL);
}

/*
 * paperclip.log_activity(company_id, actor_type, actor_id, action,
 * entity_type, entity_id, agent_id, run_id, details) RETURNS activity_log
 */
Datum
paperclip_log_activity(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {
		"company_id", "actor_type", "actor_id", "action", "entity_type", "entity_id"
	};
	Datum		v[9];
	char		n[9];
	Datum		result;
	int			i;

	pc_check_writable(fcinfo);
	for (i = 0; i < 6; i++)
		pc_check_not_null(fcinfo, i, required[i]);
	for (i = 2; i < 6; i++)
		pc_check_length(fcinfo, i, required[i], PC_MAX_NAME_BYTES);
	pc_check_vocabulary("actor_type", text_to_cstring(PG_GETARG_TEXT_PP(1)), pc_actor_types);
	if (!PG_ARGISNULL(8))
		pc_check_size("details", PG_GETARG_JSONB_P(8));
	for (i = 0; i < 9; i++)
	{
		v[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		n[i] = pc_null(PG_ARGISNULL(i));
	}

	SPI_connect();
	pc_check_company_access(v[0]);
	pc_exec(&plan_log_activity, v, n, 0);
	result = pc_return_row(fcinfo, 0);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * paperclip.runs_for_issue(company_id, issue_id) RETURNS TABLE(...): runs
 * whose context names the issue or that logged activity on it, newest first.
 */
Datum
paperclip_runs_for_issue(PG_FUNCTION_ARGS)
{
	Datum		v[2];

	pc_check_not_null(fcinfo, 0, "company_id");
	pc_check_not_null(fcinfo, 1, "issue_id");
	v[0] = PG_GETARG_DATUM(0);
	v[1] = PG_GETARG_DATUM(1);
	return return_query(fcinfo, &plan_runs_for_issue, v, NULL);
}

/*
 * paperclip.issues_for_run(run_id) RETURNS TABLE(issue_id, identifier,
 * title, status, priority): the context issue first, then issues with
 * activity from the run; hidden issues left out; unknown run: empty.
 */
Datum
paperclip_issues_for_run(PG_FUNCTION_ARGS)
{
	Datum		v[1];

	pc_check_not_null(fcinfo, 0, "run_id");
	v[0] = PG_GETARG_DATUM(0);
	return return_query(fcinfo, &plan_issues_for_run, v, NULL);
}
