/*-------------------------------------------------------------------------
 * runs.c
 *	  Owns the life of a run after it is queued: paperclip.finalize_run (the
 *	  one finalization path: outcome, usage and cost, session, runtime
 *	  totals, cost events, agent status, bounded retries), cancellation,
 *	  the agent's runtime state, and listing runs (newest first, in pages).
 *	  When a run that was running ends, however it ends, the wakes deferred
 *	  for it are released (followups.c) while the run is still locked.
 *
 *	  Finalization is idempotent: a run whose result was recorded
 *	  (finalized_at set) or that reached a terminal status is returned
 *	  unchanged, so a cost is never counted twice. A run cancelled while it
 *	  ran stays cancelled; its result is still recorded once.
 *
 *	  Where a run's log lives is the run's (runlog.c): logStore, logRef and
 *	  logCompressed in a result are ignored, whoever sends them.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "run_state.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_finalize_run);
PG_FUNCTION_INFO_V1(paperclip_cancel_run);
PG_FUNCTION_INFO_V1(paperclip_cancel_active_for_agent);
PG_FUNCTION_INFO_V1(paperclip_get_runtime_state);
PG_FUNCTION_INFO_V1(paperclip_reset_runtime_session);
PG_FUNCTION_INFO_V1(paperclip_list_runs);

#define MAX_COST_USD 1000000.0
#define CANCEL_ERROR "Cancelled by control plane"
#define PAUSE_ERROR "Cancelled due to agent pause"

/* Keys of the adapter result; any other key is kept in result_json. */
#define RESULT_KEYS \
	"{exitCode,signal,timedOut,errorMessage,errorCode,usage,costUsd,sessionId," \
	"clearSession,provider,model,resultJson,transient,stdoutExcerpt," \
	"stderrExcerpt,logStore,logRef,logBytes,logSha256,logCompressed}"

/* the one list of transient error codes: protocol.h */
static const char *const transient_codes[] = {PC_TRANSIENT_ERROR_CODES, NULL};

/* An adapter result, validated. */
typedef struct AdapterResult
{
	Jsonb	   *json;
	bool		has_exit_code;
	int32		exit_code;
	bool		timed_out;
	bool		clear_session;
	char	   *session_id;		/* sessionId, else sessionParams.sessionId */
	bool		has_session_params; /* the key is there (its value may be null) */
	Jsonb	   *session_params; /* NULL for a null value */
	bool		transient;
	char	   *error_message;
	char	   *error_code;
	int64		input_tokens;
	int64		output_tokens;
	int64		cached_input_tokens;
	Datum		cost_cents;		/* numeric: costUsd x 100, exact */
	int32		cost_cents_rounded;
	bool		has_retry_not_before;
	TimestampTz retry_not_before;	/* no retry before this time */
	bool		has_log_bytes;
	int64		log_bytes;
} AdapterResult;

/* What finalize decided. */
typedef struct Outcome
{
	const char *status;			/* succeeded | failed | timed_out | cancelled */
	const char *error;
	const char *error_code;
	const char *wakeup_status;
	const char *agent_status;
} Outcome;

static PcPlan plan_lock_run = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_runs WHERE id = $1 FOR NO KEY UPDATE", UUIDOID);

/*
 * Totals that stop at the largest value of their type instead of failing the
 * finalization (the exact amounts stay in cost_events and the runs).
 */
#define SATURATING_BIGINT_SUM(a, b) \
	"least(" a "::numeric + " b ", 9223372036854775807)::bigint"
#define SATURATING_INT_SUM(a, b) \
	"least(" a "::bigint + " b ", 2147483647)::int"

static PcPlan plan_upsert_runtime = PC_PLAN(
	"INSERT INTO paperclip.agent_runtime_state AS s "
	"(agent_id, company_id, adapter_type, session_id, last_run_id, last_run_status, "
	" last_error, total_input_tokens, total_output_tokens, total_cached_input_tokens, "
	" total_cost_cents, session_params) "
	"SELECT a.id, a.company_id, a.adapter_type, CASE WHEN $6 THEN NULL ELSE $2 END, "
	" $3, $4, $5, $7, $8, $9, $10, CASE WHEN $6 THEN NULL ELSE $11 END "
	"FROM paperclip.agents a WHERE a.id = $1 "
	"ON CONFLICT (agent_id) DO UPDATE SET adapter_type = excluded.adapter_type, "
	" session_id = CASE WHEN $6 THEN NULL ELSE coalesce($2, s.session_id) END, "
	" session_params = CASE WHEN $6 THEN NULL WHEN $12 THEN $11 ELSE s.session_params END, "
	" last_run_id = excluded.last_run_id, last_run_status = excluded.last_run_status, "
	" last_error = excluded.last_error, "
	" total_input_tokens = " SATURATING_BIGINT_SUM("s.total_input_tokens", "excluded.total_input_tokens") ", "
	" total_output_tokens = " SATURATING_BIGINT_SUM("s.total_output_tokens", "excluded.total_output_tokens") ", "
	" total_cached_input_tokens = "
	SATURATING_BIGINT_SUM("s.total_cached_input_tokens", "excluded.total_cached_input_tokens") ", "
	" total_cost_cents = s.total_cost_cents + excluded.total_cost_cents, "
	" updated_at = now() "
	"RETURNING session_id",
	UUIDOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID, BOOLOID, INT8OID, INT8OID, INT8OID,
	NUMERICOID, JSONBOID, BOOLOID);

#define R_USAGE "nullif($2 -> 'usage', 'null')"
#define R_COST "nullif($2 -> 'costUsd', 'null')"
#define R_RESULT "nullif($2 -> 'resultJson', 'null')"
#define R_EXTRA "($2 - '" RESULT_KEYS "'::text[])"

