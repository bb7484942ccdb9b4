/*-------------------------------------------------------------------------
 * paperclip.h
 *	  What the modules of the paperclip extension share: configuration,
 *	  the commit-time launcher wake, run events and live events, and the
 *	  internal entry points one module calls in another.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_H
#define PAPERCLIP_H

#include "postgres.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "protocol.h"

/* GUCs (paperclip.c) */
extern char *pc_database_name;
extern bool pc_launcher_enabled;
extern int	pc_max_concurrent_runs;
extern int	pc_timer_interval_s;
extern char *pc_run_log_directory;
extern char *pc_runner_path;
extern int	pc_max_retry_attempts;
extern int	pc_retry_base_delay_s;
extern int	pc_run_retention_s;
extern int	pc_liveness_delay_s;
extern bool pc_scheduler_enabled;
extern bool pc_live_events;
extern char *pc_allowed_commands;
extern char *pc_allowed_http_hosts;
extern bool pc_http_allow_private_networks;
extern bool pc_agent_isolation;
extern char *pc_agent_os_user;
extern char *pc_agent_home_directory;
extern int	pc_max_log_kb;
extern int	pc_agent_max_processes;
extern bool pc_unserved_warning;
extern int	pc_worker_lease_s;
extern int	pc_log_store;		/* PcLogStoreSetting */

/* The kinds of background workers; one of each serves a database. */
typedef enum PcWorkerKind
{
	PC_WORKER_LAUNCHER = 0,
	PC_WORKER_SCHEDULER = 1
} PcWorkerKind;
#define PC_WORKER_KINDS 2

/*
 * Where runners leave their results, relative to the data directory: a
 * directory per database (its OID) below it. Runners started before 0.2
 * wrote into it directly.
 */
#define PC_SPOOL_DIRECTORY "pg_paperclip/spool"

/* paperclip_worker's application_name (its fallback_application_name; src/worker/) */
#define PC_WORKER_APPLICATION_NAME "paperclip_worker"

/* Whether a database's runs have local workers to run them. */
typedef enum PcServed
{
	PC_SERVED = 0,				/* its launcher runs, or is being started */
	PC_SERVED_SHORT,			/* wanted, but no background worker slot was free */
	PC_SERVED_NOT				/* not served (template, no connections, ...) */
} PcServed;

/* The workers' registry in shared memory (bgworkers/registry.c) */
extern void pc_registry_shmem_request(void);
extern Size pc_registry_shmem_size(void);
extern void pc_registry_shmem_init(void);
extern bool pc_registry_attached(void);
extern void pc_wake_worker(PcWorkerKind kind, Oid database);
extern void pc_wake_supervisor(void);
extern PcServed pc_registry_served(Oid database);
extern int	pc_registry_hold(Oid database);
extern bool pc_registry_wait_gone(Oid database, long timeout_ms);
extern void pc_registry_unhold(void);
extern void pc_registry_nudge(Oid database);

/*
 * What backends do for the workers of each database (serving.c): hold
 * them off a database being dropped, renamed, moved or copied; tell the
 * supervisor when the extension or a database comes or goes; warn when
 * runs are queued where nobody will run them.
 */
extern void pc_serving_init(void);
extern void pc_serving_xact_end(bool commit);
extern void pc_warn_if_unserved(void);

extern void pc_wake_launcher_at_commit(void);
extern void pc_wake_scheduler_at_commit(void);
extern char *pc_run_log_dir(void);
extern char *pc_json_list_of_guc(const char *value);
extern char *pc_runner_settings_json(void);
extern void pc_warn_if_isolation_off(const char *worker);
extern bool pc_path_has_parent_ref(const char *path);

/*
 * The first call of every SQL function that writes: not on a standby, not
 * in a read-only transaction, not on another version's schema (paperclip.c)
 */
extern void pc_check_writable(FunctionCallInfo fcinfo);
extern char *pc_installed_version(void);
extern char *pc_installed_extension(Oid *oid);

