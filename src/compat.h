/*-------------------------------------------------------------------------
 * compat.h
 *	  The server API differences between the PostgreSQL majors paperclip
 *	  supports (15, 17 and 18), in one place. Each guard names the release
 *	  that changed the call; supporting a new major means adding a branch
 *	  here, dropping an old one means deleting its branches.
 *
 *	  Everything else the extension calls (background workers, latches,
 *	  SPI, jsonb, heap_form_tuple, GUC definitions, MarkGUCPrefixReserved,
 *	  shmem_request_hook, pg_mkdir_p, AllocateFile, NOTIFY) is the same in
 *	  15, 17 and 18; make test-pg17 and make test-pg18 build against each
 *	  with -Werror.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_COMPAT_H
#define PAPERCLIP_COMPAT_H

#include "postgres.h"

#include "common/jsonapi.h"
#include "storage/latch.h"

#if PG_VERSION_NUM < 150000
#error "paperclip needs PostgreSQL 15 or later (shmem_request_hook, MarkGUCPrefixReserved)"
#endif

/*
 * CreateWaitEventSet: up to 16 it takes the memory context to allocate the
 * set in; from 17 on, the resource owner that releases it on error (NULL:
 * none). Either way the caller frees the set with FreeWaitEventSet.
 */
#if PG_VERSION_NUM >= 170000
#define pc_create_wait_event_set(cxt, nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define pc_create_wait_event_set(cxt, nevents) CreateWaitEventSet((cxt), (nevents))
#endif

/*
 * makeJsonLexContextCstringLen: from 17 on it first takes a context to fill
 * (NULL: allocate one in the current memory context).
 */
#if PG_VERSION_NUM >= 170000
#define pc_json_lex_context(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (encoding), (need_escapes))
#else
#define pc_json_lex_context(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen((json), (len), (encoding), (need_escapes))
#endif

/*
 * The module's magic block: from 18 on it also names the module and its
 * version (pg_get_loaded_modules() shows them).
 */
#if PG_VERSION_NUM >= 180000
#define PC_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "paperclip", .version = PC_EXTVERSION)
#else
#define PC_MODULE_MAGIC PG_MODULE_MAGIC
#endif

#endif							/* PAPERCLIP_COMPAT_H */
