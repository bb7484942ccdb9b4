/*-------------------------------------------------------------------------
 * liveness.c
 *	  Owns run liveness: whether a finished run moved its issue forward.
 *	  paperclip.classify_run_liveness applies the rules of liveness.md (first
 *	  match wins) with PostgreSQL's own regex engine for the phrase rules;
 *	  paperclip.backfill_run_liveness and the scheduler's batches gather the
 *	  evidence of many runs in one set-based query, classify each run here
 *	  and record every classification with one UPDATE.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "mb/pg_wchar.h"

#include <ctype.h>
#include <math.h>

#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(paperclip_classify_run_liveness);
PG_FUNCTION_INFO_V1(paperclip_backfill_run_liveness);
PG_FUNCTION_INFO_V1(paperclip_classify_finished_runs);

#define MAX_REASON 500
#define BACKFILL_BATCH 20

/*
 * The phrase rules, as PostgreSQL advanced regular expressions: (?i) case
 * insensitive, (?n) newline-sensitive ("." stops at a line end, "^" matches
 * at each line start), \y a word boundary.
 */
#define RE_VERBS \
	"inspect|check|review|look|investigate|analy[sz]e|open|read|start|begin|" \
	"work on|implement|fix|test|run|update|create|add|write|verify"
#define RE_WANTS \
	"approval|access|credentials?|secrets?|api key|token|password|login|" \
	"account|permissions?|input|clarification"

static const char *const re_future_work =
"(?in)\\y(?:i(?:'ll| will| am going to|'m going to| plan to| need to)|let me|let's|"
"next(?:,| i will| i'll)?|(?:my |the )?next step is(?: to)?)\\s+(?:first\\s+)?"
"(?:" RE_VERBS "|wait|ask|follow up)\\y";
static const char *const re_plan_heading =
"(?in)^\\s*(?:next steps?|next action|next|plan)\\s*:";
static const char *const re_negated_blocker =
"(?in)\\y(?:not blocked|no blockers?|unblocked)\\y";
static const char *const re_approval =
"(?in)\\y(?:approval required|requires? .{0,80}\\yapproval|need(?:s|ed)? .{0,80}\\yapproval|"
"waiting (?:on|for) .{0,80}\\yapproval|pending approval|(?:board|human|user|operator) approval)\\y";
static const char *const re_blocker =
"(?in)\\y(?:can't proceed|cannot proceed|can not proceed|unable to (?:proceed|continue)|"
"waiting (?:on|for)|blocked (?:by|on)|blocked|need(?:s|ed)?|requires?|missing|lack(?:s|ing)?) "
".{0,120}\\y(?:" RE_WANTS ")\\y";
static const char *const re_manager_review =
"(?in)\\y(?:manager review|human review|manual review|security review|escalate|"
"production deploy|deploy(?:ing)? to prod(?:uction)?|prod deploy|production access)\\y";
static const char *const re_runnable =
"(?in)\\y(?:(?:run|rerun|execute)\\s+(?:the\\s+)?(?:tests?|suite|build|lint|typecheck|"
"pnpm|npm|yarn|vitest|jest|pytest|cargo|make|curl|verification)|" RE_VERBS "|continue|"
"debug|validate|reproduce|report)\\y";
static const char *const re_noise_line =
"(?i)^(?:(?:command|status|exit_code|tool|tool_call|tool_result|stdout|stderr|event|"
"payload|session|cwd|ref_id)\\s*:|[[{].{0,80}(?:tool|event|stdout|stderr|cmd|command|payload)|"
"\\$?\\s*(?:rg|sed|cat|ls|git|pnpm|npm|yarn|curl|node|python)\\y)";

typedef enum Actionability
{
	ACT_UNKNOWN,
	ACT_RUNNABLE,
	ACT_MANAGER_REVIEW,
	ACT_BLOCKED_EXTERNAL,
	ACT_APPROVAL_REQUIRED
} Actionability;

typedef struct LivenessEvidence
{
	int64		comments;
	int64		doc_revisions;
	int64		plan_doc_revisions;
	int64		work_products;
	int64		workspace_ops;
	int64		activity;
	int64		tool_events;
} LivenessEvidence;

