// kmodvm's KCOV glue for libFuzzer harnesses.
//
// libFuzzer sees only the coverage of code compiled with -fsanitize=fuzzer:
// the harness, not the kernel module it drives. This file makes the
// module's coverage libFuzzer's too. The user's LLVMFuzzerTestOneInput is
// compiled under another name (kmodvm passes
// -DLLVMFuzzerTestOneInput=kmodvm_user_TestOneInput); the one here wraps it:
// each thread that runs inputs has its own KCOV buffer (KCOV collects per
// task), reset before an input and read after it. The PCs that lie in the
// module's text (its sections' addresses, from /sys/module/<m>/sections)
// become edges hashed into __libfuzzer_extra_counters, which libFuzzer reads
// after every input as it reads its own counters. The kernel itself is
// built without KCOV_INSTRUMENT_ALL, so almost every PC is the module's;
// the filter drops the rest (another module built with KCOV_INSTRUMENT).
//
// Comparisons: an input that reached new module edges, and one in 16 of
// the others, runs again with KCOV tracing the module's comparisons
// (KCOV_TRACE_CMP, CONFIG_KCOV_ENABLE_COMPARISONS), and their operands go
// to libFuzzer's comparison hooks, whose table its CMP mutation draws from:
// the magic value an ioctl compares its argument against gets written into
// the input. They go to hints.c's table too, whose mutator writes them
// where the input holds the value compared. KMODVM_FUZZ_CMP=0 turns this
// off.
//
// A kernel report after an input ends the harness with that input as
// libFuzzer's crash (kmsg.c).
//
// The modules are named by the environment variable KMODVM_FUZZ_MODULE
// (comma-separated). The glue prints "kmodvm-kcov: ..." lines on stderr:
// each module's text at start, and the distinct module PCs and edges
// seen so far whenever they grew (at most once a second) and at exit.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcov.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int kmodvm_user_TestOneInput(const uint8_t *data, size_t size);

// kmsg.c's watch of the kernel's log: a report's first line after an
// input ends the harness with that input as libFuzzer's crash.
void kmodvm_kmsg_open(void);
void kmodvm_ring_open(void);
void kmodvm_ring_put(const uint8_t *data, size_t size);
int kmodvm_kmsg_report(const uint8_t *data, size_t size);

// corpus.c's copy of libFuzzer's corpus to the host, at the harness's end.
void kmodvm_corpus_init(void);
void kmodvm_corpus_emit(void);

// hints.c: the operands of n comparison records (KCOV_TRACE_CMP's, four
// words each) whose PC is the module's, to libFuzzer and to the glue's
// mutator; returns how many it took.
unsigned long kmodvm_cmps_feed(const uint64_t *recs, uint64_t n, int (*in_module)(uint64_t pc));
// hints.c: whether libFuzzer's comparison hooks are linked in (not in a
// harness linked without libFuzzer).
int kmodvm_cmps_traced(void);

// Big enough for a driver's edges with few collisions, small enough that
// libFuzzer's scan of it after every input costs little.
#define NCOUNTERS (1 << 16)
// PCs one input may record: a deep ioctl path is a few thousand.
#define COVER_WORDS (1 << 18)
#define MAX_RANGES 64
// Distinct PCs are counted by their offset in the module: 1 MiB of text.
#define SEEN_PCS (1 << 20)
// A run this long without a module PC means the module is not
// instrumented, or the harness never reaches it.
#define QUIET_INPUTS 10000

__attribute__((section("__libfuzzer_extra_counters"), used))
uint8_t kmodvm_counters[NCOUNTERS];

struct range {
	uint64_t start, end;
};

static struct range ranges[MAX_RANGES];
static int nranges;
static uint64_t modbase;

// seen_edges and seen_pcs are every edge and PC any input reached, for the
// progress lines: libFuzzer's own numbers count features, not edges.
static uint8_t seen_edges[NCOUNTERS / 8];
static uint8_t seen_pcs[SEEN_PCS / 8];
static unsigned long nedges, npcs, ninputs;
static time_t last_print;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

struct kcov {
	int fd;
	uint64_t *cover;
	// cmp_fd traces comparisons (KCOV_TRACE_CMP): one task has one KCOV
	// enabled at a time, so an input is run again under it (run_cmp).
	// -1 once the kernel refused it.
	int cmp_fd;
	uint64_t *cmp;
	unsigned since_cmp; // inputs since the last comparison trace
};

// A record of KCOV_TRACE_CMP is four words (hints.c reads them).
#define CMP_WORDS 4
// An input that reached new module edges has its comparisons traced, and
// one in CMP_PERIOD of the others.
#define CMP_PERIOD 16

static __thread struct kcov *thread_kcov;

// fail ends the harness with exit status 2. _exit: libFuzzer takes an
// exit() during an input for the input's crash and writes it out.
static void fail(void)
{
	_exit(2);
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "kmodvm-kcov: %s %s: %s\n", what, arg, strerror(errno));
	fail();
}

