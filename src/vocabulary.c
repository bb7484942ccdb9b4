/*-------------------------------------------------------------------------
 * vocabulary.c
 *	  Owns the check of every status vocabulary the tables hold: one C
 *	  function, paperclip.in_vocabulary(value, vocabulary), that the domains
 *	  of the columns (paperclip.run_status, paperclip.wake_source, ...) and
 *	  the one CHECK of agents (paperclip.agent_fields_valid) call. A value
 *	  outside its vocabulary is refused with 22023, naming the allowed values,
 *	  whoever writes it (the API, an admin writing agents or issues, a
 *	  restore), as the API's own argument checks do.
 *
 *	  Why not CHECK (col IN (...)): PostgreSQL reads every CHECK expression
 *	  of a table back from its stored text (stringToNode) and plans it again
 *	  for each statement that writes the table, and evaluates all of them on
 *	  every UPDATE; a text[] literal is read byte by byte. A domain's check
 *	  is read once per backend (the type cache) and runs only when a value
 *	  of the domain is written. (issue 16)
 *
 *	  The lists themselves have one home each: run_state.h and protocol.h
 *	  for statuses and adapter types, the arrays of paperclip.c for the API's
 *	  argument vocabularies.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json_util.h"
#include "paperclip.h"
#include "protocol.h"
#include "run_state.h"

PG_FUNCTION_INFO_V1(paperclip_in_vocabulary);
PG_FUNCTION_INFO_V1(paperclip_agent_fields_valid);

const char *const pc_agent_statuses[] = {"idle", "running", "paused", "error", "terminated", NULL};
const char *const pc_adapter_types[] = {PC_ADAPTER_PROCESS, PC_ADAPTER_HTTP, PC_ADAPTER_CLAUDE,
PC_ADAPTER_CODEX, PC_ADAPTER_CLI, NULL};
const char *const pc_run_statuses[] = {PC_RUN_SCHEDULED_RETRY, PC_RUN_QUEUED, PC_RUN_RUNNING,
	PC_RUN_SUCCEEDED, PC_RUN_FAILED, PC_RUN_CANCELLED, PC_RUN_TIMED_OUT, NULL};
const char *const pc_wakeup_statuses[] = {PC_WAKEUP_STATUSES, NULL};
static const char *const liveness_states[] = {"completed", "advanced", "plan_only",
"empty_response", "blocked", "failed", "needs_followup", NULL};
static const char *const issue_statuses[] = {"backlog", "todo", "in_progress", "in_review",
"blocked", "done", "cancelled", NULL};

typedef struct PcVocabulary
{
	const char *name;			/* the domain that holds it */
	const char *const *values;
} PcVocabulary;

static const PcVocabulary vocabularies[] = {
	{"paperclip.run_status", pc_run_statuses},
	{"paperclip.wakeup_status", pc_wakeup_statuses},
	{"paperclip.wake_source", pc_sources},
	{"paperclip.trigger_detail", pc_trigger_details},
	{"paperclip.actor_type", pc_actor_types},
	{"paperclip.liveness_state", liveness_states},
	{"paperclip.event_stream", pc_streams},
	{"paperclip.event_level", pc_levels},
	{"paperclip.issue_status", issue_statuses},
	{"paperclip.agent_status", pc_agent_statuses},
	{"paperclip.adapter_type", pc_adapter_types},
};

static const PcVocabulary *
find_vocabulary(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(vocabularies); i++)
		if (strcmp(vocabularies[i].name, name) == 0)
			return &vocabularies[i];
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown vocabulary \"%s\"", pc_quote(name))));
	return NULL;				/* keep the compiler quiet */
}

/*
 * paperclip.in_vocabulary(value text, vocabulary text) RETURNS bool: true,
 * or 22023 naming the allowed values. Strict: a NULL value passes (columns
 * that need one say NOT NULL).
 */
Datum
paperclip_in_vocabulary(PG_FUNCTION_ARGS)
{
	char	   *vocabulary = text_to_cstring(PG_GETARG_TEXT_PP(1));
	text	   *value = PG_GETARG_TEXT_PP(0);

	pc_check_vocabulary(vocabulary, text_to_cstring(value),
						find_vocabulary(vocabulary)->values);
	PG_RETURN_BOOL(true);
}

/*
 * paperclip.agent_fields_valid(status text, adapter_type text,
 * runtime_config jsonb) RETURNS bool: the CHECK of agents (its status and
 * adapter_type columns keep type text: the generated column timer_due_at
 * reads status, and a column read by a generated column cannot change
 * type). True, or 22023 naming the column and what it may hold.
 */
Datum
paperclip_agent_fields_valid(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
		pc_check_vocabulary("paperclip.agents.status",
							text_to_cstring(PG_GETARG_TEXT_PP(0)), pc_agent_statuses);
	if (!PG_ARGISNULL(1))
		pc_check_vocabulary("paperclip.agents.adapter_type",
							text_to_cstring(PG_GETARG_TEXT_PP(1)), pc_adapter_types);
	if (!PG_ARGISNULL(2) && !pc_jsonb_is_object(PG_GETARG_JSONB_P(2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid runtime_config: it must be a JSON object")));
	PG_RETURN_BOOL(true);
}
