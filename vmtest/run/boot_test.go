package run

import (
	"fmt"
	"strings"
	"testing"
)

func TestConsoleTailIsBounded(t *testing.T) {
	tb := &tailBuffer{max: 100}
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(tb, "line %d\n", i)
	}
	got := string(tb.Bytes())
	if len(got) > 100 || !strings.HasSuffix(got, "line 999\n") || !strings.HasPrefix(got, "line ") {
		t.Errorf("tail = %q", got)
	}
}
