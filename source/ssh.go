package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// sshFile is a file read through the system's ssh program, so that
// ~/.ssh/config, agents and known_hosts apply. Unlike bmaptool, host keys
// are checked (no StrictHostKeyChecking=no) and ssh never asks anything
// (BatchMode=yes): an unknown host or a missing key is an error, not a
// prompt. Passwords are not supported: use a key or an agent.
//
// The file is read with "cat", and from an offset with "tail -c +N", so a
// broken transfer resumes where it stopped; its size comes from "wc -c".
type sshFile struct {
	o    *Opener
	r    *remote
	name string
}

func (o *Opener) newSSHFile(r *remote, name string) (*sshFile, error) {
	f := &sshFile{o: o, r: r, name: Redact(name)}
	if r.hasPwd {
		return nil, fmt.Errorf("%s: passwords in ssh URLs are not supported (bmaptool passes them to sshpass); use a key or an ssh agent", f.name)
	}
	return f, nil
}

// command returns the ssh command that runs script on the host.
func (f *sshFile) command(ctx context.Context, script string) *exec.Cmd {
	args := append([]string(nil), f.o.SSH...)
	if len(args) == 0 {
		args = []string{"ssh"}
	}
	args = append(args, "-o", "BatchMode=yes", "-o", "ClearAllForwardings=yes", "-o", "ForwardX11=no")
	if f.r.port != "" {
		args = append(args, "-p", f.r.port)
	}
	dest := f.r.host
	if f.r.user != "" {
		dest = f.r.user + "@" + dest
	}
	args = append(args, "--", dest, script)
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// run runs script and returns its output; exit status 1 (the script's
// "no") gives errSSHNo.
func (f *sshFile) run(ctx context.Context, script string) ([]byte, error) {
	cmd := f.command(ctx, script)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &limitedBuffer{max: 4096, b: &stderr}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.Bytes(), nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return nil, errSSHNo
	}
	return nil, f.failure(err, stderr.String())
}

var errSSHNo = errors.New("no")

func (f *sshFile) failure(err error, stderr string) error {
	msg := strings.Join(strings.Fields(stderr), " ")
	if msg != "" {
		return fmt.Errorf("%s: ssh failed: %v: %s", f.name, err, msg)
	}
	return fmt.Errorf("%s: ssh failed: %w", f.name, err)
}

// size checks that the file is a readable regular file and returns its
// size.
func (f *sshFile) size(ctx context.Context) (int64, error) {
	p := shellQuote(f.r.path)
	out, err := f.run(ctx, "test -f "+p+" && test -r "+p+" && wc -c < "+p)
	if errors.Is(err, errSSHNo) {
		return 0, fmt.Errorf("%w: %s cannot be read on %s: make sure it exists, is a regular file, and you have read permissions", ErrNotFound, f.r.path, f.r.host)
	}
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if perr != nil {
		return 0, fmt.Errorf("%s: wc -c printed %q, not a size", f.name, out)
	}
	return n, nil
}

// fetch starts reading at off.
func (f *sshFile) fetch(ctx context.Context, off, _ int64) (*body, error) {
	ctx, cancel := context.WithCancel(ctx)
	p := shellQuote(f.r.path)
	script := "exec cat -- " + p
	if off > 0 {
		script = "exec tail -c +" + strconv.FormatInt(off+1, 10) + " -- " + p
	}
	cmd := f.command(ctx, script)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{max: 4096, b: &stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, permanent(fmt.Errorf("%s: cannot run ssh: %w", f.name, err))
	}
	f.o.debugf("ssh %s: %s", f.r.host, script)
	var once sync.Once
	var waitErr error
	wait := func() error {
		once.Do(func() { waitErr = cmd.Wait(); cancel() })
		return waitErr
	}
	r := &sshReader{out: out, wait: wait, f: f, stderr: &stderr}
	return &body{ReadCloser: readCloser{r, closeFunc(func() error { cancel(); wait(); return nil })}, end: -1, abort: cancel}, nil
}

// sshReader reads ssh's output; at its end, ssh's exit status says
// whether the file was read whole.
type sshReader struct {
	out    io.Reader
	wait   func() error
	f      *sshFile
	stderr *bytes.Buffer
}

func (r *sshReader) Read(p []byte) (int, error) {
	n, err := r.out.Read(p)
	if err == io.EOF {
		if werr := r.wait(); werr != nil {
			return n, r.f.failure(werr, r.stderr.String())
		}
	}
	return n, err
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	b   *bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// openSSH opens an ssh:// name: a stream (read in order; holes are read
// through, as bmaptool does) that resumes where it broke.
func (o *Opener) openSSH(ctx context.Context, name string, r *remote) (Source, error) {
	f, err := o.newSSHFile(r, name)
	if err != nil {
		return nil, err
	}
	size, err := f.size(ctx)
	if err != nil {
		return nil, err
	}
	st := &counters{}
	return &streamOf{newResumable(ctx, f.name, size, f.fetch, o.Net.withDefaults(), st, o.Debugf)}, nil
}

func (o *Opener) existsSSH(ctx context.Context, name string, r *remote) (bool, error) {
	f, err := o.newSSHFile(r, name)
	if err != nil {
		return false, err
	}
	p := shellQuote(f.r.path)
	_, err = f.run(ctx, "test -f "+p+" && test -r "+p)
	if errors.Is(err, errSSHNo) {
		return false, nil
	}
	return err == nil, err
}
