// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for mmapdrv's pure helpers (../mmapdrv_checks.h): the bounds
 * of the bufsize parameter, of a mapping and of a write. A test module of
 * its own, so that it works on every kernel series: before 6.0,
 * kunit_test_suite() defines the module's init, which mmapdrv has already.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "../mmapdrv_checks.h"

static void mmapdrv_bufsize_bounds_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, mmapdrv_bufsize_ok(0));
	KUNIT_EXPECT_TRUE(test, mmapdrv_bufsize_ok(1));
	KUNIT_EXPECT_TRUE(test, mmapdrv_bufsize_ok(MMAPDRV_MAX_BUFSIZE));
	KUNIT_EXPECT_FALSE(test, mmapdrv_bufsize_ok(MMAPDRV_MAX_BUFSIZE + 1));
}

static void mmapdrv_mmap_fits_test(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, mmapdrv_mmap_fits(0, 10, 10));
	KUNIT_EXPECT_TRUE(test, mmapdrv_mmap_fits(9, 1, 10));
	KUNIT_EXPECT_FALSE(test, mmapdrv_mmap_fits(0, 11, 10));
	KUNIT_EXPECT_FALSE(test, mmapdrv_mmap_fits(10, 1, 10));
	KUNIT_EXPECT_FALSE(test, mmapdrv_mmap_fits(9, 2, 10));
}

/* pgoff + pages would wrap: the check must not. */
static void mmapdrv_mmap_fits_no_wrap_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, mmapdrv_mmap_fits(1, ULONG_MAX, 10));
	KUNIT_EXPECT_FALSE(test, mmapdrv_mmap_fits(ULONG_MAX, 2, 10));
}

struct write_len_case {
	const char *name;
	loff_t pos;
	size_t count;
	ssize_t want;
};

static const struct write_len_case write_len_cases[] = {
	{ "negative_pos", -1, 1, -EINVAL },
	{ "empty", 0, 0, 0 },
	{ "empty_at_end", 100, 0, 0 },
	{ "whole", 0, 100, 100 },
	{ "clamped_at_end", 90, 20, 10 },
	{ "at_end", 100, 1, -ENOSPC },
	{ "past_end", 1000, 1, -ENOSPC },
};

static void check_write_len(struct kunit *test, const struct write_len_case *c)
{
	KUNIT_EXPECT_EQ_MSG(test, mmapdrv_write_len(c->pos, c->count, 100),
			    c->want, "write of %zu at %lld into 100 bytes",
			    c->count, (long long)c->pos);
}

/*
 * v5.11, commit fadb08e7c750 ("kunit: Support for Parameterized Testing"):
 * one result per case where the kernel can, one loop over them before.
 */
#ifdef KUNIT_ARRAY_PARAM
static void write_len_desc(const struct write_len_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(write_len, write_len_cases, write_len_desc);

static void mmapdrv_write_len_test(struct kunit *test)
{
	check_write_len(test, test->param_value);
}

#define WRITE_LEN_CASE KUNIT_CASE_PARAM(mmapdrv_write_len_test, write_len_gen_params)
#else
static void mmapdrv_write_len_test(struct kunit *test)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(write_len_cases); i++)
		check_write_len(test, &write_len_cases[i]);
}

#define WRITE_LEN_CASE KUNIT_CASE(mmapdrv_write_len_test)
#endif

static struct kunit_case mmapdrv_checks_cases[] = {
	KUNIT_CASE(mmapdrv_bufsize_bounds_test),
	KUNIT_CASE(mmapdrv_mmap_fits_test),
	KUNIT_CASE(mmapdrv_mmap_fits_no_wrap_test),
	WRITE_LEN_CASE,
	{}
};

static struct kunit_suite mmapdrv_checks_suite = {
	.name = "mmapdrv_checks",
	.test_cases = mmapdrv_checks_cases,
};

kunit_test_suite(mmapdrv_checks_suite);

MODULE_DESCRIPTION("KUnit suite for mmapdrv's range and size checks");
MODULE_AUTHOR("The kmodvm authors");
MODULE_LICENSE("GPL");