static PcPlan plan_finish_run = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET status = $3, "
	" finished_at = coalesce(finished_at, now()), error = $4, error_code = $5, "
	" exit_code = $6, signal = $2 ->> 'signal', "
	" usage_json = CASE WHEN " R_USAGE " IS NULL AND " R_COST " IS NULL THEN NULL "
	"   ELSE coalesce(" R_USAGE ", '{}') || CASE WHEN " R_COST " IS NULL THEN '{}'::jsonb "
	"   ELSE jsonb_build_object('costUsd', " R_COST ") END END, "
	" result_json = CASE WHEN " R_EXTRA " = '{}' THEN " R_RESULT " "
	"   WHEN " R_RESULT " IS NULL THEN " R_EXTRA " "
	"   WHEN jsonb_typeof(" R_RESULT ") = 'object' THEN " R_EXTRA " || " R_RESULT " "
	"   ELSE " R_EXTRA " || jsonb_build_object('resultJson', " R_RESULT ") END, "
	" session_id_after = $7, "
	" stdout_excerpt = coalesce($2 ->> 'stdoutExcerpt', stdout_excerpt), "
	" stderr_excerpt = coalesce($2 ->> 'stderrExcerpt', stderr_excerpt), "
	" log_bytes = coalesce($9, log_bytes), "
	" log_sha256 = coalesce($2 ->> 'logSha256', log_sha256), "
	" finalized_at = now(), event_seq = event_seq + $8, updated_at = now() "
	"WHERE id = $1 RETURNING *",
	UUIDOID, JSONBOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID, INT8OID);

static PcPlan plan_finish_wakeup = PC_PLAN(
	"UPDATE paperclip.agent_wakeup_requests SET status = $2, finished_at = now(), "
	" error = $3, updated_at = now() WHERE id = $1",
	UUIDOID, TEXTOID, TEXTOID);

static PcPlan plan_insert_cost = PC_PLAN(
	"INSERT INTO paperclip.cost_events "
	"(company_id, agent_id, run_id, provider, model, input_tokens, output_tokens, "
	" cost_cents, occurred_at) "
	"VALUES ($1, $2, $3, coalesce($4 ->> 'provider', 'unknown'), "
	" coalesce($4 ->> 'model', 'unknown'), $5, $6, $7, now())",
	UUIDOID, UUIDOID, UUIDOID, JSONBOID, INT8OID, INT8OID, INT4OID);

/* $2 null: leave the status as it is */
static PcPlan plan_agent_after_run = PC_PLAN(
	"UPDATE paperclip.agents SET "
	" status = CASE WHEN $2 IS NULL OR status IN ('paused', 'terminated') "
	"   THEN status ELSE $2 END, "
	" last_heartbeat_at = now(), "
	" spent_monthly_cents = " SATURATING_INT_SUM("spent_monthly_cents", "$3") ", "
	" updated_at = now() "
	"WHERE id = $1 RETURNING id, company_id, status, last_heartbeat_at",
	UUIDOID, TEXTOID, INT4OID);

/* $4: the result's retryNotBefore, or null */
static PcPlan plan_schedule_retry = PC_PLAN(
	"INSERT INTO paperclip.heartbeat_runs "
	"(company_id, agent_id, invocation_source, trigger_detail, status, context_snapshot, "
	" session_id_before, retry_of_run_id, scheduled_retry_at, scheduled_retry_attempt, "
	" scheduled_retry_reason) "
	"SELECT company_id, agent_id, invocation_source, trigger_detail, 'scheduled_retry', "
	" context_snapshot, session_id_after, id, greatest(now() + make_interval(secs => $2), $4), "
	" scheduled_retry_attempt + 1, $3 "
	"FROM paperclip.heartbeat_runs WHERE id = $1 RETURNING *",
	UUIDOID, FLOAT8OID, TEXTOID, TIMESTAMPTZOID);

static PcPlan plan_cancel = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET status = 'cancelled', "
	" finished_at = now(), error = $2, error_code = $3, "
	" event_seq = event_seq + 1, updated_at = now() "
	"WHERE id = $1 RETURNING *",
	UUIDOID, TEXTOID, TEXTOID);

static PcPlan plan_agent_company = PC_PLAN(
	"SELECT company_id FROM paperclip.agents WHERE id = $1", UUIDOID);

static PcPlan plan_lock_pending_runs = PC_PLAN(
	"SELECT id FROM paperclip.heartbeat_runs "
	"WHERE company_id = $1 AND agent_id = $2 "
	"AND status IN ('queued', 'running', 'scheduled_retry') "
	"ORDER BY created_at FOR NO KEY UPDATE",
	UUIDOID, UUIDOID);

static PcPlan plan_get_state = PC_PLAN(
	"SELECT * FROM paperclip.agent_runtime_state WHERE agent_id = $1", UUIDOID);

static PcPlan plan_create_state = PC_PLAN(
	"INSERT INTO paperclip.agent_runtime_state (agent_id, company_id, adapter_type) "
	"SELECT id, company_id, adapter_type FROM paperclip.agents WHERE id = $1 "
	"ON CONFLICT (agent_id) DO NOTHING RETURNING *",
	UUIDOID);

static PcPlan plan_reset_session = PC_PLAN(
	"UPDATE paperclip.agent_runtime_state SET session_id = NULL, session_params = NULL, "
	" state_json = '{}', "
	" last_error = NULL, updated_at = now() WHERE agent_id = $1 RETURNING *",
	UUIDOID);

/*
 * Pages of runs, newest first: $3 rows before the position ($4, $5) (the
 * cursor run's created_at and id; infinity for the first page).
 */
