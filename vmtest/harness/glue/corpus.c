// kmodvm's corpus copy for libFuzzer harnesses.
//
// libFuzzer writes the inputs it keeps into its first corpus directory,
// which lies in the guest's memory and goes with the VM. When
// KMODVM_FUZZ_CORPUS names that directory, the glue makes it at start and,
// when the harness ends (at exit, or before the abort of a kernel report),
// prints each of its files on stderr as "kmodvm-fuzz: corpus <base64>":
// the host writes them into --corpus, the next run's seeds. The job's
// output is the one way from the harness to the host, as for the input of
// a kernel report.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void kmodvm_print_base64(const char *prefix, const uint8_t *data, size_t size);

static const char *corpus_dir(void)
{
	const char *d = getenv("KMODVM_FUZZ_CORPUS");
	return d && *d ? d : NULL;
}

// kmodvm_corpus_init makes the corpus directory: libFuzzer refuses one
// that does not exist, and a first run has no seeds to put there.
void kmodvm_corpus_init(void)
{
	const char *d = corpus_dir();
	if (d && mkdir(d, 0755) && errno != EEXIST)
		fprintf(stderr, "kmodvm-fuzz: corpus %s: %s\n", d, strerror(errno));
}

// read_input reads the file at path whole; NULL if it is no regular file
// or cannot be read.
static uint8_t *read_input(const char *path, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return NULL;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (buf = malloc(st.st_size + 1))) {
		size_t got = 0;
		ssize_t n;
		while (got < (size_t)st.st_size && (n = read(fd, buf + got, st.st_size - got)) > 0)
			got += n;
		*size = got;
	}
	close(fd);
	return buf;
}

// kmodvm_corpus_emit prints the corpus's inputs, once.
void kmodvm_corpus_emit(void)
{
	static int done;
	const char *d = corpus_dir();
	if (!d || done)
		return;
	done = 1;
	DIR *dir = opendir(d);
	if (!dir) {
		fprintf(stderr, "kmodvm-fuzz: corpus %s: %s\n", d, strerror(errno));
		return;
	}
	unsigned long n = 0;
	char path[4096];
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t size = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", d, e->d_name);
		uint8_t *buf = read_input(path, &size);
		if (!buf)
			continue;
		kmodvm_print_base64("kmodvm-fuzz: corpus ", buf, size);
		free(buf);
		n++;
	}
	closedir(dir);
	fprintf(stderr, "kmodvm-fuzz: sent the corpus: %lu inputs\n", n);
}