static int read_hex(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fscanf(f, "%" SCNx64, v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

// module_core_end finds where the module's core (text and data) ends, in
// /proc/modules: the end of its last text section.
static uint64_t module_core_end(const char *mod)
{
	FILE *f = fopen("/proc/modules", "r");
	if (!f)
		die("open", "/proc/modules");
	char name[256];
	unsigned long size;
	uint64_t addr, end = 0;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%255s %lu %*s %*s %*s %" SCNx64, name, &size, &addr) == 3 &&
		    strcmp(name, mod) == 0)
			end = addr + size;
	}
	fclose(f);
	return end;
}

// is_text says a section holds code that may run while fuzzing: not
// .init.text, which the kernel frees once the module's init returned (and
// hands to the next module loaded).
static int is_text(const char *name)
{
	size_t n = strlen(name);
	if (strncmp(name, ".init", 5) == 0)
		return 0;
	return strncmp(name, ".text", 5) == 0 || (n > 5 && strcmp(name + n - 5, ".text") == 0);
}

// module_ranges adds where the module's text sections lie. sysfs gives
// each section's start only: a text section ends where the next section
// (of any kind) or the module's core begins or ends.
static void module_ranges(const char *mod)
{
	char dir[512], path[1024];
	snprintf(dir, sizeof dir, "/sys/module/%s/sections", mod);
	DIR *d = opendir(dir);
	if (!d)
		die("module not loaded? open", dir);
	uint64_t bounds[256], texts[MAX_RANGES];
	int nb = 0, nt = 0, before = nranges;
	struct dirent *e;
	while ((e = readdir(d)) && nb < 255) {
		uint64_t a;
		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (read_hex(path, &a) < 0 || a == 0)
			continue;
		bounds[nb++] = a;
		if (is_text(e->d_name) && nt < MAX_RANGES)
			texts[nt++] = a;
	}
	closedir(d);
	uint64_t core_end = module_core_end(mod);
	if (core_end)
		bounds[nb++] = core_end;
	for (int i = 0; i < nt && nranges < MAX_RANGES; i++) {
		uint64_t end = 0;
		for (int j = 0; j < nb; j++)
			if (bounds[j] > texts[i] && (!end || bounds[j] < end))
				end = bounds[j];
		if (!end)
			continue;
		ranges[nranges++] = (struct range){texts[i], end};
		if (!modbase || texts[i] < modbase)
			modbase = texts[i];
	}
	if (nranges == before) {
		fprintf(stderr, "kmodvm-kcov: no text sections of %s in %s (are section addresses hidden? run as root)\n", mod, dir);
		fail();
	}
	uint64_t bytes = 0;
	for (int i = before; i < nranges; i++)
		bytes += ranges[i].end - ranges[i].start;
	fprintf(stderr, "kmodvm-kcov: fuzzing %s: %d text sections, %" PRIu64 " bytes\n", mod, nranges - before, bytes);
}

// load_ranges reads the text of every module KMODVM_FUZZ_MODULE names
// (comma-separated: a module's directory may build several).
static void load_ranges(void)
{
	const char *env = getenv("KMODVM_FUZZ_MODULE");
	if (!env || !*env) {
		fprintf(stderr, "kmodvm-kcov: KMODVM_FUZZ_MODULE is not set: name the module under test\n");
		fail();
	}
	char *mods = strdup(env), *save = NULL;
	for (char *m = strtok_r(mods, ",", &save); m; m = strtok_r(NULL, ",", &save))
		module_ranges(m);
	free(mods);
}

// kcov_buffer opens a KCOV file and maps its buffer.
static int kcov_buffer(uint64_t **buf)
{
	int fd = open("/sys/kernel/debug/kcov", O_RDWR);
	if (fd < 0)
		die("open (the kernel needs CONFIG_KCOV and debugfs mounted)", "/sys/kernel/debug/kcov");
	if (ioctl(fd, KCOV_INIT_TRACE, COVER_WORDS))
		die("ioctl", "KCOV_INIT_TRACE");
	*buf = mmap(NULL, COVER_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*buf == MAP_FAILED)
		die("mmap", "kcov");
	return fd;
}

static struct kcov *kcov_open(void)
{
	struct kcov *k = calloc(1, sizeof *k);
	if (!k)
		die("allocate", "kcov");
	k->fd = kcov_buffer(&k->cover);
	k->cmp_fd = -1;
	const char *cmp = getenv("KMODVM_FUZZ_CMP");
	if (!cmp || strcmp(cmp, "0") != 0)
		k->cmp_fd = kcov_buffer(&k->cmp);
	if (ioctl(k->fd, KCOV_ENABLE, KCOV_TRACE_PC))
		die("ioctl", "KCOV_ENABLE");
	return k;
}

static int in_module(uint64_t pc)
{
	for (int i = 0; i < nranges; i++)
		if (pc >= ranges[i].start && pc < ranges[i].end)
			return 1;
	return 0;
}

static int mark(uint8_t *bits, uint32_t i)
{
	uint8_t m = 1 << (i & 7);
	if (bits[i >> 3] & m)
		return 0;
	bits[i >> 3] |= m;
	return 1;
}

static unsigned long ncmps;

