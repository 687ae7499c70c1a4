package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/bmap.1 from the command-line definition")

// docs/bmap.1 is generated from the CLI definition; it must not drift.
func TestManPageUpToDate(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bmap", "man"}, nil, &out, &errb); err != nil {
		t.Fatalf("bmap man: %v: %s", err, errb.String())
	}
	const path = "../../docs/bmap.1"
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, out.Bytes()) {
		t.Errorf("%s is out of date: run go test ./cmd/bmap -run TestManPageUpToDate -args -update", path)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"bmap", "completion", sh}, nil, &out, &errb); err != nil || out.Len() == 0 {
			t.Errorf("completion %s: %v, %d bytes: %s", sh, err, out.Len(), errb.String())
		}
	}
	var errb bytes.Buffer
	if err := run(context.Background(), []string{"bmap", "completion", "tcsh"}, nil, &bytes.Buffer{}, &errb); exitCode(err) != exitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", exitCode(err), exitUsage)
	}
}
