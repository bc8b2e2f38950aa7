#include <stdio.h>
static int f(int x)
{
	if (x > 3)
		return 1;
	return 0;
}
static int unused(void)
{
	return 42;
}
int main(int argc, char **argv)
{
	int i, s = 0;
	for (i = 0; i < 5; i++)
		s += f(i);
	if (argc > 5)
		s += unused();
	printf("%d\n", s);
	return 0;
}