/*
 * Run logs (runlog.c). Where a run's log is kept (heartbeat_runs.log_store,
 * of domain paperclip.log_store, checked against this list in
 * vocabulary.c): in paperclip.run_log_chunks, or in a file whose location
 * is derived from the run, never from a caller.
 */
#define PC_LOG_STORE_DB "db"
#define PC_LOG_STORE_FILE "file"
#define PC_LOG_STORE_LEGACY "local_file"	/* 0.1's files */
#define PC_LOG_ROW_MAX (64 * 1024)	/* bytes of a log in one row at most */

typedef enum PcLogStoreSetting
{
	PC_LOG_STORE_SETTING_DB,
	PC_LOG_STORE_SETTING_FILE
} PcLogStoreSetting;

extern char *pc_run_log_path(const char *company_id, const char *run_id, bool create_dir);
extern char *pc_legacy_run_log_path(const char *company_id, const char *run_id);

/* Rows of paperclip.run_log_chunks gathered for one INSERT; need SPI */
typedef struct PcLogRows
{
	int			n;
	int			cap;
	int64		bytes;
	Datum	   *company_ids;
	Datum	   *run_ids;
	Datum	   *offsets;
	Datum	   *contents;
} PcLogRows;

extern int64 pc_run_log_end(Datum company_id, Datum run_id);
extern void pc_log_rows_init(PcLogRows *rows);
extern int64 pc_log_rows_add_file(PcLogRows *rows, Datum company_id, Datum run_id,
								  const char *path, int64 from, int64 max_bytes,
								  int64 *file_size);
extern void pc_log_rows_insert(PcLogRows *rows);
extern int64 pc_run_log_import(Datum company_id, Datum run_id, const char *path,
							   int64 from, int64 *file_size);

/*
 * Argument checks (paperclip.c). Text arguments have documented length
 * limits (54000 program_limit_exceeded beyond them); error messages quote at
 * most PC_QUOTE_MAX bytes of a value they refuse.
 */
#define PC_MAX_NAME_BYTES 1024	/* keys and names: idempotency_key, actor ids,
								 * event_type, action, entity_type, entity_id */
#define PC_MAX_REASON_BYTES (64 * 1024) /* a wakeup's reason */
#define PC_MAX_CONTENT_BYTES (1024 * 1024)	/* messages, log chunks, and
											 * every jsonb argument */
#define PC_QUOTE_MAX 100

extern const char *pc_quote(const char *value);
extern void pc_check_vocabulary(const char *param, const char *value,
								const char *const *allowed);
extern void pc_check_not_null(FunctionCallInfo fcinfo, int argno, const char *param);
extern void pc_check_size(const char *param, Jsonb *jb);
extern void pc_check_length(FunctionCallInfo fcinfo, int argno, const char *param, int max_bytes);

extern const char *const pc_sources[];
extern const char *const pc_trigger_details[];
extern const char *const pc_actor_types[];
extern const char *const pc_streams[];
extern const char *const pc_levels[];

/* Status vocabularies of the tables (vocabulary.c) */
extern const char *const pc_agent_statuses[];
extern const char *const pc_adapter_types[];
extern const char *const pc_run_statuses[];
extern const char *const pc_wakeup_statuses[];

/* Run events and live events (events.c); need an open SPI connection */
extern int	pc_append_run_event(Datum run_id, const char *event_type,
								const char *stream, const char *level,
								const char *message, Jsonb *payload);
extern void pc_insert_run_event(Datum company_id, Datum run_id, Datum agent_id,
								int seq, const char *event_type, const char *stream,
								const char *level, const char *message, Jsonb *payload);
extern void pc_notify_run_event(const char *company_id, Datum run_id, Datum agent_id,
								int seq, const char *event_type, const char *stream,
								const char *level);
extern void pc_notify(const char *company_id, const char *type, const char *payload_json);
extern void pc_notify_run_status(int row);
extern void pc_notify_run_log(const char *company_id, const char *run_id,
							  const char *stream, int64 offset, int64 bytes);