typedef struct LivenessInput
{
	const char *run_status;
	const char *error_code;		/* or NULL */
	const char *issue_status;	/* or NULL: no issue */
	Jsonb	   *result_json;	/* or NULL */
	const char *stdout_excerpt; /* or NULL */
	const char *stderr_excerpt; /* or NULL */
	const char *error;			/* or NULL */
	int			continuation_attempt;
	LivenessEvidence ev;
} LivenessInput;

typedef struct Liveness
{
	const char *state;
	char	   *reason;
	char	   *next_action;	/* or NULL */
	bool		useful_action;	/* lastUsefulActionAt = latest evidence */
} Liveness;

/* ----------------------------------------------------------------------
 * Text helpers
 * ----------------------------------------------------------------------
 */

static bool
re_match(const char *pattern, const char *s)
{
	return DatumGetBool(DirectFunctionCall2Coll(textregexeq, C_COLLATION_OID,
												PointerGetDatum(cstring_to_text(s)),
												PointerGetDatum(cstring_to_text(pattern))));
}

/* A copy of s without surrounding white space, or NULL if nothing is left. */
static char *
trimmed(const char *s, int len)
{
	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	return len > 0 ? pnstrdup(s, len) : NULL;
}

/* At most MAX_REASON characters: 497 and "...". */
static char *
cut(const char *s)
{
	int			len = pg_mbstrlen(s);

	if (len <= MAX_REASON)
		return pstrdup(s);
	return psprintf("%s...", pnstrdup(s, pg_mbcharcliplen(s, strlen(s), MAX_REASON - 3)));
}

static bool
is_noise_line(const char *line)
{
	return line == NULL || re_match(re_noise_line, line);
}

/* Bullets ("- ", "* ", "1. ") off the start of a trimmed line. */
static const char *
strip_list_prefix(const char *line)
{
	const char *p = line;

	if (*p == '-' || *p == '*')
		p++;
	else if (isdigit((unsigned char) *p))
	{
		while (isdigit((unsigned char) *p))
			p++;
		if (*p != '.')
			return line;
		p++;
	}
	else
		return line;
	if (!isspace((unsigned char) *p))
		return line;
	while (isspace((unsigned char) *p))
		p++;
	return p;
}

/* The trimmed lines of s in a NULL-terminated array (empty lines NULL-free). */
static char **
split_lines(const char *s, int *n)
{
	int			cap = 16;
	char	  **lines = palloc(sizeof(char *) * cap);
	const char *p = s;

	*n = 0;
	while (p != NULL && *p != '\0')
	{
		const char *end = strchr(p, '\n');
		int			len = end ? (int) (end - p) : (int) strlen(p);
		char	   *line = trimmed(p, len);

		if (*n + 1 >= cap)
		{
			cap *= 2;
			lines = repalloc(lines, sizeof(char *) * cap);
		}
		lines[(*n)++] = line ? line : pstrdup("");
		p = end ? end + 1 : NULL;
	}
	lines[*n] = NULL;
	return lines;
}

/* Transcript noise (commands, tool frames) is not output: drop its lines. */
static char *
strip_noise(const char *s)
{
	StringInfoData buf;
	int			n;
	char	  **lines = split_lines(s, &n);
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (lines[i][0] == '\0' || is_noise_line(lines[i]))
			continue;
		if (buf.len > 0)
			appendStringInfoChar(&buf, '\n');
		appendStringInfoString(&buf, lines[i]);
	}
	return buf.data;
}

static void
append_text(StringInfo buf, const char *s)
{
	char	   *t;

	if (s == NULL || (t = trimmed(s, strlen(s))) == NULL)
		return;
	if (buf->len > 0)
		appendStringInfoChar(buf, '\n');
	appendStringInfoString(buf, t);
}

static const char *
result_string(Jsonb *result_json, const char *key)
{
	return result_json ? pc_json_string(&result_json->root, key) : NULL;
}

/* The result's own words: its next action, summary, result, message, error. */
static char *
high_signal_text(const LivenessInput *in)
{
	static const char *const keys[] = {"nextAction", "summary", "result", "message", "error", NULL};
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; keys[i] != NULL; i++)
		append_text(&buf, result_string(in->result_json, keys[i]));
	return buf.data;
}