static PcPlan plan_runs_of_company = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_runs WHERE company_id = $1 "
	"AND (created_at, id) < ($4, $5) ORDER BY created_at DESC, id DESC LIMIT $3",
	UUIDOID, UUIDOID, INT4OID, TIMESTAMPTZOID, UUIDOID);

static PcPlan plan_runs_of_agent = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_runs WHERE company_id = $1 AND agent_id = $2 "
	"AND (created_at, id) < ($4, $5) ORDER BY created_at DESC, id DESC LIMIT $3",
	UUIDOID, UUIDOID, INT4OID, TIMESTAMPTZOID, UUIDOID);

static PcPlan plan_run_position = PC_PLAN(
	"SELECT created_at, id FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

/*
 * Queued runs of a blocked issue, for the claim guard: the context issue
 * is blocked and no other issue the run names (issueIds, merged wakes) is
 * open. $1: a role whose companies only are guarded, or null for all.
 */
#define CONTEXT_ISSUE_IDS \
	"jsonb_array_elements_text(CASE WHEN jsonb_typeof(r.context_snapshot -> 'issueIds') = 'array' " \
	" THEN r.context_snapshot -> 'issueIds' ELSE '[]' END) e(id)"
static PcPlan plan_blocked_issue_runs = PC_PLAN(
	"WITH v AS (SELECT CASE WHEN $1 IS NULL THEN NULL ELSE paperclip.visible_companies($1) END AS c) "
	"SELECT r.id FROM v, paperclip.heartbeat_runs r JOIN paperclip.issues i "
	"  ON i.company_id = r.company_id AND i.id = " PC_CONTEXT_ISSUE("r.context_snapshot") " "
	"  JOIN paperclip.agents a ON a.id = r.agent_id "
	"WHERE r.status = '" PC_RUN_QUEUED "' AND i.status = 'blocked' "
	"AND (v.c IS NULL OR r.company_id = ANY (v.c)) "
	"AND NOT EXISTS (SELECT 1 FROM " CONTEXT_ISSUE_IDS " JOIN paperclip.issues o "
	"  ON o.company_id = r.company_id "
	"  AND o.id = CASE WHEN e.id ~ " PC_UUID_RE " THEN e.id::uuid END "
	"  WHERE o.status <> 'blocked') "
	"ORDER BY r.created_at LIMIT 100 FOR UPDATE OF r SKIP LOCKED FOR NO KEY UPDATE OF a SKIP LOCKED",
	NAMEOID);

bool
pc_is_transient_error(const char *error_code)
{
	int			i;

	if (error_code == NULL)
		return false;
	for (i = 0; transient_codes[i] != NULL; i++)
		if (strcmp(error_code, transient_codes[i]) == 0)
			return true;
	return false;
}

/* ----------------------------------------------------------------------
 * Adapter result validation
 * ----------------------------------------------------------------------
 */

static void
bad_result(const char *key, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid adapter result: \"%s\" must be %s", key, expected),
			 errhint("See the adapter result format: every key is optional; numbers, strings and booleans must have their JSON types.")));
}

static char *
result_string(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		bad_result(key, "a string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
result_bool(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);

	if (v == NULL)
		return false;
	if (v->type != jbvBool)
		bad_result(key, "a boolean");
	return v->val.boolean;
}

/* A number in [0, max]; *present tells whether the key was there. */
static double
result_number(JsonbContainer *obj, const char *key, double min, double max,
			  const char *expected, bool *present)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);
	double		d;

	*present = (v != NULL);
	if (v == NULL)
		return 0;
	if (v->type != jbvNumeric)
		bad_result(key, expected);
	d = pc_numeric_to_double(v->val.numeric);
	if (!isfinite(d) || d < min || d > max)
		bad_result(key, expected);
	return d;
}

/* A non-negative whole number that fits a bigint; false when absent. */
static bool
result_int64(JsonbContainer *obj, const char *key, int64 *out)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(obj, key, &buf);
	Datum		num;

	if (v == NULL)
		return false;
	if (v->type != jbvNumeric || numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
		bad_result(key, "a non-negative integer");
	num = NumericGetDatum(v->val.numeric);
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, num,
										  DirectFunctionCall2(numeric_trunc, num, Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, num,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, num,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))))
		bad_result(key, "a non-negative integer");
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, num));
	return true;
}

static int64
result_tokens(JsonbContainer *usage, const char *key)
{
	bool		present;

	return (int64) rint(result_number(usage, key, 0, 1e15,
									  "a non-negative number", &present));
}

/* An ISO time (any input timestamptz takes), or false; raises no error. */
static bool
parse_time(const char *str, TimestampTz *result)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt;
	fsec_t		fsec;
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra extra;
#endif

	if (strlen(str) > MAXDATELEN ||
		ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return false;
#if PG_VERSION_NUM >= 160000
	if (DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz, &extra) != 0)
		return false;
#else
	if (DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return false;
#endif
	return dtype == DTK_DATE && tm2timestamp(&tt, fsec, &tz, result) == 0;
}

/*
 * What the coding-agent CLI adapters add (adapters.md): the saved session's
 * parameters (an object, or null to clear them; absent keeps them), and
 * strings for display and accounting.
 */
static void
parse_cli_result(JsonbContainer *obj, AdapterResult *r)
{
	static const char *const strings[] = {"sessionDisplayId", "billingType", "biller",
	"summary", "errorFamily", NULL};
	JsonbValue	buf;
	JsonbValue *v;
	int			i;

	for (i = 0; strings[i]; i++)
		(void) result_string(obj, strings[i]);
	v = getKeyJsonValueFromContainer(obj, "sessionParams", strlen("sessionParams"), &buf);
	r->has_session_params = v != NULL;
	if (v == NULL || v->type == jbvNull)
		return;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		bad_result("sessionParams", "an object or null");
	r->session_params = JsonbValueToJsonb(v);
	if (r->session_id == NULL)
		r->session_id = result_string(&r->session_params->root, "sessionId");
}

