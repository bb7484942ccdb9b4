/*-------------------------------------------------------------------------
 * events.c
 *	  Owns run events (heartbeat_run_events: per-run seq, append, list) and
 *	  live events (NOTIFY paperclip_events, delivered at commit), which carry
 *	  no content.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "json_util.h"
#include "paperclip.h"
#include "spi_util.h"

#define PC_NOTIFY_CHANNEL "paperclip_events"
/* NOTIFY refuses payloads of 8000 bytes or more. */
#define PC_NOTIFY_MAX 7999
/* An event type longer than this is not named in its live event. */
#define PC_EVENT_TYPE_LIVE_MAX 64

PG_FUNCTION_INFO_V1(paperclip_append_run_event);
PG_FUNCTION_INFO_V1(paperclip_list_events);

static PcPlan plan_bump_seq = PC_PLAN(
	"UPDATE paperclip.heartbeat_runs SET event_seq = event_seq + 1 "
	"WHERE id = $1 RETURNING event_seq, company_id, agent_id",
	UUIDOID);

static PcPlan plan_insert_event = PC_PLAN(
	"INSERT INTO paperclip.heartbeat_run_events "
	"(company_id, run_id, agent_id, seq, event_type, stream, level, message, payload) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	UUIDOID, UUIDOID, UUIDOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID);

static PcPlan plan_run_exists = PC_PLAN(
	"SELECT 1 FROM paperclip.heartbeat_runs WHERE id = $1", UUIDOID);

static PcPlan plan_list_events = PC_PLAN(
	"SELECT * FROM paperclip.heartbeat_run_events "
	"WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
	UUIDOID, INT4OID, INT4OID);

static char *
uuid_cstring(Datum uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, uuid));
}

/*
 * Queue a live event; it is delivered when the transaction commits. A
 * payload that does not fit NOTIFY is replaced by a marker.
 */
void
pc_notify(const char *company_id, const char *type, const char *payload_json)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "companyId", company_id);
	pc_json_str(&j, "type", type);
	pc_json_raw(&j, "payload", payload_json);
	pc_json_close(&j);

	if (buf.len > PC_NOTIFY_MAX)
	{
		resetStringInfo(&buf);
		pc_json_open(&j, &buf);
		pc_json_str(&j, "companyId", company_id);
		pc_json_str(&j, "type", type);
		pc_json_raw(&j, "payload", "{\"truncated\":true}");
		pc_json_close(&j);
	}
	Async_Notify(PC_NOTIFY_CHANNEL, buf.data);
}

/*
 * Live events carry no content: ids, types, statuses, sequence numbers and
 * byte offsets only. Any login may LISTEN (and NOTIFY) on any channel, so a
 * notification is a hint to read through the API, where row-level security
 * applies; log text, messages, errors and payloads never go out here.
 */

/* heartbeat.run.status for row "row" of the last result (a heartbeat_runs row). */
void
pc_notify_run_status(int row)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "runId", pc_getattr_cstring(row, "id"));
	pc_json_str(&j, "agentId", pc_getattr_cstring(row, "agent_id"));
	pc_json_str(&j, "status", pc_getattr_cstring(row, "status"));
	pc_json_str(&j, "invocationSource", pc_getattr_cstring(row, "invocation_source"));
	pc_json_str(&j, "triggerDetail", pc_getattr_cstring(row, "trigger_detail"));
	pc_json_close(&j);
	pc_notify(pc_getattr_cstring(row, "company_id"), "heartbeat.run.status", buf.data);
}

/* heartbeat.run.queued for row "row" of the last result (a heartbeat_runs row). */
void
pc_notify_run_queued(int row)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "runId", pc_getattr_cstring(row, "id"));
	pc_json_str(&j, "agentId", pc_getattr_cstring(row, "agent_id"));
	pc_json_str(&j, "invocationSource", pc_getattr_cstring(row, "invocation_source"));
	pc_json_str(&j, "triggerDetail", pc_getattr_cstring(row, "trigger_detail"));
	pc_json_str(&j, "wakeupRequestId", pc_getattr_cstring(row, "wakeup_request_id"));
	pc_json_close(&j);
	pc_notify(pc_getattr_cstring(row, "company_id"), "heartbeat.run.queued", buf.data);
}