/* The raw output: the result's stdout/stderr, the excerpts, the error. */
static char *
raw_text(const LivenessInput *in)
{
	StringInfoData buf;
	StringInfoData result_raw;
	const char *sources[4];
	int			i;

	initStringInfo(&result_raw);
	append_text(&result_raw, result_string(in->result_json, "stdout"));
	append_text(&result_raw, result_string(in->result_json, "stderr"));
	sources[0] = result_raw.data;
	sources[1] = in->stdout_excerpt;
	sources[2] = in->stderr_excerpt;
	sources[3] = in->error;

	initStringInfo(&buf);
	for (i = 0; i < 4; i++)
		if (sources[i] != NULL)
			append_text(&buf, strip_noise(sources[i]));
	return buf.data;
}

/* ----------------------------------------------------------------------
 * The rules
 * ----------------------------------------------------------------------
 */

static Actionability
actionability(const char *text)
{
	if (text[0] == '\0')
		return ACT_UNKNOWN;
	if (re_match(re_negated_blocker, text))
		return re_match(re_runnable, text) ? ACT_RUNNABLE : ACT_UNKNOWN;
	if (re_match(re_approval, text))
		return ACT_APPROVAL_REQUIRED;
	if (re_match(re_blocker, text))
		return ACT_BLOCKED_EXTERNAL;
	if (re_match(re_manager_review, text))
		return ACT_MANAGER_REVIEW;
	if (re_match(re_runnable, text))
		return ACT_RUNNABLE;
	return ACT_UNKNOWN;
}

/*
 * "Next: x", "Next steps:", "Plan:" labels: the text after the colon (""
 * when the list follows on the next lines), or NULL without a label.
 */
static const char *
after_next_label(const char *line)
{
	const char *p = line;
	static const char *const labels[] = {" steps", " step", " action", "", NULL};
	int			i;

	if (pg_strncasecmp(p, "plan", 4) == 0)
	{
		p += 4;
		while (*p == ' ' || *p == '\t')
			p++;
		return *p == ':' ? strip_list_prefix(p + 1 + strspn(p + 1, " \t")) : NULL;
	}
	if (pg_strncasecmp(p, "next", 4) != 0)
		return NULL;
	p += 4;
	for (i = 0; labels[i] != NULL; i++)
		if (pg_strncasecmp(p, labels[i], strlen(labels[i])) == 0)
		{
			const char *q = p + strlen(labels[i]);

			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == ':')
			{
				q++;
				while (isspace((unsigned char) *q))
					q++;
				return strip_list_prefix(q);
			}
		}
	return NULL;
}

/* The first line announcing future work, or the line after a Next: label. */
static char *
next_action_in(const char *text)
{
	int			n;
	char	  **lines = split_lines(text, &n);
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *line;
		const char *labelled;

		if (lines[i][0] == '\0' || is_noise_line(lines[i]))
			continue;
		line = strip_list_prefix(lines[i]);
		labelled = after_next_label(line);
		if (labelled != NULL)
		{
			int			j;

			if (*labelled != '\0')
				return pstrdup(labelled);
			for (j = i + 1; j < n; j++)
			{
				const char *later = strip_list_prefix(lines[j]);

				if (*later != '\0' && !is_noise_line(later))
					return pstrdup(later);
			}
			return NULL;
		}
		if (re_match(re_future_work, line))
			return pstrdup(line);
	}
	return NULL;
}

static char *
find_next_action(const LivenessInput *in, const char *high, const char *raw)
{
	const char *structured = result_string(in->result_json, "nextAction");
	char	   *found = NULL;
	char	   *t;

	if (structured != NULL && (t = trimmed(structured, strlen(structured))) != NULL)
		found = t;
	if (found == NULL && high[0] != '\0')
		found = next_action_in(high);
	if (found == NULL && raw[0] != '\0')
		found = next_action_in(raw);
	return found ? cut(found) : NULL;
}

static char *
evidence_reason(const LivenessEvidence *ev)
{
	StringInfoData buf;

#define PART(n, label) \
	if ((n) > 0) \
		appendStringInfo(&buf, "%s" INT64_FORMAT " " label, buf.len > 0 ? ", " : "", (int64) (n))

	initStringInfo(&buf);
	PART(ev->comments, "issue comment(s)");
	PART(ev->doc_revisions, "document revision(s)");
	PART(ev->work_products, "work product(s)");
	PART(ev->workspace_ops, "workspace operation(s)");
	PART(ev->activity, "activity event(s)");
	PART(ev->tool_events, "tool/action event(s)");
#undef PART
	return buf.data;
}