static void
parse_result(Jsonb *json, AdapterResult *r)
{
	JsonbContainer *obj = &json->root;
	JsonbValue	buf;
	JsonbValue *usage;
	JsonbValue *cost;
	bool		present;
	double		d;

	memset(r, 0, sizeof(*r));
	r->json = json;

	d = result_number(obj, "exitCode", INT_MIN, INT_MAX, "an integer", &r->has_exit_code);
	if (d != rint(d))
		bad_result("exitCode", "an integer");
	r->exit_code = (int32) d;
	(void) result_string(obj, "signal");
	r->timed_out = result_bool(obj, "timedOut");
	r->error_message = result_string(obj, "errorMessage");
	r->error_code = result_string(obj, "errorCode");
	r->session_id = result_string(obj, "sessionId");
	r->clear_session = result_bool(obj, "clearSession");
	parse_cli_result(obj, r);
	r->transient = result_bool(obj, "transient");
	(void) result_string(obj, "provider");
	(void) result_string(obj, "model");
	(void) result_string(obj, "stdoutExcerpt");
	(void) result_string(obj, "stderrExcerpt");
	(void) result_string(obj, "logSha256");
	r->has_log_bytes = result_int64(obj, "logBytes", &r->log_bytes);
	{
		char	   *not_before = result_string(obj, "retryNotBefore");

		r->has_retry_not_before = not_before != NULL;
		if (not_before != NULL && !parse_time(not_before, &r->retry_not_before))
			bad_result("retryNotBefore", "an ISO 8601 time");
	}

	usage = pc_json_get(obj, "usage", &buf);
	if (usage != NULL)
	{
		if (usage->type != jbvBinary || !JsonContainerIsObject(usage->val.binary.data))
			bad_result("usage", "an object");
		r->input_tokens = result_tokens(usage->val.binary.data, "inputTokens");
		r->output_tokens = result_tokens(usage->val.binary.data, "outputTokens");
		r->cached_input_tokens = result_tokens(usage->val.binary.data, "cachedInputTokens");
	}

	(void) result_number(obj, "costUsd", 0, MAX_COST_USD, "a non-negative number", &present);
	cost = pc_json_get(obj, "costUsd", &buf);
	if (cost != NULL)
	{
		Datum		cents = DirectFunctionCall2(numeric_mul,
												NumericGetDatum(cost->val.numeric),
												DirectFunctionCall1(int4_numeric, Int32GetDatum(100)));

		r->cost_cents = cents;
		r->cost_cents_rounded = DatumGetInt32(DirectFunctionCall1(numeric_int4,
																  DirectFunctionCall2(numeric_round, cents, Int32GetDatum(0))));
	}
	else
		r->cost_cents = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
}

/* ----------------------------------------------------------------------
 * finalize_run
 * ----------------------------------------------------------------------
 */

static bool
is_finished_status(const char *status)
{
	return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
		strcmp(status, "timed_out") == 0 || strcmp(status, "cancelled") == 0;
}

static Outcome
decide_outcome(const AdapterResult *r, bool already_cancelled)
{
	Outcome		o = {0};

	if (already_cancelled)
	{
		o.status = "cancelled";
		o.error = CANCEL_ERROR;
		o.error_code = "cancelled";
		o.wakeup_status = "cancelled";
		o.agent_status = NULL;
	}
	else if (r->timed_out)
	{
		o.status = "timed_out";
		o.error = r->error_message ? r->error_message : "Timed out";
		o.error_code = "timeout";
		o.wakeup_status = "timed_out";
		o.agent_status = "error";
	}
	else if ((!r->has_exit_code || r->exit_code == 0) && r->error_message == NULL)
	{
		o.status = "succeeded";
		o.wakeup_status = "completed";
		o.agent_status = "idle";
	}
	else
	{
		o.status = "failed";
		o.error = r->error_message ? r->error_message : "Adapter failed";
		o.error_code = r->error_code ? r->error_code : "adapter_failed";
		o.wakeup_status = "failed";
		o.agent_status = "error";
	}
	return o;
}

static Jsonb *
lifecycle_payload(const char *status, const AdapterResult *r)
{
	StringInfoData buf;
	PcJson		j;

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "status", status);
	if (r->has_exit_code)
		pc_json_int(&j, "exitCode", r->exit_code);
	else
		pc_json_raw(&j, "exitCode", NULL);
	pc_json_close(&j);
	return pc_jsonb_from_cstring(buf.data);
}

/* Runtime totals and session; returns the session after the run. */
static char *
update_runtime_state(Datum agent_id, Datum run_id, const Outcome *o, const AdapterResult *r)
{
	Datum		v[12];
	char		n[12];
	char	   *session_id = NULL;

	memset(n, ' ', sizeof(n));
	v[0] = agent_id;
	if (r->session_id != NULL)
		v[1] = CStringGetTextDatum(r->session_id);
	n[1] = pc_null(r->session_id == NULL);
	v[2] = run_id;
	v[3] = CStringGetTextDatum(o->status);
	v[4] = o->error ? CStringGetTextDatum(o->error) : (Datum) 0;
	n[4] = pc_null(o->error == NULL);
	v[5] = BoolGetDatum(r->clear_session);
	v[6] = Int64GetDatum(r->input_tokens);
	v[7] = Int64GetDatum(r->output_tokens);
	v[8] = Int64GetDatum(r->cached_input_tokens);
	v[9] = r->cost_cents;
	v[10] = r->session_params ? JsonbPGetDatum(r->session_params) : (Datum) 0;
	n[10] = pc_null(r->session_params == NULL);
	v[11] = BoolGetDatum(r->has_session_params);
	if (pc_exec_row(&plan_upsert_runtime, v, n))
		session_id = pc_getattr_cstring(0, "session_id");
	return session_id;
}