/* agent.status for row "row" of the last result (id, company_id, status). */
void
pc_notify_agent_status(int row, const char *outcome)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "agentId", pc_getattr_cstring(row, "id"));
	pc_json_str(&j, "status", pc_getattr_cstring(row, "status"));
	pc_json_str(&j, "outcome", outcome);
	pc_json_close(&j);
	pc_notify(pc_getattr_cstring(row, "company_id"), "agent.status", buf.data);
}

/*
 * heartbeat.run.log: a record was added to a run's log, "bytes" long from
 * byte "offset"; read_log(runId, offset, bytes) returns it.
 */
void
pc_notify_run_log(const char *company_id, const char *run_id, const char *stream,
				  int64 offset, int64 bytes)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "runId", run_id);
	pc_json_str(&j, "stream", stream);
	pc_json_int(&j, "offset", offset);
	pc_json_int(&j, "bytes", bytes);
	pc_json_close(&j);
	pc_notify(company_id, "heartbeat.run.log", buf.data);
}

/*
 * An event type in a live event: the types of the protocol and the tool or
 * action names adapters report are short names; anything else (which an
 * external runner could fill with content) is sent as null.
 */
static const char *
event_type_name(const char *event_type)
{
	const char *p;

	if (strlen(event_type) > PC_EVENT_TYPE_LIVE_MAX)
		return NULL;
	for (p = event_type; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == ':'))
			return NULL;
	return event_type;
}

/* heartbeat.run.event: the event's run, seq, type, stream and level. */
void
pc_notify_run_event(const char *company_id, Datum run_id, Datum agent_id, int seq,
					const char *event_type, const char *stream, const char *level)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "runId", uuid_cstring(run_id));
	pc_json_str(&j, "agentId", uuid_cstring(agent_id));
	pc_json_int(&j, "seq", seq);
	pc_json_str(&j, "eventType", event_type_name(event_type));
	pc_json_str(&j, "stream", stream);
	pc_json_str(&j, "level", level);
	pc_json_close(&j);
	pc_notify(company_id, "heartbeat.run.event", buf.data);
}

/*
 * Insert an event with a seq the caller already took from the run's
 * event_seq, and queue its live event. The caller's SPI result is kept.
 */
void
pc_insert_run_event(Datum company_id, Datum run_id, Datum agent_id, int seq,
					const char *event_type, const char *stream, const char *level,
					const char *message, Jsonb *payload)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	Datum		values[9];
	char		nulls[9];

	values[0] = company_id;
	values[1] = run_id;
	values[2] = agent_id;
	values[3] = Int32GetDatum(seq);
	values[4] = CStringGetTextDatum(event_type);
	values[5] = stream ? CStringGetTextDatum(stream) : (Datum) 0;
	values[6] = level ? CStringGetTextDatum(level) : (Datum) 0;
	values[7] = message ? CStringGetTextDatum(message) : (Datum) 0;
	values[8] = payload ? JsonbPGetDatum(payload) : (Datum) 0;
	memset(nulls, ' ', sizeof(nulls));
	nulls[5] = pc_null(stream == NULL);
	nulls[6] = pc_null(level == NULL);
	nulls[7] = pc_null(message == NULL);
	nulls[8] = pc_null(payload == NULL);
	pc_exec(&plan_insert_event, values, nulls, 0);

	pc_notify_run_event(uuid_cstring(company_id), run_id, agent_id, seq,
						event_type, stream, level);

	SPI_tuptable = saved;
	SPI_processed = saved_processed;
}

/*
 * Append an event to a run with the next seq of that run (row-locking the
 * run to serialise appends); returns the seq, or 0 when the run does not
 * exist. The caller's SPI result is kept.
 */
