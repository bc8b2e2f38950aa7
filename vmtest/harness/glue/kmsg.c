// kmodvm's kernel-log watch for libFuzzer harnesses.
//
// A kernel finding (KASAN, UBSAN, WARN, BUG, Oops, ...) does not stop the
// process that triggered it: the syscall returns, libFuzzer goes on, and
// which input it was is lost among thousands. The glue reads the kernel's
// log (/dev/kmsg, from its end at start) after every input, without
// blocking; when a record is the first line of a kernel report it prints
// the record and the input (base64) on stderr, and kcov.c aborts, so that
// libFuzzer stops with that input as its crash and the host keeps it
// (crash-<sha1>).
//
// The first lines are a list, not vmtest/dmesg's regular expressions: the
// glue is C, static, in a guest with no libc of its own, and the check runs
// after every input, so a prefix compare is what it can afford. The list
// follows vmtest/dmesg's patterns (every kind of bug report but kmemleak's,
// which a scan finds long after the input); harness_test.go checks the two
// agree on the kernel logs of vmtest/dmesg/testdata.
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// report_starts are the beginnings of a report's first line.
static const char *const report_starts[] = {
	"BUG: ",         // KASAN, KCSAN, KMSAN, KFENCE, NULL pointers, lockdep, bad pages, ...
	"WARNING: ",     // WARN_ON and lockdep's
	"UBSAN: ",
	"kernel BUG at ",
	"general protection fault",
	"Oops: ",
	"Internal error: ", // arm64's and 32-bit Arm's Oops
	"Unable to handle kernel ",
	"Unhandled fault: ",
	"Kernel panic - not syncing: ",
	"watchdog: BUG: soft lockup",
	"watchdog: Watchdog detected hard LOCKUP",
	"NMI watchdog: Watchdog detected hard LOCKUP",
	"Watchdog detected hard LOCKUP",
	"INFO: task ",
	"INFO: rcu_",
	"rcu: INFO: rcu_",
	"usercopy: Kernel memory ",
	"refcount_t: ",
	"list_add corruption",
	"list_del corruption",
};

// is_oops_line says text is an Oops's first line that names the trap
// ("invalid opcode: 0000 [#1] PREEMPT SMP KASAN"): words, a colon, four
// hex digits, " [#" and a number.
static int is_oops_line(const char *text)
{
	const char *p = text;
	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return 0;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == ' ')
		p++;
	if (p[0] != ':' || p[1] != ' ')
		return 0;
	p += 2;
	for (int i = 0; i < 4; i++, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return strncmp(p, " [#", 3) == 0 && p[3] >= '0' && p[3] <= '9';
}

// kmodvm_report_start says text, a log record's message, begins a kernel
// report.
int kmodvm_report_start(const char *text)
{
	for (size_t i = 0; i < sizeof report_starts / sizeof report_starts[0]; i++)
		if (strncmp(text, report_starts[i], strlen(report_starts[i])) == 0)
			return 1;
	return is_oops_line(text);
}

static int kmsg_fd = -1;

// kmodvm_kmsg_open starts the watch at the log's end: what the kernel said
// before fuzzing (the module's load, the tests before) is not the inputs'.
// A log that cannot be read leaves the watch off, and says so.
void kmodvm_kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd < 0 || lseek(kmsg_fd, 0, SEEK_END) < 0) {
		fprintf(stderr, "kmodvm-fuzz: /dev/kmsg: %s: the input of a kernel report will not be known\n", strerror(errno));
		if (kmsg_fd >= 0)
			close(kmsg_fd);
		kmsg_fd = -1;
	}
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// kmodvm_print_base64 writes a line to stderr: prefix, then data as
// standard base64 with padding (the host decodes it with encoding/base64's
// StdEncoding), in one write, so that no other output splits it.
void kmodvm_print_base64(const char *prefix, const uint8_t *data, size_t size)
{
	size_t plen = strlen(prefix);
	char *line = malloc(plen + (size + 2) / 3 * 4 + 1), *o;
	if (!line)
		return;
	memcpy(line, prefix, plen);
	o = line + plen;
	for (size_t i = 0; i < size; i += 3) {
		size_t n = size - i < 3 ? size - i : 3;
		uint32_t v = (uint32_t)data[i] << 16;
		if (n > 1)
			v |= (uint32_t)data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = n > 1 ? b64[v >> 6 & 63] : '=';
		*o++ = n > 2 ? b64[v & 63] : '=';
	}
	*o++ = '\n';
	fwrite(line, 1, (size_t)(o - line), stderr);
	free(line);
}

// kmodvm_report_key writes into key (of size bytes) the report's line text
// as libFuzzer's crash minimizer compares it, its DEDUP_TOKEN: a
// different report is another bug, and stops it. Whole decimal numbers
// (CPU and PID, a line number, a task's pid) become N, as they differ
// between runs of one bug; hex offsets and names stay.
void kmodvm_report_key(const char *text, char *key, size_t size)
{
	size_t o = 0;
	for (const char *p = text; *p && o + 1 < size; p++) {
		int prev_word = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
		if (isdigit((unsigned char)*p) && !prev_word) {
			const char *e = p;
			while (isdigit((unsigned char)*e))
				e++;
			if (!isalnum((unsigned char)*e) && *e != '_') {
				key[o++] = 'N';
				p = e - 1;
				continue;
			}
		}
		key[o++] = *p;
	}
	key[o] = 0;
}

// kmodvm_kmsg_report reads the records the kernel logged since the last
// call, and on a report's first line prints it and the input and returns
// 1: the caller ends the harness. A read of /dev/kmsg returns one record:
// "prio,seq,usec,flags;text\n", then " KEY=value" lines.
int kmodvm_kmsg_report(const uint8_t *data, size_t size)
{
	char rec[8192];
	if (kmsg_fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof rec - 1);
		if (n < 0 && errno == EPIPE)
			continue; // records overwritten before they were read: go on with the next
		if (n <= 0)
			return 0;
		rec[n] = 0;
		char *text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		text[strcspn(text, "\n")] = 0;
		if (!kmodvm_report_start(text))
			continue;
		fprintf(stderr, "kmodvm-fuzz: kernel report: %s\n", text);
		char key[512];
		kmodvm_report_key(text, key, sizeof key);
		fprintf(stderr, "DEDUP_TOKEN: kmodvm %s\n", key);
		kmodvm_print_base64("kmodvm-fuzz: input ", data, size);
		return 1;
	}
}