/*
 * Everything runs record once they start, in one statement: the runner's
 * identity (when a launcher's runner runs them): pid, start time, start
 * ticks from /proc, and the cluster that started it (system identifier,
 * postmaster start time) and the database (its launcher's); wakeups claimed, "run started" events (their seq
 * was taken by the claim), agents running. $1 runs, $2 runner pids, $3
 * runner start times, $4 their /proc start ticks, $5 the system
 * identifier, $6 the postmaster's start time ($2 to $6 null for external
 * runners).
 */
static PcPlan plan_started = PC_PLAN(
	"WITH s AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::int8[]) "
	"  AS s(run_id, pid, started, ticks)), "
	"r AS (UPDATE paperclip.heartbeat_runs h SET runner_pid = coalesce(s.pid, h.runner_pid), "
	"  process_started_at = coalesce(s.started, h.process_started_at), "
	"  runner_start_ticks = CASE WHEN s.pid IS NULL THEN h.runner_start_ticks ELSE s.ticks END, "
	"  runner_system_identifier = CASE WHEN s.pid IS NULL THEN h.runner_system_identifier ELSE $5 END, "
	"  runner_postmaster_start = CASE WHEN s.pid IS NULL THEN h.runner_postmaster_start ELSE $6 END, "
	"  runner_database = CASE WHEN s.pid IS NULL THEN h.runner_database ELSE "
	"    (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()) END "
	"  FROM s WHERE h.id = s.run_id "
	"  RETURNING h.id, h.company_id, h.agent_id, h.event_seq, h.wakeup_request_id), "
	"w AS (UPDATE paperclip.agent_wakeup_requests q SET status = 'claimed', claimed_at = now(), "
	"  updated_at = now() FROM r WHERE q.id = r.wakeup_request_id), "
	"e AS (INSERT INTO paperclip.heartbeat_run_events "
	"  (company_id, run_id, agent_id, seq, event_type, stream, level, message) "
	"  SELECT company_id, id, agent_id, event_seq, 'lifecycle', 'system', 'info', 'run started' FROM r) "
	"UPDATE paperclip.agents a SET status = 'running', updated_at = now() FROM r "
	"WHERE a.id = r.agent_id AND a.status NOT IN ('paused', 'terminated') "
	"RETURNING a.id, a.company_id, a.status, a.last_heartbeat_at",
	UUIDARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8OID, TIMESTAMPTZOID);

/*
 * Record claimed runs as started (see plan_started) and announce their
 * agents running. v: run ids, runner pids, runner start times, runner
 * start ticks (arrays), system identifier, postmaster start time.
 */
void
pc_mark_runs_started(Datum *v, const char *nulls)
{
	int			n = pc_exec(&plan_started, v, nulls, 0);
	int			i;

	for (i = 0; i < n; i++)
		pc_notify_agent_status(i, "running");
}

/*
 * A failed run with a transient error gets a scheduled retry, until the
 * attempts are used up.
 */
static void
schedule_retry(Datum run_id, int attempt, const char *error_code, const AdapterResult *r)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	const char *reason = error_code ? error_code : "transient";
	char	   *msg;

	if (attempt >= pc_max_retry_attempts)
	{
		StringInfoData buf;
		PcJson		j;

		initStringInfo(&buf);
		pc_json_open(&j, &buf);
		pc_json_str(&j, "retryReason", reason);
		pc_json_int(&j, "scheduledRetryAttempt", attempt);
		pc_json_int(&j, "maxAttempts", pc_max_retry_attempts);
		pc_json_close(&j);
		msg = psprintf("Bounded retry exhausted after %d attempt(s) (%s)", attempt, reason);
		pc_append_run_event(run_id, "lifecycle", "system", "warn", msg,
							pc_jsonb_from_cstring(buf.data));
	}
	else
	{
		double		base = (double) pc_retry_base_delay_s * pow(2.0, attempt);
		double		delay = base * (0.75 + 0.5 * pg_prng_double(&pg_global_prng_state));
		Datum		v[4] = {run_id, Float8GetDatum(delay), CStringGetTextDatum(reason),
		TimestampTzGetDatum(r->retry_not_before)};
		char		n[4] = {' ', ' ', ' ', pc_null(!r->has_retry_not_before)};

		/* the adapter's retryNotBefore holds the retry back */
		if (r->has_retry_not_before)
			delay = Max(delay, (double) (r->retry_not_before - GetCurrentTransactionStartTimestamp())
						/ USECS_PER_SEC);
		pc_exec(&plan_schedule_retry, v, n, 0);
		pc_notify_run_status(0);
		pc_wake_scheduler_at_commit();
		msg = psprintf("retry %d of %d scheduled in %.0f s (%s)", attempt + 1,
					   pc_max_retry_attempts, delay, reason);
		pc_append_run_event(run_id, "lifecycle", "system", "warn", msg, NULL);
	}
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}

/*
 * Record an adapter result on the run locked in row 0 of SPI_tuptable.
 * Leaves the finalized run in row 0 of the returned tuptable.
 */
