// SPDX-License-Identifier: GPL-2.0
/*
 * A KUnit test module with one case of each outcome, so that tests of
 * kmodvm see a failure reported with its diagnostic, a skip with its reason
 * and a parameterized case's parameters.
 */
#include <kunit/test.h>
#include <linux/module.h>

static void kunitfail_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
}

static void kunitfail_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 1 + 1, 3, "deliberate failure");
}

static void kunitfail_skips(struct kunit *test)
{
	kunit_skip(test, "deliberately skipped");
}

static const int kunitfail_values[] = { 1, 2, 3 };

static void kunitfail_value_desc(const int *v, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "value_%d", *v);
}

KUNIT_ARRAY_PARAM(kunitfail_value, kunitfail_values, kunitfail_value_desc);

static void kunitfail_positive(struct kunit *test)
{
	const int *v = test->param_value;

	KUNIT_EXPECT_GT(test, *v, 0);
}

static struct kunit_case kunitfail_cases[] = {
	KUNIT_CASE(kunitfail_passes),
	KUNIT_CASE(kunitfail_fails),
	KUNIT_CASE(kunitfail_skips),
	KUNIT_CASE_PARAM(kunitfail_positive, kunitfail_value_gen_params),
	{}
};

static struct kunit_suite kunitfail_suite = {
	.name = "kunitfail",
	.test_cases = kunitfail_cases,
};

kunit_test_suite(kunitfail_suite);

MODULE_DESCRIPTION("KUnit cases of every outcome, for kmodvm's tests");
MODULE_LICENSE("GPL");