static Liveness
verdict(const char *state, const char *reason, char *next_action, bool concrete)
{
	Liveness	l;

	l.state = state;
	l.reason = cut(reason);
	l.next_action = next_action;
	l.useful_action = concrete &&
		(strcmp(state, "advanced") == 0 || strcmp(state, "completed") == 0 ||
		 strcmp(state, "blocked") == 0);
	return l;
}

/* liveness.md, first match wins */
static Liveness
classify(const LivenessInput *in)
{
	const LivenessEvidence *ev = &in->ev;
	char	   *high = high_signal_text(in);
	char	   *raw = raw_text(in);
	const char *action_text = high[0] != '\0' ? high : raw;
	bool		useful = high[0] != '\0' || raw[0] != '\0';
	bool		concrete = ev->comments + ev->doc_revisions + ev->work_products +
		ev->activity + ev->tool_events > 0;
	Actionability act;
	char	   *next_action;

	if (strcmp(in->run_status, "succeeded") != 0)
		return verdict("failed",
					   in->error_code
					   ? psprintf("Run ended with %s (%s)", in->run_status, in->error_code)
					   : psprintf("Run ended with %s", in->run_status),
					   NULL, concrete);

	if (in->issue_status != NULL &&
		(strcmp(in->issue_status, "done") == 0 || strcmp(in->issue_status, "cancelled") == 0))
		return verdict("completed", psprintf("Issue is %s", in->issue_status), NULL, concrete);

	act = actionability(action_text);
	next_action = find_next_action(in, high, raw);
	if (in->issue_status != NULL && strcmp(in->issue_status, "blocked") == 0)
		return verdict("blocked", "Issue status is blocked", next_action, concrete);
	if (act == ACT_BLOCKED_EXTERNAL || act == ACT_APPROVAL_REQUIRED)
		return verdict("blocked", "Run output declared a concrete blocker", next_action, concrete);

	if (!useful && !concrete)
		return verdict("empty_response",
					   "Run succeeded without useful output or concrete action evidence",
					   NULL, concrete);
	if (concrete)
		return verdict("advanced",
					   psprintf("Run produced concrete action evidence: %s", evidence_reason(ev)),
					   NULL, concrete);
	if (ev->plan_doc_revisions > 0)
		return verdict("advanced",
					   "A saved plan revision is exempt from plan-only classification",
					   NULL, concrete);

	if (next_action != NULL || re_match(re_future_work, action_text) ||
		re_match(re_plan_heading, action_text))
	{
		if (act == ACT_RUNNABLE)
			return verdict("plan_only",
						   "Run described runnable future work without concrete action evidence",
						   next_action, concrete);
		return verdict("needs_followup",
					   "Run described future work that is not safe to auto-continue",
					   next_action, concrete);
	}
	return verdict("needs_followup",
				   "Run produced useful output but no concrete action evidence", NULL, concrete);
}

/* ----------------------------------------------------------------------
 * paperclip.classify_run_liveness(input jsonb) RETURNS jsonb
 * ----------------------------------------------------------------------
 */

/* Missing, negative or not a number: 0. */
static int64
json_count(JsonbContainer *obj, const char *key)
{
	double		d = obj ? pc_json_number_or(obj, key, 0) : 0;

	if (!(d > 0))
		return 0;
	return d >= (double) PG_INT32_MAX ? PG_INT32_MAX : (int64) floor(d);
}