static SPITupleTable *
finalize_locked_run(const AdapterResult *r)
{
	bool		isnull;
	Datum		run_id = pc_getattr(0, "id", &isnull);
	Datum		agent_id = pc_getattr(0, "agent_id", &isnull);
	Datum		company_id = pc_getattr(0, "company_id", &isnull);
	Datum		wakeup_id;
	bool		wakeup_null;
	int			attempt = DatumGetInt32(pc_getattr(0, "scheduled_retry_attempt", &isnull));
	bool		late = strcmp(pc_getattr_cstring(0, "status"), "cancelled") == 0;
	bool		was_running = strcmp(pc_getattr_cstring(0, "status"), PC_RUN_RUNNING) == 0;
	Outcome		o = decide_outcome(r, late);
	SPITupleTable *run;
	char	   *session_after;
	int			seq;

	wakeup_id = pc_getattr(0, "wakeup_request_id", &wakeup_null);
	if (late)
	{
		o.error = pc_getattr_cstring(0, "error");
		o.error_code = pc_getattr_cstring(0, "error_code");
	}

	session_after = update_runtime_state(agent_id, run_id, &o, r);

	{
		Datum		v[9];
		char		n[9];

		memset(n, ' ', sizeof(n));
		v[0] = run_id;
		v[1] = JsonbPGetDatum(r->json);
		v[2] = CStringGetTextDatum(o.status);
		v[3] = o.error ? CStringGetTextDatum(o.error) : (Datum) 0;
		n[3] = pc_null(o.error == NULL);
		v[4] = o.error_code ? CStringGetTextDatum(o.error_code) : (Datum) 0;
		n[4] = pc_null(o.error_code == NULL);
		v[5] = Int32GetDatum(r->exit_code);
		n[5] = pc_null(!r->has_exit_code);
		v[6] = session_after ? CStringGetTextDatum(session_after) : (Datum) 0;
		n[6] = pc_null(session_after == NULL);
		v[7] = Int32GetDatum(late ? 0 : 1);
		v[8] = Int64GetDatum(r->log_bytes);
		n[8] = pc_null(!r->has_log_bytes);
		pc_exec(&plan_finish_run, v, n, 0);
	}
	run = SPI_tuptable;
	seq = DatumGetInt32(pc_getattr(0, "event_seq", &isnull));

	if (!late)
	{
		pc_notify_run_status(0);
		if (!wakeup_null)
		{
			Datum		v[3] = {wakeup_id, CStringGetTextDatum(o.wakeup_status),
			o.error ? CStringGetTextDatum(o.error) : (Datum) 0};
			char		n[3] = {' ', ' ', pc_null(o.error == NULL)};

			pc_exec(&plan_finish_wakeup, v, n, 0);
		}
		pc_insert_run_event(company_id, run_id, agent_id, seq, "lifecycle", "system",
							strcmp(o.status, "succeeded") == 0 ? "info" : "error",
							psprintf("run %s", o.status), lifecycle_payload(o.status, r));
	}

	if (r->cost_cents_rounded > 0)
	{
		Datum		v[7] = {company_id, agent_id, run_id, JsonbPGetDatum(r->json),
			Int64GetDatum(r->input_tokens), Int64GetDatum(r->output_tokens),
		Int32GetDatum(r->cost_cents_rounded)};

		pc_exec(&plan_insert_cost, v, NULL, 0);
	}

	{
		Datum		v[3] = {agent_id,
			o.agent_status ? CStringGetTextDatum(o.agent_status) : (Datum) 0,
		Int32GetDatum(r->cost_cents_rounded)};
		char		n[3] = {' ', pc_null(o.agent_status == NULL), ' '};

		if (pc_exec_row(&plan_agent_after_run, v, n) && !late)
			pc_notify_agent_status(0, o.status);
	}

	if (!late && strcmp(o.status, "failed") == 0 &&
		(r->transient || pc_is_transient_error(o.error_code)))
		schedule_retry(run_id, attempt, o.error_code, r);

	/* the wakes deferred for this run: one follow-up (or into its retry) */
	if (was_running)
		pc_release_deferred(run_id, company_id, agent_id, false);

	return run;
}

/*
 * Finalize a run with an adapter result: the one finalization path, used by
 * the SQL function, the launcher and reconciliation. Needs an open SPI
 * connection. Leaves the run in row 0 of SPI_tuptable; false when there is
 * no such run. A result of the wrong shape raises 22023 before any write.
 */
bool
pc_finalize_run(Datum run_id, Jsonb *json)
{
	AdapterResult r;
	char	   *status;
	bool		isnull;

	if (!pc_jsonb_is_object(json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid adapter result: it must be a JSON object")));
	pc_check_size("result", json);
	parse_result(json, &r);

	if (!pc_exec_row(&plan_lock_run, &run_id, NULL))
		return false;
	status = pc_getattr_cstring(0, "status");
	(void) pc_getattr(0, "finalized_at", &isnull);
	if (isnull && (!is_finished_status(status) || strcmp(status, "cancelled") == 0))
		SPI_tuptable = finalize_locked_run(&r);
	return true;
}

/*
 * paperclip.finalize_run(run_id, result) RETURNS heartbeat_runs
 */
Datum
paperclip_finalize_run(PG_FUNCTION_ARGS)
{
	Datum		result;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "run_id");
	pc_check_not_null(fcinfo, 1, "result");

	SPI_connect();
	pc_check_run_access(PG_GETARG_DATUM(0));
	if (!pc_finalize_run(PG_GETARG_DATUM(0), PG_GETARG_JSONB_P(1)))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("heartbeat run not found")));
	result = pc_return_row(fcinfo, 0);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ----------------------------------------------------------------------
 * Cancellation
 * ----------------------------------------------------------------------
 */

/*
 * Cancel the run locked in row 0 of SPI_tuptable if it is still pending.
 * Returns the result holding the run (cancelled or as it was) in row 0;
 * *cancelled tells which. The other results it made are freed.
 */
