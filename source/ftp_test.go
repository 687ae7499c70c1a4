package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startFTPServer serves dir with pyftpdlib (Debian's python3-pyftpdlib), a
// real FTP server that answers SIZE, MDTM and REST, started on a loopback
// port for the test; with user set, only that login is accepted. It
// skips the test where pyftpdlib is not installed. It returns the
// server's host:port.
func startFTPServer(t *testing.T, dir, user, pass string) string {
	t.Helper()
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import pyftpdlib").Run(); err != nil {
		t.Skip("no FTP server to test against: apt-get install python3-pyftpdlib")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"-m", "pyftpdlib", "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-d", dir}
	if user != "" {
		args = append(args, "-u", user, "-P", pass)
	}
	cmd := exec.Command(python, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the FTP server did not start: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFTP(t *testing.T) {
	dir := t.TempDir()
	data := testData(3<<20 + 5)
	if err := os.WriteFile(filepath.Join(dir, "img.raw"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startFTPServer(t, dir, "ftpuser", "ftp-S3cret")
	ctx := context.Background()
	op := &Opener{Net: fastNet}
	base := "ftp://ftpuser:ftp-S3cret@" + addr

	got, s, err := readAllFrom(t, op, base+"/img.raw")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
	if s.Size() != int64(len(data)) {
		t.Errorf("Size = %d", s.Size())
	}

	// Seeks far ahead start a transfer there (REST).
	s, err = op.Open(ctx, base+"/img.raw")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, off := range []int64{100, 2 << 20, 2<<20 + 1000} {
		if _, err := s.(io.Seeker).Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5000)
		if _, err := io.ReadFull(s, buf); err != nil || !bytes.Equal(buf, data[off:off+5000]) {
			t.Fatalf("at %d: %v", off, err)
		}
	}

	if ok, err := op.Exists(ctx, base+"/img.raw"); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if ok, err := op.Exists(ctx, base+"/img.raw.bmap"); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}
	if _, err := op.Open(ctx, base+"/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(missing) = %v, want ErrNotFound", err)
	}
	_, err = op.Open(ctx, "ftp://ftpuser:wrong-pw@"+addr+"/img.raw")
	if err == nil || !strings.Contains(err.Error(), "refused the login") || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("wrong password: %v", err)
	}

	// ~/.netrc gives the login.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NETRC", "")
	os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1 login ftpuser password ftp-S3cret\n"), 0o600)
	if got, _, err := readAllFrom(t, op, "ftp://"+addr+"/img.raw"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("with ~/.netrc: %d bytes, %v", len(got), err)
	}
}

func TestFTPChanged(t *testing.T) {
	dir := t.TempDir()
	data := testData(1 << 20)
	path := filepath.Join(dir, "img.raw")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startFTPServer(t, dir, "", "")
	s, err := (&Opener{Net: fastNet}).Open(context.Background(), "ftp://"+addr+"/img.raw")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
	// Replaced, with another modification time: the next connection
	// (after a seek) sees it.
	if err := os.WriteFile(path, append(data, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	s.(io.Seeker).Seek(800<<10, io.SeekStart)
	if _, err := io.ReadFull(s, buf); !errors.Is(err, ErrChanged) {
		t.Errorf("after the file changed: %v, want ErrChanged", err)
	}
}