static Jsonb *
json_object_or_null(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (obj == NULL || (v = pc_json_get(obj, key, &buf)) == NULL || v->type != jbvBinary ||
		!JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return JsonbValueToJsonb(v);
}

Datum
paperclip_classify_run_liveness(PG_FUNCTION_ARGS)
{
	Jsonb	   *input;
	JsonbContainer *root;
	JsonbContainer *issue;
	JsonbContainer *evidence;
	LivenessInput in = {0};
	Liveness	l;
	const char *latest;
	StringInfoData buf;
	PcJson		j;

	pc_check_not_null(fcinfo, 0, "input");
	input = PG_GETARG_JSONB_P(0);
	if (!pc_jsonb_is_object(input))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveness input must be a JSON object"),
				 errhint("Pass {\"runStatus\": ..., \"issue\": {...}, \"evidence\": {...}}.")));
	root = &input->root;
	issue = pc_json_get_object(root, "issue");
	evidence = pc_json_get_object(root, "evidence");

	in.run_status = pc_json_string(root, "runStatus");
	if (in.run_status == NULL)
		in.run_status = "unknown";
	in.error_code = pc_json_string(root, "errorCode");
	in.issue_status = pc_json_string(issue, "status");
	in.result_json = json_object_or_null(root, "resultJson");
	in.stdout_excerpt = pc_json_string(root, "stdoutExcerpt");
	in.stderr_excerpt = pc_json_string(root, "stderrExcerpt");
	in.error = pc_json_string(root, "error");
	in.continuation_attempt = (int) json_count(root, "continuationAttempt");
	in.ev.comments = json_count(evidence, "issueCommentsCreated");
	in.ev.doc_revisions = json_count(evidence, "documentRevisionsCreated");
	in.ev.plan_doc_revisions = json_count(evidence, "planDocumentRevisionsCreated");
	in.ev.work_products = json_count(evidence, "workProductsCreated");
	in.ev.workspace_ops = json_count(evidence, "workspaceOperationsCreated");
	in.ev.activity = json_count(evidence, "activityEventsCreated");
	in.ev.tool_events = json_count(evidence, "toolOrActionEventsCreated");
	latest = pc_json_string(evidence, "latestEvidenceAt");

	l = classify(&in);

	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "livenessState", l.state);
	pc_json_str(&j, "livenessReason", l.reason);
	pc_json_int(&j, "continuationAttempt", in.continuation_attempt);
	pc_json_str(&j, "lastUsefulActionAt", l.useful_action ? latest : NULL);
	pc_json_str(&j, "nextAction", l.next_action);
	pc_json_close(&j);
	PG_RETURN_JSONB_P(pc_jsonb_from_cstring(buf.data));
}

/* ----------------------------------------------------------------------
 * Backfill: the evidence of a batch of runs in one query
 * ----------------------------------------------------------------------
 */

/*
 * Evidence of the runs of CTE "runs" (heartbeat_runs columns plus issue_id,
 * the issue the evidence must be about, or null for any): comments, document
 * revisions (but continuation summaries), work products, workspace
 * operations, activity and run events other than lifecycle, adapter.invoke
 * and error, each with its latest time.
 */
#define EVIDENCE_QUERY \
	"SELECT r.id, r.status, r.error_code, r.result_json, r.stdout_excerpt, " \
	" r.stderr_excerpt, r.error, r.continuation_attempt, r.context_snapshot, " \
	" i.status AS issue_status, c.n AS comments, d.n AS docs, d.plan_n AS plan_docs, " \
	" w.n AS work_products, o.n AS workspace_ops, a.n AS activity, e.n AS tool_events, " \
	" greatest(c.at, d.at, w.at, o.at, a.at, e.at) AS latest_at " \
	"FROM runs r " \
	"LEFT JOIN paperclip.issues i ON i.id = r.issue_id AND i.company_id = r.company_id " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, max(x.created_at) AS at " \
	"  FROM paperclip.issue_comments x WHERE x.created_by_run_id = r.id " \
	"  AND x.company_id = r.company_id AND (r.issue_id IS NULL OR x.issue_id = r.issue_id)) c " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE x.key = 'plan') AS plan_n, " \
	"  max(v.created_at) AS at FROM paperclip.document_revisions v " \
	"  JOIN paperclip.issue_documents x ON x.document_id = v.document_id AND x.company_id = v.company_id " \
	"  WHERE v.created_by_run_id = r.id AND v.company_id = r.company_id " \
	"  AND x.key <> 'continuation-summary' AND (r.issue_id IS NULL OR x.issue_id = r.issue_id)) d " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, max(x.created_at) AS at " \
	"  FROM paperclip.issue_work_products x WHERE x.created_by_run_id = r.id " \
	"  AND x.company_id = r.company_id AND (r.issue_id IS NULL OR x.issue_id = r.issue_id)) w " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, max(x.started_at) AS at " \
	"  FROM paperclip.workspace_operations x WHERE x.heartbeat_run_id = r.id " \
	"  AND x.company_id = r.company_id) o " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, max(x.created_at) AS at " \
	"  FROM paperclip.activity_log x WHERE x.run_id = r.id AND x.company_id = r.company_id) a " \
	"CROSS JOIN LATERAL (SELECT count(*) AS n, max(x.created_at) AS at " \
	"  FROM paperclip.heartbeat_run_events x WHERE x.run_id = r.id " \
	"  AND x.company_id = r.company_id " \
	"  AND x.event_type NOT IN ('lifecycle', 'adapter.invoke', 'error')) e " \
	"ORDER BY r.created_at, r.id"