static SPITupleTable *
cancel_locked_run(const char *error, const char *error_code, bool cancel_deferred,
				  bool *cancelled)
{
	SPITupleTable *locked = SPI_tuptable;
	bool		isnull;
	Datum		run_id = pc_getattr(0, "id", &isnull);
	Datum		agent_id = pc_getattr(0, "agent_id", &isnull);
	Datum		company_id = pc_getattr(0, "company_id", &isnull);
	Datum		wakeup_id;
	bool		wakeup_null;
	char	   *status = pc_getattr_cstring(0, "status");
	bool		was_active = strcmp(status, "queued") == 0 || strcmp(status, "running") == 0;
	SPITupleTable *run;
	int			seq;

	*cancelled = was_active || strcmp(status, "scheduled_retry") == 0;
	if (!*cancelled)
		return locked;
	wakeup_id = pc_getattr(0, "wakeup_request_id", &wakeup_null);

	{
		Datum		v[3] = {run_id, CStringGetTextDatum(error), CStringGetTextDatum(error_code)};

		pc_exec(&plan_cancel, v, NULL, 0);
	}
	run = SPI_tuptable;
	seq = DatumGetInt32(pc_getattr(0, "event_seq", &isnull));
	pc_notify_run_status(0);

	if (!wakeup_null)
	{
		Datum		v[3] = {wakeup_id, CStringGetTextDatum("cancelled"), CStringGetTextDatum(error)};

		pc_exec(&plan_finish_wakeup, v, NULL, 0);
	}
	pc_insert_run_event(company_id, run_id, agent_id, seq, "lifecycle", "system", "warn",
						"run cancelled", NULL);

	if (was_active)
	{
		Datum		v[3] = {agent_id, CStringGetTextDatum("idle"), Int32GetDatum(0)};

		if (pc_exec_row(&plan_agent_after_run, v, NULL))
			pc_notify_agent_status(0, "cancelled");
		pc_free_tuptable(SPI_tuptable);
		/* the launcher stops the run's process */
		if (strcmp(status, "running") == 0)
		{
			pc_wake_launcher_at_commit();
			pc_release_deferred(run_id, company_id, agent_id, cancel_deferred);
		}
	}
	pc_free_tuptable(locked);
	SPI_tuptable = run;
	SPI_processed = 1;
	return run;
}

/*
 * Cancel a run if it is still pending; needs an open SPI connection. Leaves
 * the run in row 0 of SPI_tuptable; false when there is no such run.
 */
bool
pc_cancel_run(Datum run_id, const char *error)
{
	return pc_cancel_run_with_code(run_id, error, PC_ERR_CANCELLED);
}

/* pc_cancel_run with the error code the run is given. */
bool
pc_cancel_run_with_code(Datum run_id, const char *error, const char *error_code)
{
	bool		cancelled;

	if (!pc_exec_row(&plan_lock_run, &run_id, NULL))
		return false;
	SPI_tuptable = cancel_locked_run(error ? error : CANCEL_ERROR, error_code, false,
									 &cancelled);
	return true;
}

typedef struct UnstartableRun
{
	Datum		run_id;
	const char *error;			/* NULL: over budget */
	const char *error_code;
} UnstartableRun;

static void
end_unstartable_run(void *arg)
{
	UnstartableRun *u = (UnstartableRun *) arg;

	if (u->error == NULL)
		pc_finalize_run(u->run_id, pc_jsonb_from_cstring(
														 "{\"exitCode\":null,\"errorCode\":\"" PC_ERR_BUDGET_BLOCKED "\","
														 "\"errorMessage\":\"Agent is over its monthly budget\"}"));
	else
		pc_cancel_run_with_code(u->run_id, u->error, u->error_code);
}

/*
 * End a queued run that cannot start, for the claims' guards: cancel it
 * with error and error_code, or (error NULL) fail it budget_blocked. In a
 * subtransaction of its own, so that a run whose rows a client's open
 * transaction keeps locked (a company's own), or that fails otherwise, is
 * left for a later claim while the other companies' runs are ended and
 * claimed. Returns whether it was ended. Needs SPI; SPI_tuptable is left
 * to be freed, or NULL.
 */
bool
pc_end_unstartable_run(Datum run_id, const char *error, const char *error_code)
{
	UnstartableRun u = {run_id, error, error_code};
	ErrorData  *edata = pc_try_subxact(end_unstartable_run, &u);

	if (edata == NULL)
		return true;
	SPI_tuptable = NULL;		/* what the subtransaction made is gone with it */
	ereport(edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ? DEBUG1 : WARNING,
			(errmsg("paperclip: queued run %s, which cannot start, is left for a later claim (SQLSTATE %s): %s",
					DatumGetCString(DirectFunctionCall1(uuid_out, run_id)),
					unpack_sql_state(edata->sqlerrcode), edata->message)));
	FreeErrorData(edata);
	return false;
}

/*
 * The claim guard for blocked issues: cancel queued runs whose context
 * issue is blocked (error_code issue_blocked) instead of starting them,
 * each on its own (pc_end_unstartable_run). role_name: guard only the
 * companies that role may see (claim_runs); role_null: every company (the
 * launcher). Returns how many it found. Needs SPI.
 */
int
pc_cancel_blocked_issue_runs(Datum role_name, bool role_null)
{
	int			n = pc_exec(&plan_blocked_issue_runs, &role_name, role_null ? "n" : " ", 0);
	SPITupleTable *tt = SPI_tuptable;
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		SPI_tuptable = tt;
		SPI_processed = n;
		(void) pc_end_unstartable_run(pc_getattr(i, "id", &isnull),
									  "Cancelled: the issue is blocked", PC_ERR_ISSUE_BLOCKED);
		pc_free_tuptable(SPI_tuptable);
	}
	pc_free_tuptable(tt);
	return n;
}

