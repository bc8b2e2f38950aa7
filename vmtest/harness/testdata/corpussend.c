// Runs the glue's corpus copy on the host: makes KMODVM_FUZZ_CORPUS,
// writes the inputs named on the command line there (each argument one
// input), then sends the corpus as the harness does at its end. How
// corpus_test.go holds corpus.c's lines against SplitCorpus.
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

void kmodvm_corpus_init(void);
void kmodvm_corpus_emit(void);

int main(int argc, char **argv)
{
	char path[4096];

	kmodvm_corpus_init();
	for (int i = 1; i < argc; i++) {
		snprintf(path, sizeof path, "%s/input%d", getenv("KMODVM_FUZZ_CORPUS"), i);
		FILE *f = fopen(path, "w");
		if (!f || fwrite(argv[i], 1, strlen(argv[i]), f) != strlen(argv[i]) || fclose(f))
			return 1;
	}
	kmodvm_corpus_emit();
	kmodvm_corpus_emit();
	return 0;
}
