package harness

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// CorpusLine begins each input of the corpus the glue sends at the
// harness's end (glue/corpus.c), base64.
const CorpusLine = "kmodvm-fuzz: corpus "

// SplitCorpus takes the corpus the glue sent out of a fuzz job's output:
// the output without those lines, and the inputs. A line that does not
// decode is an error.
func SplitCorpus(output string) (rest string, inputs [][]byte, err error) {
	var b strings.Builder
	for l := range strings.Lines(output) {
		in, ok := strings.CutPrefix(strings.TrimLeft(l, " \t"), CorpusLine)
		if !ok {
			b.WriteString(l)
			continue
		}
		data, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(in))
		if derr != nil {
			return output, nil, fmt.Errorf("the corpus the harness sent: %w", derr)
		}
		inputs = append(inputs, data)
	}
	return b.String(), inputs, nil
}