#define FINISHED_UNCLASSIFIED \
	"liveness_state IS NULL AND status NOT IN ('queued', 'running', 'scheduled_retry')"

/* $1 company, $2 issue: up to 20 runs of the issue (context or activity). */
static PcPlan plan_backfill_evidence = PC_PLAN(
	"WITH linked AS ("
	"  SELECT id FROM paperclip.heartbeat_runs "
	"  WHERE context_issue_id = $2::text AND company_id = $1 "
	"  UNION SELECT run_id FROM paperclip.activity_log "
	"  WHERE entity_type = 'issue' AND entity_id = $2::text AND company_id = $1 "
	"  AND run_id IS NOT NULL), "
	"runs AS (SELECT h.*, $2::uuid AS issue_id FROM paperclip.heartbeat_runs h "
	"  JOIN linked USING (id) WHERE h.company_id = $1 AND h." FINISHED_UNCLASSIFIED " "
	"  ORDER BY h.created_at, h.id LIMIT " CppAsString2(BACKFILL_BATCH) ") "
	EVIDENCE_QUERY,
	UUIDOID, UUIDOID);

/*
 * $1 batch size, $2 seconds a run must have been finished: any company, the
 * issue from the run's context. Locked, so concurrent batches skip them.
 */
static PcPlan plan_pending_evidence = PC_PLAN(
	"WITH runs AS (SELECT h.*, "
	"  CASE WHEN h.context_snapshot ->> 'issueId' ~ "
	"   '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' "
	"  THEN (h.context_snapshot ->> 'issueId')::uuid END AS issue_id "
	"  FROM paperclip.heartbeat_runs h WHERE h." FINISHED_UNCLASSIFIED " "
	"  AND coalesce(h.finished_at, h.updated_at) <= now() - make_interval(secs => $2) "
	"  ORDER BY h.finished_at LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED) "
	EVIDENCE_QUERY,
	INT4OID, FLOAT8OID);

static PcPlan plan_record_liveness = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs h SET liveness_state = u.state, "
	" liveness_reason = u.reason, continuation_attempt = u.attempt, "
	" last_useful_action_at = u.last_useful, next_action = u.next_action, updated_at = now() "
	"FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[]) "
	" AS u(id, state, reason, attempt, last_useful, next_action) "
	"WHERE h.id = u.id AND h.liveness_state IS NULL",
	UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID,
	TEXTARRAYOID);

/* continuationAttempt of the context, else livenessContinuationAttempt, else the column */
static int
continuation_attempt(int row)
{
	bool		isnull;
	Datum		ctx = pc_getattr(row, "context_snapshot", &isnull);
	Datum		col = pc_getattr(row, "continuation_attempt", &isnull);
	double		d = -1;

	if (!isnull && ctx != (Datum) 0)
	{
		Jsonb	   *jb = DatumGetJsonbP(ctx);

		if (pc_jsonb_is_object(jb))
		{
			d = pc_json_number_or(&jb->root, "continuationAttempt", -1);
			if (d < 0)
				d = pc_json_number_or(&jb->root, "livenessContinuationAttempt", -1);
		}
	}
	if (d >= 0)
		return d >= PG_INT32_MAX ? PG_INT32_MAX : (int) floor(d);
	return DatumGetInt32(col);
}

static LivenessInput
input_of_row(int row)
{
	LivenessInput in = {0};
	bool		isnull;
	Datum		rj = pc_getattr(row, "result_json", &isnull);

	in.run_status = pc_getattr_cstring(row, "status");
	in.error_code = pc_getattr_cstring(row, "error_code");
	in.issue_status = pc_getattr_cstring(row, "issue_status");
	in.result_json = isnull ? NULL : DatumGetJsonbP(rj);
	if (in.result_json != NULL && !pc_jsonb_is_object(in.result_json))
		in.result_json = NULL;
	in.stdout_excerpt = pc_getattr_cstring(row, "stdout_excerpt");
	in.stderr_excerpt = pc_getattr_cstring(row, "stderr_excerpt");
	in.error = pc_getattr_cstring(row, "error");
	in.continuation_attempt = continuation_attempt(row);
	in.ev.comments = pc_getattr_int64(row, "comments");
	in.ev.doc_revisions = pc_getattr_int64(row, "docs");
	in.ev.plan_doc_revisions = pc_getattr_int64(row, "plan_docs");
	in.ev.work_products = pc_getattr_int64(row, "work_products");
	in.ev.workspace_ops = pc_getattr_int64(row, "workspace_ops");
	in.ev.activity = pc_getattr_int64(row, "activity");
	in.ev.tool_events = pc_getattr_int64(row, "tool_events");
	return in;
}

