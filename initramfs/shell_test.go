package initramfs

import (
	"context"
	"strings"
	"testing"
)

func TestShellLayerHoldsGoshAndModuleCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds u-root's commands with mkuimage")
	}
	p, err := (&Builder{CacheDir: sharedCache}).Shell(context.Background())
	if err != nil {
		t.Fatalf("Shell: %v", err)
	}
	recs := readLayer(t, p)
	for _, c := range []string{"gosh", "dmesg", "insmod", "rmmod", "lsmod", "cat", "ls"} {
		if _, ok := recs[strings.TrimPrefix(ShellBin, "/")+"/"+c]; !ok {
			t.Errorf("no %s/%s in %s: %v", ShellBin, c, p, names(recs))
		}
	}
}
