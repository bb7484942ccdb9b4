/*-------------------------------------------------------------------------
 * agent_rules.h
 *	  The one home of the rules about what an agent's adapter_config may
 *	  make the server run, used by the SQL side (adapter_config.c, when a
 *	  config is written) and by paperclip_runner (again, before a program
 *	  runs). No backend header.
 *
 *	  Adapters that run a program, and how a command resolves: an absolute
 *	  path as given, a bare name in PC_AGENT_PATH; it is inside
 *	  paperclip.allowed_commands when, after symbolic links and ".." are
 *	  resolved, it is an entry or lies in an entry's directory.
 *
 *	  Env keys refused: a name that is not [A-Za-z_][A-Za-z0-9_]* (a "=" in a name
 *	  would smuggle a second variable into "name=value"); every LD_*
 *	  variable of the dynamic loader; glibc's other variables that it
 *	  removes for set-user-ID programs (UNSECURE_ENVVARS in glibc's
 *	  sysdeps/generic/unsecvars.h: they load code or data from a path); and
 *	  PAPERCLIP_*, which are the runner's to set.
 *-------------------------------------------------------------------------
 */
#ifndef PAPERCLIP_AGENT_RULES_H
#define PAPERCLIP_AGENT_RULES_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"

/* the PATH of agents' programs, and where bare command names are found */
#define PC_AGENT_PATH "/usr/local/bin:/usr/bin:/bin"

/* adapter types that run a program on the server, and their default command */
static const struct
{
	const char *type;
	const char *default_command;
}			pc_program_adapters[] = {
	{PC_ADAPTER_PROCESS, NULL}, {PC_ADAPTER_CLAUDE, "claude"}, {PC_ADAPTER_CODEX, "codex"},
	{PC_ADAPTER_CLI, NULL}, {NULL, NULL}
};

/* Whether an adapter type runs a program; its default command in *command. */
static inline bool
pc_adapter_runs_program(const char *type, const char **default_command)
{
	int			i;

	for (i = 0; type != NULL && pc_program_adapters[i].type != NULL; i++)
		if (strcmp(type, pc_program_adapters[i].type) == 0)
		{
			if (default_command)
				*default_command = pc_program_adapters[i].default_command;
			return true;
		}
	return false;
}

/*
 * The path a command runs from, into out: an absolute path as given, a
 * bare name looked up in PC_AGENT_PATH; false when a bare name is not found
 * or the command is a relative path.
 */
static inline bool
pc_command_resolve(const char *command, char *out, size_t size)
{
	char		path[] = PC_AGENT_PATH;
	char	   *save = NULL;
	char	   *dir;

	if (strchr(command, '/') != NULL)
	{
		if (command[0] != '/')
			return false;
		snprintf(out, size, "%s", command);
		return true;
	}
	for (dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
	{
		snprintf(out, size, "%s/%s", dir, command);
		if (access(out, X_OK) == 0)
			return true;
	}
	out[0] = '\0';
	return false;
}

/*
 * Whether real (a path resolved by realpath) is the allowed_commands entry
 * allowed, or lies in it, once allowed too is resolved.
 */
static inline bool
pc_path_within(const char *real, const char *allowed)
{
	char		resolved[PATH_MAX];
	size_t		len;

	if (allowed == NULL || allowed[0] != '/' || realpath(allowed, resolved) == NULL)
		return false;
	len = strlen(resolved);
	return strcmp(real, resolved) == 0 ||
		(strncmp(real, resolved, len) == 0 && (len == 1 || real[len] == '/'));
}

static const char *const pc_env_unsecure_names[] = {
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
	"LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF",
	"RES_OPTIONS", "TMPDIR", "TZDIR", NULL
};

/*
 * Why an env key may not be set by a config, or NULL when it may. The
 * reason completes "env key \"X\" ...".
 */
static inline const char *
pc_env_key_refused(const char *key)
{
	const char *p;
	int			i;

	if (key == NULL || key[0] == '\0')
		return "is empty";
	if (!((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') || key[0] == '_'))
		return "is not a variable name ([A-Za-z_][A-Za-z0-9_]*)";
	for (p = key; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '_'))
			return "is not a variable name ([A-Za-z_][A-Za-z0-9_]*)";
	if (strncmp(key, "LD_", 3) == 0)
		return "is a dynamic loader variable (LD_*)";
	for (i = 0; pc_env_unsecure_names[i] != NULL; i++)
		if (strcmp(key, pc_env_unsecure_names[i]) == 0)
			return "is one of glibc's unsecure variables (it loads code or data from a path)";
	if (strncmp(key, "PAPERCLIP_", 10) == 0)
		return "is reserved (PAPERCLIP_* variables are set by the runner)";
	return NULL;
}

#endif							/* PAPERCLIP_AGENT_RULES_H */
