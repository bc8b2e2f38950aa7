// A relocatable object with the shapes of a kernel module's code for the
// symbolizer's tests: two code sections that both start at 0, and a
// function inlined into another. inline.o is built from it by:
//
//	gcc -g -O2 -fno-asynchronous-unwind-tables -fdebug-prefix-map=$PWD=/build/mod \
//	    -c -o inline.o inline.c
//
// (gcc 12, Debian bookworm), so that its DWARF names /build/mod/inline.c,
// a build directory as kbuild's are; the tests read its lines, not its bytes.
static volatile int sink;

static inline int scale(int a)
{
	return a * sink;
}

__attribute__((noinline)) int outer(int x)
{
	int y = scale(x + 1);

	sink = y;
	return y + 2;
}

__attribute__((noinline, section(".init.text"))) int setup(int x)
{
	sink = x;
	return outer(x) + 3;
}
