package ktap

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// flatten lists every test as "path=status", depth first.
func flatten(tests []*Test, prefix string) []string {
	var out []string
	for _, t := range tests {
		out = append(out, prefix+t.Name+"="+t.Status.String())
		out = append(out, flatten(t.Subtests, prefix+t.Name+"/")...)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string // inline KTAP, or "@file" under testdata
		want []string
	}{
		{
			name: "ktap spec example with unnamed nested test",
			in: "KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n  ok 1 test_1\n  not ok 2 test_2\n" +
				"# example failed\nnot ok 1 example\n",
			want: []string{"example=fail", "example/test_1=pass", "example/test_2=fail"},
		},
		{
			name: "kunit 6.1 debugfs results: parameters, skip, failure",
			in:   "@debugfs-6.1.ktap",
			want: []string{
				"mmapdrv_helpers=fail",
				"mmapdrv_helpers/range_ok_accepts_inside=pass",
				"mmapdrv_helpers/range_rejects_overflow=fail",
				"mmapdrv_helpers/size_ok_param=pass",
				"mmapdrv_helpers/size_ok_param/zero=pass",
				"mmapdrv_helpers/size_ok_param/page=skip",
				"mmapdrv_helpers/size_ok_param/max=pass",
			},
		},
		{
			name: "kernel log without a document header, panic part-way",
			in:   "@crash-kmsg-6.1.log",
			want: []string{
				"mmapdrv_helpers=crash",
				"mmapdrv_helpers/range_ok_accepts_inside=pass",
				"mmapdrv_helpers/range_rejects_overflow=pass",
				"mmapdrv_helpers/#3=crash",
				"mmapdrv_helpers/#4=not-run",
			},
		},
		{
			name: "TAP 14 with tab indentation and a panic in the third suite",
			in:   "@panic-tap14.log",
			want: []string{
				"kunit-resource-test=pass",
				"kunit-resource-test/kunit_resource_test_init_resources=pass",
				"kunit-resource-test/kunit_resource_test_alloc_resource=pass",
				"kunit-resource-test/kunit_resource_test_destroy_resource=pass",
				"kunit-resource-test/kunit_resource_test_cleanup_resources=pass",
				"kunit-resource-test/kunit_resource_test_proper_free_ordering=pass",
				"kunit-try-catch-test=pass",
				"kunit-try-catch-test/kunit_test_try_catch_successful_try_no_catch=pass",
				"kunit-try-catch-test/kunit_test_try_catch_unsuccessful_try_does_catch=pass",
				"string-stream-test=crash",
				"string-stream-test/string_stream_test_empty_on_creation=pass",
				"string-stream-test/#2=crash",
				"string-stream-test/#3=not-run",
			},
		},
		{
			name: "TAP 14 skip directive with hyphenated results",
			in:   "@skip-tap14.log",
			want: []string{
				"string-stream-test=pass",
				"string-stream-test/string_stream_test_empty_on_creation=pass",
				"string-stream-test/string_stream_test_not_empty_after_add=pass",
				"string-stream-test/string_stream_test_get_string=pass",
				"example=pass",
				"example/example_simple_test=pass",
				"example/example_skip_test=skip",
			},
		},
		{
			name: "nested suite inside a suite",
			in:   "@nested-tap14.log",
			want: []string{
				"sysctl_test=pass",
				"sysctl_test/sysctl_test_dointvec_null_tbl_data=pass",
				"sysctl_test/example=pass",
				"sysctl_test/example/example_simple_test=pass",
				"sysctl_test/example/example_mock_test=pass",
				"sysctl_test/sysctl_test_dointvec_table_len_is_zero=pass",
				"sysctl_test/sysctl_test_dointvec_table_read_but_position_set=pass",
				"example=pass",
				"example/example_simple_test=pass",
				"example/example_mock_test=pass",
			},
		},
		{
			name: "real 6.1 debugfs: a parameterized case keeps only its last parameter, headerless",
			in:   "@kunitfail-debugfs-6.1.ktap",
			want: []string{
				"kunitfail=fail",
				"kunitfail/kunitfail_passes=pass",
				"kunitfail/kunitfail_fails=fail",
				"kunitfail/kunitfail_skips=skip",
				"kunitfail/kunitfail_positive=pass",
				"kunitfail/kunitfail_positive/value_3=pass",
			},
		},
		{
			name: "real 6.1 kernel log: two module suites among other messages",
			in:   "@kunit-dmesg-6.1.log",
			want: []string{
				"mmapdrv_checks=pass",
				"mmapdrv_checks/mmapdrv_bufsize_bounds_test=pass",
				"mmapdrv_checks/mmapdrv_mmap_fits_test=pass",
				"mmapdrv_checks/mmapdrv_mmap_fits_no_wrap_test=pass",
				"mmapdrv_checks/mmapdrv_write_len_test=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/negative_pos=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/empty=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/empty_at_end=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/whole=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/clamped_at_end=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/at_end=pass",
				"mmapdrv_checks/mmapdrv_write_len_test/past_end=pass",
				"kunitfail=fail",
				"kunitfail/kunitfail_passes=pass",
				"kunitfail/kunitfail_fails=fail",
				"kunitfail/kunitfail_skips=skip",
				"kunitfail/kunitfail_positive=pass",
				"kunitfail/kunitfail_positive/value_1=pass",
				"kunitfail/kunitfail_positive/value_2=pass",
				"kunitfail/kunitfail_positive/value_3=pass",
			},
		},
		{
			name: "result before the plan is complete: the rest did not run",
			in:   "    # Subtest: s\n    1..3\n    ok 1 a\nnot ok 1 s\n",
			want: []string{"s=fail", "s/a=pass", "s/#2=not-run", "s/#3=not-run"},
		},
		{
			name: "no KTAP at all",
			in:   "[    1.0] hello\nworld\n",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if file, ok := strings.CutPrefix(in, "@"); ok {
				b, err := os.ReadFile(filepath.Join("testdata", file))
				if err != nil {
					t.Fatal(err)
				}
				in = string(b)
			}
			got := flatten(Parse(in), "")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseKeepsDiagnosticsOfTheirCase(t *testing.T) {
	b, err := os.ReadFile("testdata/debugfs-6.1.ktap")
	if err != nil {
		t.Fatal(err)
	}
	suites := Parse(string(b))
	failed := suites[0].Subtests[1]
	want := []string{
		"# range_rejects_overflow: EXPECTATION FAILED at kmod/kunit/mmapdrv_kunit.c:40",
		"Expected range_ok(0, ~0UL) == false, but",
		"    range_ok(0, ~0UL) == true",
	}
	if !reflect.DeepEqual(failed.Diag, want) {
		t.Errorf("Diag of %s = %q, want %q", failed.Name, failed.Diag, want)
	}
	if skip := suites[0].Subtests[2].Subtests[1]; skip.Directive != "no pages today" {
		t.Errorf("Directive = %q, want the skip reason", skip.Directive)
	}
}
