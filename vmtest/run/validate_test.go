package run

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmodvm/kmodvm/vmtest/allow"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// An allow-list entry without a reason is the caller's to fix before
// anything runs; a complete one, expired or not, is no error.
func TestValidateChecksTheAllowList(t *testing.T) {
	rule := allow.Rule{Title: regexp.MustCompile("^WARNING in f$"), Reason: "bug 1", Expires: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Source: "kmodvm.toml:4"}
	noReason := rule
	noReason.Reason = ""
	for _, c := range []struct {
		rules allow.List
		want  string // "" for no error
	}{
		{allow.List{rule}, ""},
		{allow.List{rule, noReason}, "kmodvm.toml:4: the allow-list entry /^WARNING in f$/ lacks a reason"},
	} {
		cfg := runcfg.Config{Tests: []string{t.TempDir()}, Kernels: []string{"6.1"}, Allow: c.rules}
		err := validate(&cfg)
		var ce *runcfg.ErrConfig
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%d rules: %v", len(c.rules), err)
		case c.want != "" && (!errors.As(err, &ce) || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%d rules: error %v, want an *ErrConfig %q", len(c.rules), err, c.want)
		}
	}
}

func TestValidateScopedFaults(t *testing.T) {
	for p, ok := range map[int]bool{-1: false, 0: true, 1: true, 100: true, 101: false} {
		cfg := runcfg.Config{Tests: []string{t.TempDir()}, Kernels: []string{"6.1"}, ScopeFaults: p}
		var ce *runcfg.ErrConfig
		if err := validate(&cfg); (err == nil) != ok || (err != nil && !errors.As(err, &ce)) {
			t.Errorf("--scoped-faults %d: %v, want ok %v (an *ErrConfig when not)", p, err, ok)
		}
	}
}

// A kernel known to lack the stack-trace filter makes --scoped-faults a
// usage error that suggests a kernel with it, not its own series' -debug
// (6.1-debug on amd64 lacks it too).
func TestCheckNeedFaultFilter(t *testing.T) {
	r := &runner{}
	without := &kernel.Spec{Name: "6.1.192-debug", Series: "6.1", Variant: "debug", Config: map[string]string{"CONFIG_FAULT_INJECTION_STACKTRACE_FILTER": "n"}}
	err := r.checkNeed(context.Background(), []planned{{spec: without}}, needFaultFilter)
	var ce *runcfg.ErrConfig
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "6.1.192-debug lacks") || !strings.Contains(err.Error(), "--kernels 7.3-debug") ||
		strings.Contains(err.Error(), "--kernels 6.1-debug") {
		t.Errorf("without the filter: %v", err)
	}
}
