/* A stand-in for a kernel module: an ELF object whose only content that
 * matters is its .modinfo section. MODINFO is the section's content,
 * NUL-separated key=value pairs, given on the compiler's command line. */
static const char modinfo[] __attribute__((section(".modinfo"), used)) = MODINFO;