static void print_seen(void)
{
	fprintf(stderr, "kmodvm-kcov: inputs: %lu module pcs: %lu edges: %lu cmps: %lu\n", ninputs, npcs, nedges, ncmps);
}

// collect hashes the input's PCs, in the order the kernel ran them, into
// edges: the previous PC's offset shifted, xor this one's, as AFL does,
// so that the same blocks reached along other paths count apart.
static int collect(struct kcov *k)
{
	uint64_t n = __atomic_load_n(&k->cover[0], __ATOMIC_RELAXED);
	if (n >= COVER_WORDS)
		n = COVER_WORDS - 1;
	uint32_t prev = 0;
	int grew = 0;
	pthread_mutex_lock(&seen_mu);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pc = k->cover[i + 1];
		if (!in_module(pc))
			continue;
		uint32_t off = (uint32_t)(pc - modbase);
		uint32_t edge = (off ^ prev) & (NCOUNTERS - 1);
		prev = off >> 1;
		if (kmodvm_counters[edge] != 0xff)
			kmodvm_counters[edge]++;
		if (mark(seen_edges, edge))
			nedges++, grew = 1;
		if (mark(seen_pcs, off & (SEEN_PCS - 1)))
			npcs++, grew = 1;
	}
	ninputs++;
	time_t now = time(NULL);
	if ((grew && now != last_print) || (ninputs == QUIET_INPUTS && !npcs)) {
		last_print = now;
		print_seen();
		if (!npcs)
			fprintf(stderr, "kmodvm-kcov: no PC of the module yet: is it built with KCOV_INSTRUMENT=y, and does the harness reach it?\n");
	}
	pthread_mutex_unlock(&seen_mu);
	return grew;
}

static void at_exit(void)
{
	print_seen();
	kmodvm_corpus_emit();
}

// kmsg_check ends the harness when the kernel reported a bug since the
// last check: the corpus first (an abort runs no atexit handler), then
// libFuzzer's deadly signal, which makes the input its crash.
static void kmsg_check(const uint8_t *data, size_t size)
{
	if (kmodvm_kmsg_report(data, size)) {
		kmodvm_corpus_emit();
		abort();
	}
}

// init reads the module's text before libFuzzer starts, so that a wrong
// module name ends the harness at once, not at its first input.
__attribute__((constructor)) static void init(void)
{
	load_ranges();
	kmodvm_kmsg_open();
	kmodvm_ring_open();
	kmodvm_corpus_init();
	atexit(at_exit);
}

// feed_cmps hands the records of the module's comparisons to hints.c.
static void feed_cmps(struct kcov *k)
{
	uint64_t n = __atomic_load_n(&k->cmp[0], __ATOMIC_RELAXED);
	if (n > (COVER_WORDS - 1) / CMP_WORDS)
		n = (COVER_WORDS - 1) / CMP_WORDS;
	unsigned long fed = kmodvm_cmps_feed(&k->cmp[1], n, in_module);
	pthread_mutex_lock(&seen_mu);
	ncmps += fed;
	pthread_mutex_unlock(&seen_mu);
}

// run_cmp runs the input again with KCOV tracing comparisons instead of
// PCs, and feeds their operands to libFuzzer: how it gets past the magic
// values a module compares its input against. A kernel without
// CONFIG_KCOV_ENABLE_COMPARISONS refuses the mode; fuzzing goes on
// without it.
static void run_cmp(struct kcov *k, const uint8_t *data, size_t size)
{
	if (ioctl(k->fd, KCOV_DISABLE, 0))
		die("ioctl", "KCOV_DISABLE");
	if (ioctl(k->cmp_fd, KCOV_ENABLE, KCOV_TRACE_CMP) == 0) {
		__atomic_store_n(&k->cmp[0], 0, __ATOMIC_RELAXED);
		kmodvm_user_TestOneInput(data, size);
		if (ioctl(k->cmp_fd, KCOV_DISABLE, 0))
			die("ioctl", "KCOV_DISABLE");
		feed_cmps(k);
	} else {
		fprintf(stderr, "kmodvm-kcov: no comparison operands (KCOV_TRACE_CMP: %s; CONFIG_KCOV_ENABLE_COMPARISONS?)\n", strerror(errno));
		close(k->cmp_fd);
		k->cmp_fd = -1;
	}
	if (ioctl(k->fd, KCOV_ENABLE, KCOV_TRACE_PC))
		die("ioctl", "KCOV_ENABLE");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kcov *k = thread_kcov;
	if (!k)
		k = thread_kcov = kcov_open();
	kmodvm_ring_put(data, size);
	__atomic_store_n(&k->cover[0], 0, __ATOMIC_RELAXED);
	int ret = kmodvm_user_TestOneInput(data, size);
	int grew = collect(k);
	kmsg_check(data, size);
	if (k->cmp_fd >= 0 && kmodvm_cmps_traced() && (grew || ++k->since_cmp >= CMP_PERIOD)) {
		k->since_cmp = 0;
		run_cmp(k, data, size);
		kmsg_check(data, size);
	}
	return ret;
}
