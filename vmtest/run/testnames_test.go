package run

import (
	"slices"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/vmtest/arch"
	"github.com/kmodvm/kmodvm/vmtest/kernel"
	"github.com/kmodvm/kmodvm/vmtest/runcfg"
)

// The tests a package declares come in the order go test runs them, that
// of `go test -list .` in testdata/testorder: the package's test files by
// name, each in declaration order, then the external test package's,
// whatever its files' names; a file the guest's build constraints leave
// out, and TestMain, are not tests.
func TestTestNamesInGoTestsOrder(t *testing.T) {
	got, err := testNames("testdata/testorder", arch.Must(arch.Host()).GOARCH)
	want := []string{"TestZ", "TestA", "TestM", "TestN", "TestXFirstFile"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("testNames = %q, %v; want %q", got, err, want)
	}
}

// The collector of a VM learns each binary's tests in the order they run,
// as that VM's -test.run and -test.skip select them; not those of a binary
// that shuffles them, or whose sources are unknown.
func TestTestOrderFollowsTheVMsArgs(t *testing.T) {
	first := []event.TestBinary{{Name: "order"}, {Name: "gone"}}
	run := &kernelRun{
		r:   &runner{cfg: &runcfg.Config{Tests: []string{"testdata/testorder", "testdata/no-such-package"}}},
		k:   &kernel.Kernel{Arch: arch.Host()},
		img: &guestImage{run: event.RunConfig{Tests: first}},
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
		ok   bool
	}{
		{"all of them", nil, []string{"TestZ", "TestA", "TestM", "TestN", "TestXFirstFile"}, true},
		{"a reboot's skip", withSkip([]string{"-test.run=^Test[ANXZ]"}, []string{"TestZ"}), []string{"TestA", "TestN", "TestXFirstFile"}, true},
		{"shuffled", []string{"-test.shuffle", "42"}, nil, false},
		{"shuffle off", []string{"-test.shuffle=off", "-test.run=M"}, []string{"TestM"}, true},
	} {
		order := run.testOrder([]event.TestBinary{{Name: "order", Args: c.args}, {Name: "gone"}})
		got, ok := order("order")
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: order %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
		if _, ok := order("gone"); ok {
			t.Errorf("%s: a binary whose sources cannot be read has an order", c.name)
		}
		if _, ok := order("not-in-this-vm"); ok {
			t.Errorf("%s: a binary the VM does not run has an order", c.name)
		}
	}
}
