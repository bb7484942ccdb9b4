/*-------------------------------------------------------------------------
 * wake_context.c
 *	  Owns what the context of a wake says to the control plane: whether it
 *	  carries news for a running run (a comment, an issue or an approval the
 *	  run has not seen), and how the contexts of wakes merge into one run's
 *	  context when they coalesce into a queued run or are deferred into a
 *	  follow-up. Pure functions over jsonb, also callable from SQL:
 *	  paperclip.wake_has_news, paperclip.wake_context_merge and the
 *	  aggregate paperclip.wake_context_agg.
 *
 *	  The merge keeps every other key as Paperclip does (the latest wake's
 *	  value wins), except:
 *	    wakeCommentIds  every comment id, in arrival order, no duplicates;
 *	    wakeCommentId   the last of them;
 *	    issueIds        every issue id (issueId and issueIds), no duplicates;
 *	    issueId, taskId the run's own, when it has them: the run stays a run
 *	                    of its issue (runs_for_issue, the blocked-issue guard);
 *	    wakeReasons     the wakes' reasons (a context's wakeReason, else the
 *	                    request's reason), in arrival order, no duplicates.
 *	  Ids are JSON strings or numbers; other values under those keys are not
 *	  ids and are left out of the lists.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "json_util.h"
#include "paperclip.h"
#include "run_state.h"

PG_FUNCTION_INFO_V1(paperclip_wake_has_news);
PG_FUNCTION_INFO_V1(paperclip_wake_context_merge);
PG_FUNCTION_INFO_V1(paperclip_wakeup_request_statuses);

static const char *const wakeup_statuses[] = {PC_WAKEUP_STATUSES, NULL};

/* A list of ids (JSON strings or numbers) and their text. */
typedef struct IdList
{
	JsonbValue *values;
	char	  **texts;
	int			n;
	int			cap;
} IdList;

static void
idlist_add(IdList *l, JsonbValue *v)
{
	char	   *text;

	if (v == NULL)
		return;
	if (v->type == jbvString)
		text = pnstrdup(v->val.string.val, v->val.string.len);
	else if (v->type == jbvNumeric)
		text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else
		return;
	if (l->n == l->cap)
	{
		l->cap = Max(8, l->cap * 2);
		l->values = l->values ? repalloc(l->values, sizeof(JsonbValue) * l->cap)
			: palloc(sizeof(JsonbValue) * l->cap);
		l->texts = l->texts ? repalloc(l->texts, sizeof(char *) * l->cap)
			: palloc(sizeof(char *) * l->cap);
	}
	l->values[l->n] = *v;
	l->texts[l->n] = text;
	l->n++;
}

/* The ids of obj[array_key] (when an array), then obj[scalar_key]; either key may be NULL. */
static void
idlist_collect(IdList *l, JsonbContainer *obj, const char *array_key, const char *scalar_key)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (obj == NULL)
		return;
	v = array_key ? pc_json_get(obj, array_key, &buf) : NULL;
	if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbContainer *arr = v->val.binary.data;
		uint32		size = JsonContainerSize(arr);
		uint32		i;

		for (i = 0; i < size; i++)
			idlist_add(l, getIthJsonbValueFromContainer(arr, i));
	}
	if (scalar_key != NULL)
		idlist_add(l, pc_json_get(obj, scalar_key, &buf));
}

static bool
idlist_contains(const IdList *l, const char *text)
{
	int			i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->texts[i], text) == 0)
			return true;
	return false;
}

/* Whether some id of "wake" is not in "seen". */
static bool
idlist_has_new(const IdList *wake, const IdList *seen)
{
	int			i;

	for (i = 0; i < wake->n; i++)
		if (!idlist_contains(seen, wake->texts[i]))
			return true;
	return false;
}

typedef struct IdOrder
{
	const char *text;
	int			pos;
} IdOrder;

