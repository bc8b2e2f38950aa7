package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A person's session, typed into a terminal: the shell shows the guest's
// kernel and the loaded module, and `exit` powers the VM off and ends
// kmodvm with status 0. Beyond amd64 the shell's port is a virtio-serial
// port, no terminal: the agent relays it through a pseudo-terminal. riscv64
// has no 6.1, so it runs 6.12.
func TestCLIShellInATerminal(t *testing.T) {
	for _, c := range []struct{ arch, series string }{
		{"amd64", "6.1"},
		{"arm64", "6.1"},
		{"ppc64el", "6.1"},
		{"s390x", "6.1"},
		{"riscv64", "6.12"},
		{"armhf", "6.1"},
	} {
		t.Run(c.arch, func(t *testing.T) { shellSession(t, c.arch, c.series) })
	}
}

func shellSession(t *testing.T, arch, series string) {
	bin := kmodvmBinary(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("needs tmux (apt-get install tmux)")
	}
	// Unique per run and architecture: t.TempDir's base name is "001" in
	// every subtest.
	session := fmt.Sprintf("kmodvm-shell-test-%d-%s", os.Getpid(), arch)
	status := filepath.Join(t.TempDir(), "status")
	script := strings.Join(append(append([]string{bin, "shell"}, cacheFlag()...),
		"--arch", arch, "-k", series, "-m", repo(t, "kmod"), "-t", repo(t, "guest/mmapdrv")), " ") +
		"; echo $? >" + status + "; sleep 600"
	// A tmux server of the session's own (-L): the server the sessions
	// would share exits when the last one is killed, and a session
	// started as it exits fails ("server exited unexpectedly").
	tmux := func(args ...string) *exec.Cmd {
		return exec.Command("tmux", append([]string{"-L", session}, args...)...)
	}
	if out, err := tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	defer tmux("kill-server").Run()
	pane := func() string {
		out, _ := tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session).Output()
		return string(out)
	}
	waitFor := func(what string, d time.Duration) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			if strings.Contains(pane(), what) {
				return
			}
		}
		t.Fatalf("no %q in the terminal after %v:\n%s", what, d, pane())
	}
	send := func(line string) {
		if out, err := tmux("send-keys", "-t", session, line, "Enter").CombinedOutput(); err != nil {
			t.Fatalf("tmux send-keys: %v\n%s", err, out)
		}
	}
	// gosh's prompt, "$ " at a line's start: the module's build, the shell
	// layer's and the boot come first, and what is typed before the
	// shell opens its port is lost.
	for end := time.Now().Add(5 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if strings.Contains("\n"+pane(), "\n$ ") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no shell prompt:\n%s", pane())
		}
	}
	send("cat /proc/version")
	waitFor("Linux version "+series+".", time.Minute)
	send("lsmod")
	waitFor("mmapdrv ", time.Minute)
	send("exit")
	waitFor("powered off", time.Minute)
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(status); err == nil {
			if s := strings.TrimSpace(string(b)); s != "0" {
				t.Fatalf("kmodvm shell exited %s:\n%s", s, pane())
			}
			return
		}
	}
	t.Fatalf("kmodvm shell still runs after exit:\n%s", pane())
}
