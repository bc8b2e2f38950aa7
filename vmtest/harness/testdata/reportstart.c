// Runs the glue's kmodvm_report_start on each line of stdin (a log
// record's text) and prints 1 or 0 for it: how kmsg_test.go holds the
// glue's list of first lines against vmtest/dmesg's patterns.
#include <stdio.h>
#include <string.h>

int kmodvm_report_start(const char *text);

int main(void)
{
	char line[8192];

	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		printf("%d\n", kmodvm_report_start(line));
	}
	return 0;
}
