// Package unread panics the kernel before the agent can read the start of
// the test it means, twice, for kmodvm's reliability tests
// (vmtest/faults_unread_test.go): first in TestMain, before go test
// starts any test, then in TestCPanicsBeforeItsStartIsRead, whose
// "=== RUN" line a relay on the binary's standard output keeps from the
// agent. kmodvm blames the binary's next test each time and skips it in
// the reboot; a run that skips TestAPanicsInTestMain does not panic in
// TestMain.
package unread

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ioPanic is FAULTMOD_PANIC (../faultmod.h).
const ioPanic = 0x4604

// heldLine is the line the relay keeps from the agent, and all after it.
const heldLine = "=== RUN   TestCPanicsBeforeItsStartIsRead"

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("KMODVM_GUEST") != "1" {
		os.Exit(m.Run())
	}
	if !skipped("TestAPanicsInTestMain") {
		panicKernel()
	}
	stop, err := withhold(heldLine)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// TestAPanicsInTestMain is the first test: TestMain panics the kernel
// before it starts, unless -test.skip skips it.
func TestAPanicsInTestMain(t *testing.T) {}

func TestBPasses(t *testing.T) {}

// TestCPanicsBeforeItsStartIsRead panics the kernel while the relay holds
// its "=== RUN" line back, once the agent has had the time to send
// TestBPasses' end.
func TestCPanicsBeforeItsStartIsRead(t *testing.T) {
	if os.Getenv("KMODVM_GUEST") != "1" {
		t.Skip("panics the kernel: only in a kmodvm guest")
	}
	time.Sleep(2 * time.Second)
	panicKernel()
	t.Fatal("the kernel did not panic")
}

func TestDPasses(t *testing.T) {}

// skipped says whether the binary's -test.skip skips the top-level test
// name: kmodvm's reboot skips the test it blamed.
func skipped(name string) bool {
	f := flag.Lookup("test.skip")
	if f == nil || f.Value.String() == "" {
		return false
	}
	ok, _ := regexp.MatchString(f.Value.String(), name)
	return ok
}

// panicKernel panics the kernel through faultmod; it returns only if that
// failed.
func panicKernel() {
	fd, err := unix.Open("/dev/faultmod", unix.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open /dev/faultmod:", err)
		return
	}
	unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioPanic, 0)
	time.Sleep(time.Minute)
}

// withhold puts a relay between the binary's standard output and the
// agent: it passes on each line until one that contains held, and none
// from that one on. stop passes on what is left and puts standard output
// back.
func withhold(held string) (stop func(), err error) {
	out, err := unix.Dup(1)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	if err := unix.Dup2(p[1], 1); err != nil {
		return nil, err
	}
	unix.Close(p[1])
	agent := os.NewFile(uintptr(out), "agent")
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		r := bufio.NewReader(os.NewFile(uintptr(p[0]), "relay"))
		holding := false
		for {
			line, err := r.ReadBytes('\n')
			holding = holding || bytes.Contains(line, []byte(held))
			if !holding {
				agent.Write(line)
			}
			if err != nil {
				return
			}
		}
	}()
	return func() {
		// Standard output's last hold on the relay's pipe goes: the relay
		// reads to its end.
		unix.Dup2(out, 1)
		<-relayed
	}, nil
}
