// kmodvm's popen for libFuzzer harnesses, without a shell.
//
// libFuzzer's crash minimizer (-minimize_crash=1) runs the harness again
// for every step, through popen(3), which runs /bin/sh: the guest has no
// shell. The harness is linked with --wrap=popen,--wrap=pclose, so that
// libFuzzer's calls land here. The command lines it makes are its Command's
// toString: arguments joined by spaces (none of them quoted), then
// ">file" and "2>&1"; that grammar is all this parses. Each try is a fresh
// process, whose glue watches the kernel's log again.
#define _GNU_SOURCE // pipe2
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 256

static FILE *open_pipe;
static pid_t open_pid;

// split cuts line into argv in place, taking the redirections out: out is
// the file of ">file", err_to_out says "2>&1" was there.
static int split(char *line, char **argv, char **out, int *err_to_out)
{
	int argc = 0;
	for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
		if (strcmp(tok, "2>&1") == 0)
			*err_to_out = 1;
		else if (tok[0] == '>')
			*out = tok + 1;
		else if (argc < MAX_ARGS - 1)
			argv[argc++] = tok;
	}
	argv[argc] = NULL;
	return argc;
}

// run_child sets up the child's output and runs the command; it never
// returns. stdout goes to fd (the pipe), unless ">file" names another.
static void run_child(char *cmd, int fd)
{
	char *argv[MAX_ARGS], *out = NULL;
	int err_to_out = 0;
	if (split(cmd, argv, &out, &err_to_out) == 0)
		_exit(127);
	if (out) {
		int f = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f >= 0)
			fd = f;
	}
	dup2(fd, 1);
	if (err_to_out)
		dup2(1, 2);
	execv(argv[0], argv);
	// argv[0] as the agent started the harness: maybe no path to it.
	execv("/proc/self/exe", argv);
	_exit(127);
}

// __wrap_popen runs command for reading its output; one at a time, as
// libFuzzer uses it.
FILE *__wrap_popen(const char *command, const char *type)
{
	int p[2];
	if (type[0] != 'r' || open_pipe || pipe2(p, O_CLOEXEC)) {
		errno = EINVAL;
		return NULL;
	}
	char *cmd = strdup(command);
	pid_t pid = cmd ? fork() : -1;
	if (pid == 0)
		run_child(cmd, p[1]);
	free(cmd);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return NULL;
	}
	open_pipe = fdopen(p[0], "r");
	open_pid = pid;
	return open_pipe;
}

// __wrap_pclose waits for the command and returns its status, as
// pclose(3) does.
int __wrap_pclose(FILE *f)
{
	int status;
	if (f != open_pipe) {
		errno = EINVAL;
		return -1;
	}
	fclose(f);
	open_pipe = NULL;
	while (waitpid(open_pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}