int
pc_append_run_event(Datum run_id, const char *event_type, const char *stream,
					const char *level, const char *message, Jsonb *payload)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	bool		isnull;
	int			seq = 0;

	if (pc_exec_row(&plan_bump_seq, &run_id, NULL))
	{
		seq = DatumGetInt32(pc_getattr(0, "event_seq", &isnull));
		pc_insert_run_event(pc_getattr(0, "company_id", &isnull), run_id,
							pc_getattr(0, "agent_id", &isnull), seq,
							event_type, stream, level, message, payload);
	}
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
	return seq;
}

static char *
text_arg_or(FunctionCallInfo fcinfo, int argno, const char *dflt)
{
	return PG_ARGISNULL(argno) ? (char *) dflt : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * paperclip.append_run_event(run_id, event_type, message, payload, stream, level)
 * RETURNS int: the event's seq. For external runners.
 */
Datum
paperclip_append_run_event(PG_FUNCTION_ARGS)
{
	char	   *event_type;
	char	   *message;
	char	   *stream;
	char	   *level;
	Jsonb	   *payload = NULL;
	int			seq;

	pc_check_writable(fcinfo);
	pc_check_not_null(fcinfo, 0, "run_id");
	pc_check_not_null(fcinfo, 1, "event_type");
	pc_check_length(fcinfo, 1, "event_type", PC_MAX_NAME_BYTES);
	pc_check_length(fcinfo, 2, "message", PC_MAX_CONTENT_BYTES);
	event_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	message = text_arg_or(fcinfo, 2, NULL);
	if (!PG_ARGISNULL(3))
	{
		payload = PG_GETARG_JSONB_P(3);
		pc_check_size("payload", payload);
	}
	stream = text_arg_or(fcinfo, 4, NULL);
	level = text_arg_or(fcinfo, 5, NULL);
	if (stream != NULL)
		pc_check_vocabulary("stream", stream, pc_streams);
	if (level != NULL)
		pc_check_vocabulary("level", level, pc_levels);
	if (event_type[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_type must not be empty")));

	SPI_connect();
	pc_check_run_access(PG_GETARG_DATUM(0));
	seq = pc_append_run_event(PG_GETARG_DATUM(0), event_type, stream, level,
							  message, payload);
	SPI_finish();

	if (seq == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("heartbeat run not found")));
	PG_RETURN_INT32(seq);
}

/*
 * paperclip.list_events(run_id, after_seq DEFAULT 0, limit DEFAULT 200)
 * RETURNS SETOF heartbeat_run_events: seq > after_seq ascending, limit
 * clamped to 1..1000.
 */
Datum
paperclip_list_events(PG_FUNCTION_ARGS)
{
	Datum		values[3];
	int			after_seq = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int			limit = PG_ARGISNULL(2) ? 200 : PG_GETARG_INT32(2);

	pc_check_not_null(fcinfo, 0, "run_id");
	limit = Max(1, Min(limit, 1000));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	values[0] = PG_GETARG_DATUM(0);
	if (pc_exec_ro(&plan_run_exists, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("heartbeat run not found")));
	values[1] = Int32GetDatum(after_seq);
	values[2] = Int32GetDatum(limit);
	pc_exec_ro(&plan_list_events, values, NULL, 0);
	pc_return_rows(fcinfo);
	SPI_finish();
	return (Datum) 0;
}

/*
 * heartbeat.wakeup.status: a wakeup request was deferred for the follow-up
 * of a running run, or, when that run ended, queued as the follow-up,
 * coalesced into it or cancelled. Ids and statuses only; run_id may be NULL.
 */
void
pc_notify_wakeup_status(const char *company_id, const char *request_id,
						const char *agent_id, const char *run_id, const char *status)
{
	StringInfoData buf;
	PcJson		j;

	if (!pc_live_events)
		return;
	initStringInfo(&buf);
	pc_json_open(&j, &buf);
	pc_json_str(&j, "wakeupRequestId", request_id);
	pc_json_str(&j, "agentId", agent_id);
	pc_json_str(&j, "runId", run_id);
	pc_json_str(&j, "status", status);
	pc_json_close(&j);
	pc_notify(company_id, "heartbeat.wakeup.status", buf.data);
}