static int
idorder_cmp(const void *a, const void *b)
{
	const IdOrder *x = (const IdOrder *) a;
	const IdOrder *y = (const IdOrder *) b;
	int			c = strcmp(x->text, y->text);

	if (c != 0)
		return c;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Drop repeated ids, keeping each first occurrence and the order (n log n). */
static void
idlist_dedupe(IdList *l)
{
	IdOrder    *order;
	bool	   *dup;
	int			i,
				k;

	if (l->n < 2)
		return;
	order = palloc(sizeof(IdOrder) * l->n);
	dup = palloc0(sizeof(bool) * l->n);
	for (i = 0; i < l->n; i++)
	{
		order[i].text = l->texts[i];
		order[i].pos = i;
	}
	qsort(order, l->n, sizeof(IdOrder), idorder_cmp);
	for (i = 1; i < l->n; i++)
		if (strcmp(order[i].text, order[i - 1].text) == 0)
			dup[order[i].pos] = true;
	for (i = 0, k = 0; i < l->n; i++)
		if (!dup[i])
		{
			l->values[k] = l->values[i];
			l->texts[k] = l->texts[i];
			k++;
		}
	l->n = k;
	pfree(order);
	pfree(dup);
}

static JsonbContainer *
object_of(Jsonb *jb)
{
	return (jb != NULL && pc_jsonb_is_object(jb)) ? &jb->root : NULL;
}

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
push_array(JsonbParseState **st, const char *key, const IdList *l)
{
	int			i;

	push_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < l->n; i++)
		pushJsonbValue(st, WJB_ELEM, &l->values[i]);
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* Keep the existing context's value of key, when it has one. */
static void
push_kept(JsonbParseState **st, JsonbContainer *existing, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = pc_json_get(existing, key, &buf);

	if (v == NULL)
		return;
	push_key(st, key);
	pushJsonbValue(st, WJB_VALUE, v);
}

/* A reason as a JSON string, added to l. */
static void
add_reason(IdList *l, const char *reason)
{
	JsonbValue	v;

	if (reason == NULL)
		return;
	v.type = jbvString;
	v.val.string.val = (char *) reason;
	v.val.string.len = strlen(reason);
	idlist_add(l, &v);
}

/* A context's wake reasons: wakeReasons, then wakeReason (else the request's reason). */
static void
collect_reasons(IdList *l, JsonbContainer *ctx, const char *request_reason)
{
	JsonbValue	buf;
	JsonbValue *v;

	idlist_collect(l, ctx, "wakeReasons", NULL);
	v = pc_json_get(ctx, "wakeReason", &buf);
	if (v != NULL && v->type == jbvString)
		idlist_add(l, v);
	else
		add_reason(l, request_reason);
}

/*
 * Merge the context of a wake (incoming, its request's reason) into the
 * context of a run (existing, and the reason of the request that queued it,
 * used when that context names none). Either may be NULL.
 */
Jsonb *
pc_wake_context_merge(Jsonb *existing, Jsonb *incoming,
					  const char *incoming_reason, const char *existing_reason)
{
	JsonbContainer *e = object_of(existing);
	JsonbContainer *i = object_of(incoming);
	IdList		comments = {0};
	IdList		issues = {0};
	IdList		reasons = {0};
	JsonbParseState *st = NULL;
	JsonbValue *merged;
	Datum		base;

	idlist_collect(&comments, e, "wakeCommentIds", "wakeCommentId");
	idlist_collect(&comments, i, "wakeCommentIds", "wakeCommentId");
	idlist_dedupe(&comments);
	idlist_collect(&issues, e, "issueIds", "issueId");
	idlist_collect(&issues, i, "issueIds", "issueId");
	idlist_dedupe(&issues);
	if (e != NULL)
		collect_reasons(&reasons, e, existing_reason);
	else
		add_reason(&reasons, existing_reason);
	collect_reasons(&reasons, i, incoming_reason);
	idlist_dedupe(&reasons);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_kept(&st, e, "issueId");
	push_kept(&st, e, "taskId");
	if (comments.n > 0)
	{
		push_array(&st, "wakeCommentIds", &comments);
		push_key(&st, "wakeCommentId");
		pushJsonbValue(&st, WJB_VALUE, &comments.values[comments.n - 1]);
	}
	if (issues.n > 0)
		push_array(&st, "issueIds", &issues);
	if (reasons.n > 0)
		push_array(&st, "wakeReasons", &reasons);
	merged = pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	/* every other key: the existing context's, then the wake's over them */
	base = JsonbPGetDatum(e != NULL ? existing : pc_jsonb_from_cstring("{}"));
	if (i != NULL)
		base = DirectFunctionCall2(jsonb_concat, base, JsonbPGetDatum(incoming));
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, base,
											  JsonbPGetDatum(JsonbValueToJsonb(merged))));
}

/*
 * Whether a wake's context names something a run's context has not seen:
 * a comment (wakeCommentId, wakeCommentIds), an issue other than the run's
 * (issueId, taskId, issueIds), an approval (approvalId, approvalIds).
 */
bool
pc_wake_has_news(Jsonb *incoming, Jsonb *run_context)
{
	JsonbContainer *i = object_of(incoming);
	JsonbContainer *r = object_of(run_context);
	IdList		wake = {0};
	IdList		seen = {0};

	if (i == NULL)
		return false;

	idlist_collect(&wake, i, "wakeCommentIds", "wakeCommentId");
	idlist_collect(&seen, r, "wakeCommentIds", "wakeCommentId");
	if (idlist_has_new(&wake, &seen))
		return true;

	wake.n = seen.n = 0;
	idlist_collect(&wake, i, "issueIds", "issueId");
	idlist_collect(&wake, i, NULL, "taskId");
	idlist_collect(&seen, r, "issueIds", "issueId");
	idlist_collect(&seen, r, NULL, "taskId");
	if (idlist_has_new(&wake, &seen))
		return true;

	wake.n = seen.n = 0;
	idlist_collect(&wake, i, "approvalIds", "approvalId");
	idlist_collect(&seen, r, "approvalIds", "approvalId");
	return idlist_has_new(&wake, &seen);
}

/*
 * paperclip.wake_has_news(context jsonb, run_context jsonb) RETURNS bool
 */
Datum
paperclip_wake_has_news(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(pc_wake_has_news(PG_GETARG_JSONB_P(0),
									PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1)));
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * paperclip.wake_context_merge(existing, incoming, incoming_reason,
 * existing_reason) RETURNS jsonb, and the transition function of
 * paperclip.wake_context_agg(context, reason):
 * wake_context_accum(state, context, reason).
 */
Datum
paperclip_wake_context_merge(PG_FUNCTION_ARGS)
{
	Jsonb	   *existing = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *incoming = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);

	PG_RETURN_JSONB_P(pc_wake_context_merge(existing, incoming,
											text_arg(fcinfo, 2), text_arg(fcinfo, 3)));
}

/*
 * paperclip.wakeup_request_statuses() RETURNS text[]: the vocabulary of
 * agent_wakeup_requests.status, which its CHECK constraint reads.
 */
Datum
paperclip_wakeup_request_statuses(PG_FUNCTION_ARGS)
{
	int			n = lengthof(wakeup_statuses) - 1;
	Datum	   *elems = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(wakeup_statuses[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
