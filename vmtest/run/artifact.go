package run

import (
	"errors"
	"os"
	"sync"
)

// artifact is a file written as the VM runs (console.log, events.jsonl,
// dmesg.txt). The same bytes feed the event decoder and the console scan,
// which must go on when the disk fills: so a failed write is kept, the file
// is given up, and the writer keeps accepting everything. The kept error
// makes the run an infrastructure error naming the file, instead of a
// kernel blamed for results the host lost.
type artifact struct {
	mu   sync.Mutex
	f    *os.File
	path string
	err  error
}

// artifactError is a failed artifact write: the host's fault, not the
// kernel's, and not one that trying the VM again would mend.
type artifactError struct {
	path string
	err  error
}

func (e *artifactError) Error() string {
	return "writing " + e.path + ": " + e.err.Error()
}

func (e *artifactError) Unwrap() error { return e.err }

// createArtifact creates (truncating) the artifact at path.
func createArtifact(path string) (*artifact, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, &artifactError{path, err}
	}
	return &artifact{f: f, path: path}, nil
}

func (a *artifact) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		if _, err := a.f.Write(p); err != nil {
			a.err = &artifactError{a.path, err}
		}
	}
	return len(p), nil
}

// close closes the file and returns the first error of its writes or of
// the close.
func (a *artifact) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.f.Close(); err != nil && a.err == nil {
		a.err = &artifactError{a.path, err}
	}
	return a.err
}

// closeArtifacts closes the artifacts in as (nil ones skipped) and returns
// their errors.
func closeArtifacts(as []*artifact) error {
	var errs []error
	for _, a := range as {
		if a != nil {
			if err := a.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
