/*-------------------------------------------------------------------------
 * run_state.h
 *	  The vocabularies of wakeup requests and runs, once: their statuses,
 *	  the error codes the control plane gives a run (codes a runner reports
 *	  are in protocol.h) and the reasons a wakeup is skipped. C code builds
 *	  its SQL from these names; the CHECK on agent_wakeup_requests.status
 *	  reads its list from here (paperclip.wakeup_request_statuses()).
 *
 *	  Plain macros, no backend header: anything may include it.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_RUN_STATE_H
#define PAPERCLIP_RUN_STATE_H

/* agent_wakeup_requests.status */
#define PC_WAKEUP_QUEUED "queued"
#define PC_WAKEUP_CLAIMED "claimed"
#define PC_WAKEUP_COALESCED "coalesced"
#define PC_WAKEUP_SKIPPED "skipped"
#define PC_WAKEUP_COMPLETED "completed"
#define PC_WAKEUP_FAILED "failed"
#define PC_WAKEUP_CANCELLED "cancelled"
#define PC_WAKEUP_TIMED_OUT "timed_out"
/* a wake with news held for the follow-up of the agent's running run */
#define PC_WAKEUP_DEFERRED "deferred"

#define PC_WAKEUP_STATUSES \
	PC_WAKEUP_QUEUED, PC_WAKEUP_CLAIMED, PC_WAKEUP_COALESCED, PC_WAKEUP_SKIPPED, \
	PC_WAKEUP_COMPLETED, PC_WAKEUP_FAILED, PC_WAKEUP_CANCELLED, PC_WAKEUP_TIMED_OUT, \
	PC_WAKEUP_DEFERRED

/* heartbeat_runs.status */
#define PC_RUN_SCHEDULED_RETRY "scheduled_retry"
#define PC_RUN_QUEUED "queued"
#define PC_RUN_RUNNING "running"
#define PC_RUN_SUCCEEDED "succeeded"
#define PC_RUN_FAILED "failed"
#define PC_RUN_CANCELLED "cancelled"
#define PC_RUN_TIMED_OUT "timed_out"

/*
 * heartbeat_runs.error_code given by the control plane (a cancellation is
 * PC_ERR_CANCELLED of protocol.h, which runners report too)
 */
#define PC_ERR_ISSUE_CANCELLED "issue_cancelled"	/* retry of an issue cancelled or done */
#define PC_ERR_ISSUE_REASSIGNED "issue_reassigned"	/* retry of an issue now another agent's */
#define PC_ERR_ISSUE_BLOCKED "issue_blocked"	/* queued run of a blocked issue, at claim */

/* agent_wakeup_requests.reason of a skipped wakeup */
#define PC_SKIP_DISABLED "heartbeat.disabled"
#define PC_SKIP_ASSIGNMENT "heartbeat.wakeOnAssignment.disabled"
#define PC_SKIP_AUTOMATION "heartbeat.wakeOnAutomation.disabled"
#define PC_SKIP_ON_DEMAND "heartbeat.wakeOnOnDemand.disabled"
#define PC_SKIP_AGENT_ERROR "heartbeat.agentInError"	/* timer wake of an agent in error */

/* A context issue id the control plane looks up: canonical uuid text only. */
#define PC_UUID_RE "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'"
/* SQL: the uuid of a context's issueId, or null (no issue, or not a uuid) */
#define PC_CONTEXT_ISSUE(ctx) \
	"(CASE WHEN (" ctx " ->> 'issueId') ~ " PC_UUID_RE \
	" THEN (" ctx " ->> 'issueId')::uuid END)"

#endif