extern void pc_notify_run_queued(int row);
extern void pc_notify_agent_status(int row, const char *outcome);
extern void pc_notify_wakeup_status(const char *company_id, const char *request_id,
									const char *agent_id, const char *run_id,
									const char *status);

/* Wakeups (wakeup.c) */
typedef struct WakeupRequest
{
	Datum		agent_id;
	const char *source;
	const char *trigger_detail; /* or NULL */
	Datum		reason;
	bool		reason_null;
	Datum		payload;
	bool		payload_null;
	Datum		idempotency_key;
	bool		idempotency_key_null;
	const char *actor_type;		/* or NULL */
	Datum		actor_id;
	bool		actor_id_null;
	Datum		context_snapshot;	/* jsonb, never null */
	bool		quiet_if_not_invokable; /* timer ticks: skip, don't error */
} WakeupRequest;

extern bool pc_enqueue_wakeup(const WakeupRequest *req);

/* What a wake's context says (wake_context.c) */
extern bool pc_wake_has_news(Jsonb *incoming, Jsonb *run_context);
extern Jsonb *pc_wake_context_merge(Jsonb *existing, Jsonb *incoming,
									const char *incoming_reason,
									const char *existing_reason);

/* Deferred wakes and follow-up runs (followups.c); need SPI */
extern void pc_lock_deferral(Datum run_id);
extern void pc_release_deferred(Datum run_id, Datum company_id, Datum agent_id,
								bool cancel);
extern int	pc_release_orphaned_deferrals(int limit);

/* Runs (runs.c) */
extern bool pc_is_transient_error(const char *error_code);
extern bool pc_finalize_run(Datum run_id, Jsonb *result);
extern bool pc_cancel_run(Datum run_id, const char *error);
extern bool pc_cancel_run_with_code(Datum run_id, const char *error, const char *error_code);
extern bool pc_end_unstartable_run(Datum run_id, const char *error, const char *error_code);
extern int	pc_cancel_blocked_issue_runs(Datum role_name, bool role_null);
extern void pc_mark_runs_started(Datum *v, const char *nulls);

/* Leases of paperclip_worker's runs (leases.c); PC001 is refused a late result */
#define ERRCODE_PC_LEASE_LOST \
	MAKE_SQLSTATE(PC_SQLSTATE_LEASE_LOST[0], PC_SQLSTATE_LEASE_LOST[1], \
				  PC_SQLSTATE_LEASE_LOST[2], PC_SQLSTATE_LEASE_LOST[3], \
				  PC_SQLSTATE_LEASE_LOST[4])
extern int	pc_expire_worker_leases(int limit, Datum role);
extern TimestampTz pc_next_lease_expiry(void);

/* Timers (timers.c), retries (retries.c), liveness (liveness.c), retention (retention.c) */
typedef struct TickCounts
{
	int			checked;
	int			enqueued;
	int			skipped;
	int			failed;			/* enqueues that raised an error (isolated ticks only) */
} TickCounts;
extern void pc_tick_timers(Datum now, bool isolate_failures, TickCounts *counts);
extern int	pc_promote_due_retries(Datum now, int limit);
extern int	pc_cancel_stale_retries_of_agent(Datum company_id, Datum agent_id);
extern int	pc_classify_finished_runs(int batch_size, double min_age_s);
typedef struct PruneCounts
{
	int64		events;
	int			log_files;
	int			runs;
	int64		wakeup_requests;
} PruneCounts;
extern void pc_prune_expired(int batch_size, PruneCounts *counts);

/* Company isolation in the SECURITY DEFINER entry points (access.c); need SPI */
extern void pc_check_agent_access(Datum agent_id);
extern void pc_check_run_access(Datum run_id);
extern void pc_check_company_access(Datum company_id);
extern void pc_check_all_companies(const char *function_name);

/* Launcher and scheduler (bgworkers/launcher.c, bgworkers/scheduler.c) */
extern PGDLLEXPORT void paperclip_supervisor_main(Datum arg);
extern PGDLLEXPORT void paperclip_scheduler_main(Datum arg);
extern PGDLLEXPORT void paperclip_launcher_main(Datum arg);

#endif
