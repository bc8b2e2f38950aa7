// Runs the glue's kmodvm_report_key on each line of stdin (a report's
// first line) and prints the key: how kmsg_test.go checks what the crash
// minimizer compares.
#include <stdio.h>
#include <string.h>

void kmodvm_report_key(const char *text, char *key, size_t size);

int main(void)
{
	char line[8192], key[512];

	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		kmodvm_report_key(line, key, sizeof key);
		printf("%s\n", key);
	}
	return 0;
}
