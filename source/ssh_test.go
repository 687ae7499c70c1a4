package source_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/job"
	"github.com/bmap-tools/bmap/source"
)

// sshServer is a real sshd (Debian's openssh-server) on a loopback port,
// with a throwaway host key, one authorized client key, and an ssh
// config for the client (host alias "bmaptest") whose known_hosts holds
// the host key: so the test runs the system ssh with host keys checked.
type sshServer struct {
	config string // the client's ssh config file
	dir    string
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/sshd"); err2 != nil {
			t.Skip("no sshd to test against: apt-get install openssh-server")
		}
		sshd = "/usr/sbin/sshd"
	}
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: apt-get install openssh-client", tool)
		}
	}
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	if me.Uid == "0" {
		// sshd wants its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("cannot make /run/sshd for sshd: %v", err)
		}
	}
	dir := t.TempDir()
	keygen := func(name string) {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen("host_key")
	keygen("client_key")
	pub, _ := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := filepath.Join(dir, "sshd_config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
AuthorizedKeysFile %s/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
PidFile none
`, port, dir, dir)), 0o600)
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sshd: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// One connection serves all the test's ssh commands (ControlMaster
	// below): a login takes about a second on a busy machine. Closed
	// before sshd stops.
	t.Cleanup(func() { exec.Command("ssh", "-F", filepath.Join(dir, "ssh_config"), "-O", "exit", "bmaptest").Run() })

	fields := strings.Fields(string(hostPub))
	os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, fields[0], fields[1])), 0o600)
	client := filepath.Join(dir, "ssh_config")
	os.WriteFile(client, []byte(fmt.Sprintf(`Host bmaptest
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s/client_key
  IdentitiesOnly yes
  UserKnownHostsFile %s/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  ControlMaster auto
  ControlPath %s/cm-%%C
  ControlPersist 60
`, port, me.Username, dir, dir, dir)), 0o600)
	s := &sshServer{config: client, dir: dir}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if out, err := exec.Command("ssh", "-F", client, "-o", "BatchMode=yes", "bmaptest", "true").CombinedOutput(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Skipf("sshd started but ssh cannot log in: %v\n%s\nsshd:\n%s", err, out, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *sshServer) opener() *source.Opener {
	return &source.Opener{SSH: []string{"ssh", "-F", s.config}, Net: source.NetOptions{Backoff: time.Millisecond}}
}

func TestSSH(t *testing.T) {
	srv := startSSHD(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000)
	path := filepath.Join(t.TempDir(), "it's an image.raw") // a quote and a space, for the remote shell
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	op := srv.opener()
	s, err := op.Open(ctx, "ssh://bmaptest:"+path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	s.Close()
	if err != nil || !bytes.Equal(got, data) || s.Size() != int64(len(data)) {
		t.Fatalf("read %d of %d bytes (size %d): %v", len(got), len(data), s.Size(), err)
	}
	if ok, err := op.Exists(ctx, "ssh://bmaptest:"+path); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if ok, err := op.Exists(ctx, "ssh://bmaptest:"+path+".bmap"); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}
	if _, err := op.Open(ctx, "ssh://bmaptest:"+path+".none"); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Open(missing) = %v, want ErrNotFound", err)
	}
	if _, err := op.Open(ctx, "ssh://me:pw@bmaptest:"+path); err == nil || !strings.Contains(err.Error(), "passwords") || strings.Contains(err.Error(), "pw@") {
		t.Errorf("a password: %v", err)
	}
	// Host keys are checked: with an empty known_hosts, ssh refuses.
	os.WriteFile(filepath.Join(srv.dir, "known_hosts"), nil, 0o600)
	fresh := &source.Opener{SSH: []string{"ssh", "-F", srv.config, "-o", "ControlPath=none"}}
	_, err = fresh.Open(ctx, "ssh://bmaptest:"+path)
	if err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Errorf("unknown host key: %v", err)
	}
}

// TestSSHCopy flashes a sparse image from an ssh URL into a file, its bmap
// found beside it, as job.Copy does for the command line.
func TestSSHCopy(t *testing.T) {
	srv := startSSHD(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	f, _ := os.Create(img)
	f.Truncate(4 << 20)
	f.WriteAt(bytes.Repeat([]byte("data"), 4096), 1<<20)
	f.Close()
	ctx := context.Background()
	if _, err := job.Create(ctx, job.CreateOptions{Image: img, Output: img + ".bmap"}); err != nil {
		t.Fatal(err)
	}
	gz := exec.Command("gzip", "-k", img)
	if out, err := gz.CombinedOutput(); err != nil {
		t.Skipf("gzip: %v %s", err, out)
	}
	want, _ := os.ReadFile(img)
	for _, name := range []string{img, img + ".gz"} {
		dest := filepath.Join(t.TempDir(), "out")
		res, err := job.Copy(ctx, job.CopyOptions{Image: "ssh://bmaptest:" + name, Dest: dest, Opener: srv.opener()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the copy differs", name)
		}
		if res.Info.Bmap != "ssh://bmaptest:"+img+".bmap" || res.Transfer == nil {
			t.Errorf("%s: bmap %q, transfer %v", name, res.Info.Bmap, res.Transfer)
		}
	}
}
