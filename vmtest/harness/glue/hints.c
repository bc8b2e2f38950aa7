// kmodvm's comparison hints: the module's comparison operands, written
// into inputs by a mutator of the glue's, as syzkaller's hints do.
//
// kcov.c traces an input's comparisons in the module now and then
// (KCOV_TRACE_CMP) and hands the records here (kmodvm_cmps_feed), which
// gives each pair of operands to libFuzzer's comparison hooks. Those fill
// its table of recent compares: 32 slots
// chosen by the operands' xor, overwritten by the next input's compares,
// and drawn from by one mutation in a dozen. An ioctl that compares its
// command against one magic value beside a switch of a dozen cases loses
// its pair to the cases most of the time (bench/fuzzbench measured it:
// the magic value found in 0 of 2 two-minute tries). So the pairs also
// go here: a table of HINT_SLOTS kept across inputs, and
// LLVMFuzzerCustomMutator, one time in HINT_ODDS, takes a pair whose
// input-side operand the input holds (the value the module compared,
// little or big endian, at its width) and writes the other operand in
// its place; every other time, and when no pair fits the input, it is
// libFuzzer's own mutation (LLVMFuzzerMutate).
//
// A harness that defines LLVMFuzzerCustomMutator itself keeps its own:
// the glue's is weak, and the hints then reach libFuzzer's table only.
#include <linux/kcov.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HINT_SLOTS 4096
#define HINT_ODDS 4
// Pairs tried for one mutation before it falls back to libFuzzer's.
#define HINT_TRIES 16

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

// libFuzzer's own comparison hooks: what they are given lands in its
// table of recent compares, from which its CMP mutation writes one
// operand where the input holds the other (or anywhere). Weak: a harness
// linked without libFuzzer has none.
void __sanitizer_cov_trace_cmp1(uint8_t a, uint8_t b) __attribute__((weak));
void __sanitizer_cov_trace_cmp2(uint16_t a, uint16_t b) __attribute__((weak));
void __sanitizer_cov_trace_cmp4(uint32_t a, uint32_t b) __attribute__((weak));
void __sanitizer_cov_trace_cmp8(uint64_t a, uint64_t b) __attribute__((weak));

// A record of KCOV_TRACE_CMP is four words: type, the two operands, the
// comparison's PC.
#define CMP_WORDS 4

struct hint {
	uint64_t from, to; // the input's value, what to write instead
	uint8_t size;      // bytes: 1, 2, 4, 8; 0 for an empty slot
};

static struct hint hints[HINT_SLOTS];
// filled lists the slots in use, nfilled of them, for the mutator's
// draw: a slot once filled stays so (a later pair may replace its pair).
static uint16_t filled[HINT_SLOTS];
static unsigned nfilled;
static pthread_mutex_t hints_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void put(uint64_t from, uint64_t to, int size)
{
	if (from == to)
		return;
	unsigned i = mix(from * 31 + mix(to) + size) % HINT_SLOTS;
	pthread_mutex_lock(&hints_mu);
	if (!hints[i].size)
		filled[nfilled++] = i;
	hints[i] = (struct hint){from, to, (uint8_t)size};
	pthread_mutex_unlock(&hints_mu);
}

// kmodvm_hint_add keeps the operands of one comparison of the module's,
// a and b, size bytes wide. A comparison with a constant
// (KCOV_CMP_CONST) has the constant in a: the input's value b becomes
// a; other comparisons are hints both ways.
void kmodvm_hint_add(uint64_t a, uint64_t b, int size, int constant)
{
	put(b, a, size);
	if (!constant)
		put(a, b, size);
}

int kmodvm_cmps_traced(void)
{
	return __sanitizer_cov_trace_cmp4 != NULL;
}

// kmodvm_cmps_feed hands the operands of the n records at recs whose PC
// in_module takes for the module's to libFuzzer's hooks, by their size,
// and to the hints; returns how many.
unsigned long kmodvm_cmps_feed(const uint64_t *recs, uint64_t n, int (*in_module)(uint64_t pc))
{
	unsigned long fed = 0;
	for (uint64_t i = 0; i < n; i++) {
		const uint64_t *r = &recs[i * CMP_WORDS];
		uint64_t a = r[1], b = r[2];
		int size = (r[0] & KCOV_CMP_MASK) >> 1;
		if (!in_module(r[3]) || a == b)
			continue;
		fed++;
		kmodvm_hint_add(a, b, 1 << size, r[0] & KCOV_CMP_CONST);
		switch (size) {
		case 0:
			__sanitizer_cov_trace_cmp1(a, b);
			break;
		case 1:
			__sanitizer_cov_trace_cmp2(a, b);
			break;
		case 2:
			__sanitizer_cov_trace_cmp4(a, b);
			break;
		default:
			__sanitizer_cov_trace_cmp8(a, b);
		}
	}
	return fed;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void bytes_of(uint64_t v, int size, int big, uint8_t *out)
{
	for (int i = 0; i < size; i++)
		out[big ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

// apply writes h.to where data holds h.from, at one of the places it
// does (chosen by r), in the byte order it was found in; 0 if nowhere.
static int apply(const struct hint *h, uint8_t *data, size_t size, uint64_t r)
{
	uint8_t pat[2][8], val[2][8];
	size_t at[64];
	int order[64], n = 0;
	if (h->size > size)
		return 0;
	for (int big = 0; big < 2; big++) {
		bytes_of(h->from, h->size, big, pat[big]);
		bytes_of(h->to, h->size, big, val[big]);
	}
	for (size_t i = 0; i + h->size <= size && n < 64; i++)
		for (int big = 0; big < 2 && n < 64; big++)
			if (memcmp(data + i, pat[big], h->size) == 0) {
				at[n] = i;
				order[n++] = big;
				if (h->size == 1)
					break; // one byte reads the same both ways
			}
	if (!n)
		return 0;
	int k = (int)(r % (uint64_t)n);
	memcpy(data + at[k], val[order[k]], h->size);
	return 1;
}

__attribute__((weak)) size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint64_t s = mix(seed + 1);
	unsigned n = __atomic_load_n(&nfilled, __ATOMIC_RELAXED);
	if (n && size && next_rand(&s) % HINT_ODDS == 0) {
		for (int t = 0; t < HINT_TRIES; t++) {
			pthread_mutex_lock(&hints_mu);
			struct hint h = hints[filled[next_rand(&s) % n]];
			pthread_mutex_unlock(&hints_mu);
			if (apply(&h, data, size, next_rand(&s)))
				return size;
		}
	}
	return LLVMFuzzerMutate(data, size, max_size);
}