/*
 * paperclip.cancel_run(run_id) RETURNS heartbeat_runs
 */
Datum
paperclip_cancel_run(PG_FUNCTION_ARGS)
{
	Datum		result;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "run_id");

	SPI_connect();
	pc_check_run_access(PG_GETARG_DATUM(0));
	if (!pc_cancel_run(PG_GETARG_DATUM(0), CANCEL_ERROR))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("heartbeat run not found")));
	result = pc_return_row(fcinfo, 0);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * paperclip.cancel_active_for_agent(agent_id) RETURNS int: how many runs
 * (queued, running, or waiting to be retried) were cancelled.
 */
Datum
paperclip_cancel_active_for_agent(PG_FUNCTION_ARGS)
{
	Datum		agent_id;
	Datum		v[2];
	Datum	   *runs;
	int			nruns;
	int			count = 0;
	bool		isnull;
	int			i;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "agent_id");
	agent_id = PG_GETARG_DATUM(0);

	SPI_connect();
	pc_check_agent_access(agent_id);
	if (!pc_exec_row(&plan_agent_company, &agent_id, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("agent not found")));
	v[0] = pc_getattr(0, "company_id", &isnull);
	v[1] = agent_id;
	nruns = pc_exec(&plan_lock_pending_runs, v, NULL, 0);
	runs = palloc(sizeof(Datum) * Max(nruns, 1));
	for (i = 0; i < nruns; i++)
		runs[i] = pc_getattr(i, "id", &isnull);

	for (i = 0; i < nruns; i++)
	{
		bool		cancelled = false;

		if (pc_exec_row(&plan_lock_run, &runs[i], NULL))
			pc_free_tuptable(cancel_locked_run(PAUSE_ERROR, PC_ERR_CANCELLED, true, &cancelled));
		else
			pc_free_tuptable(SPI_tuptable);
		if (cancelled)
			count++;
	}
	SPI_finish();
	PG_RETURN_INT32(count);
}

/* ----------------------------------------------------------------------
 * Runtime state
 * ----------------------------------------------------------------------
 */

/* The agent's runtime state in row 0 of SPI_tuptable, created on first use. */
static void
ensure_runtime_state(Datum agent_id)
{
	if (pc_exec_row(&plan_get_state, &agent_id, NULL))
		return;
	if (!pc_exec_row(&plan_agent_company, &agent_id, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("agent not found")));
	if (!pc_exec_row(&plan_create_state, &agent_id, NULL))
		pc_exec_row(&plan_get_state, &agent_id, NULL);	/* created concurrently */
}

/* The agent's runtime state, created on first use and reset if asked. */
static Datum
runtime_state_result(FunctionCallInfo fcinfo, bool reset_session)
{
	Datum		agent_id;
	Datum		result;

	pc_check_not_null(fcinfo, 0, "agent_id");
	agent_id = PG_GETARG_DATUM(0);

	SPI_connect();
	pc_check_agent_access(agent_id);
	ensure_runtime_state(agent_id);
	if (reset_session)
		pc_exec_row(&plan_reset_session, &agent_id, NULL);
	result = pc_return_row(fcinfo, 0);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * paperclip.get_runtime_state(agent_id) RETURNS agent_runtime_state
 */
Datum
paperclip_get_runtime_state(PG_FUNCTION_ARGS)
{
	pc_check_writable(fcinfo);
	return runtime_state_result(fcinfo, false);
}

/*
 * paperclip.reset_runtime_session(agent_id) RETURNS agent_runtime_state:
 * session null, state {}, last_error null.
 */
Datum
paperclip_reset_runtime_session(PG_FUNCTION_ARGS)
{
	pc_check_writable(fcinfo);
	return runtime_state_result(fcinfo, true);
}

/*
 * paperclip.list_runs(company_id, agent_id DEFAULT NULL, limit DEFAULT 200,
 * before_run_id DEFAULT NULL) RETURNS SETOF heartbeat_runs: newest first,
 * at most limit (clamped to 1..1000) runs older than before_run_id. The
 * two-argument form of 0.1 (every run) reaches the same code.
 */
Datum
paperclip_list_runs(PG_FUNCTION_ARGS)
{
	Datum		v[5];
	char		n[5] = {' ', ' ', ' ', ' ', ' '};
	int			limit = INT_MAX;
	bool		by_agent = !PG_ARGISNULL(1);

	pc_check_not_null(fcinfo, 0, "company_id");
	if (PG_NARGS() > 2)
		limit = PG_ARGISNULL(2) ? 200 : Max(1, Min(PG_GETARG_INT32(2), 1000));
	InitMaterializedSRF(fcinfo, 0);
	v[0] = PG_GETARG_DATUM(0);
	v[1] = by_agent ? PG_GETARG_DATUM(1) : (Datum) 0;
	n[1] = pc_null(!by_agent);
	v[2] = Int32GetDatum(limit);
	v[3] = TimestampTzGetDatum(DT_NOEND);
	v[4] = DirectFunctionCall1(uuid_in, CStringGetDatum("ffffffff-ffff-ffff-ffff-ffffffffffff"));

	SPI_connect();
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		Datum		cursor = PG_GETARG_DATUM(3);
		bool		isnull;

		/* under row-level security: a run the caller cannot see is not found */
		if (pc_exec_ro(&plan_run_position, &cursor, NULL, 1) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("heartbeat run not found"),
					 errdetail("before_run_id is the last run of the previous page.")));
		v[3] = pc_getattr(0, "created_at", &isnull);
		v[4] = pc_getattr(0, "id", &isnull);
	}
	pc_exec_ro(by_agent ? &plan_runs_of_agent : &plan_runs_of_company, v, n, 0);
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}