static Datum
make_array(Datum *values, bool *nulls, int n, Oid elmtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elmtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, elmtype,
											  typlen, typbyval, typalign));
}

/*
 * Classify every run of the evidence query just executed, and record the
 * classifications where liveness_state is still null. Returns how many.
 */
static int
classify_and_record(void)
{
	int			n = (int) SPI_processed;
	SPITupleTable *rows = SPI_tuptable;
	Datum	   *cols[6];
	bool	   *nulls[6];
	Datum		args[6];
	int			i;
	int			c;

	if (n == 0)
		return 0;
	for (c = 0; c < 6; c++)
	{
		cols[c] = palloc0(sizeof(Datum) * n);
		nulls[c] = palloc0(sizeof(bool) * n);
	}
	for (i = 0; i < n; i++)
	{
		LivenessInput in;
		Liveness	l;
		bool		isnull;
		Datum		latest;

		SPI_tuptable = rows;
		in = input_of_row(i);
		l = classify(&in);
		latest = pc_getattr(i, "latest_at", &isnull);

		cols[0][i] = pc_getattr(i, "id", &isnull);
		cols[1][i] = CStringGetTextDatum(l.state);
		cols[2][i] = CStringGetTextDatum(l.reason);
		cols[3][i] = Int32GetDatum(in.continuation_attempt);
		cols[4][i] = latest;
		nulls[4][i] = isnull || !l.useful_action;
		cols[5][i] = l.next_action ? CStringGetTextDatum(l.next_action) : (Datum) 0;
		nulls[5][i] = l.next_action == NULL;
	}
	args[0] = make_array(cols[0], nulls[0], n, UUIDOID);
	args[1] = make_array(cols[1], nulls[1], n, TEXTOID);
	args[2] = make_array(cols[2], nulls[2], n, TEXTOID);
	args[3] = make_array(cols[3], nulls[3], n, INT4OID);
	args[4] = make_array(cols[4], nulls[4], n, TIMESTAMPTZOID);
	args[5] = make_array(cols[5], nulls[5], n, TEXTOID);
	return pc_exec(&plan_record_liveness, args, NULL, 0);
}

/*
 * paperclip.backfill_run_liveness(company_id, issue_id) RETURNS int: up to
 * 20 finished, unclassified runs of the issue; how many were updated.
 */
Datum
paperclip_backfill_run_liveness(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	int			updated;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "company_id");
	pc_check_not_null(fcinfo, 1, "issue_id");
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);

	SPI_connect();
	pc_check_company_access(args[0]);
	pc_exec(&plan_backfill_evidence, args, NULL, 0);
	updated = classify_and_record();
	SPI_finish();
	PG_RETURN_INT32(updated);
}

/*
 * Classify up to batch_size runs of any company that finished at least
 * min_age_s seconds ago and are still unclassified. Needs SPI.
 */
int
pc_classify_finished_runs(int batch_size, double min_age_s)
{
	Datum		args[2] = {Int32GetDatum(batch_size), Float8GetDatum(min_age_s)};

	pc_exec(&plan_pending_evidence, args, NULL, 0);
	return classify_and_record();
}

/*
 * paperclip.classify_finished_runs(batch_size DEFAULT 100) RETURNS int:
 * what the scheduler does in each batch, for operators and tests.
 */
Datum
paperclip_classify_finished_runs(PG_FUNCTION_ARGS)
{
	int			updated;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "batch_size");
	SPI_connect();
	pc_check_all_companies("classify_finished_runs");
	updated = pc_classify_finished_runs(Max(1, Min(PG_GETARG_INT32(0), 10000)),
										(double) pc_liveness_delay_s);
	SPI_finish();
	PG_RETURN_INT32(updated);
}
