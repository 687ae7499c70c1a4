package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"

	"github.com/jlaffaye/ftp"
)

// ftpFile is a file on an FTP server, read with github.com/jlaffaye/ftp:
// each body is a connection of its own (login, then RETR with REST at the
// offset), so a transfer that breaks resumes where it stopped and a seek
// starts reading anywhere. Its size (SIZE) and modification time (MDTM,
// where the server has it) are checked on every connection, so a file
// replaced meanwhile stops the transfer.
type ftpFile struct {
	o        *Opener
	r        *remote
	name     string
	user     string
	pass     string
	size     int64
	modified time.Time
}

func (o *Opener) newFTPFile(r *remote, name string) *ftpFile {
	f := &ftpFile{o: o, r: r, name: Redact(name), user: r.user, pass: r.pass}
	if f.user == "" {
		if login, pass, ok := netrcLogin(r.url.Hostname()); ok {
			f.user, f.pass = login, pass
			o.debugf("using credentials for %s from .netrc", r.url.Hostname())
		} else {
			f.user, f.pass = "anonymous", "anonymous@"
		}
	}
	return f
}

// dial connects and logs in.
func (f *ftpFile) dial(ctx context.Context) (*ftp.ServerConn, error) {
	addr := f.r.url.Host
	if f.r.url.Port() == "" {
		addr = net.JoinHostPort(f.r.url.Hostname(), "21")
	}
	no := f.o.Net.withDefaults()
	c, err := ftp.Dial(addr, ftp.DialWithContext(ctx), ftp.DialWithTimeout(no.ConnectTimeout))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", f.name, err)
	}
	if err := c.Login(f.user, f.pass); err != nil {
		c.Quit()
		var te *textproto.Error
		if errors.As(err, &te) && te.Code == ftp.StatusNotLoggedIn {
			return nil, permanent(fmt.Errorf("%s: the server refused the login (%d %s)", f.name, te.Code, te.Msg))
		}
		return nil, fmt.Errorf("%s: logging in: %w", f.name, err)
	}
	return c, nil
}

// stat reads the file's size and modification time.
func (f *ftpFile) stat(c *ftp.ServerConn) (int64, time.Time, error) {
	size, err := c.FileSize(f.r.path)
	if err != nil {
		var te *textproto.Error
		if errors.As(err, &te) && te.Code == ftp.StatusFileUnavailable {
			return 0, time.Time{}, permanent(fmt.Errorf("%w: %s: the server answered %d %s", ErrNotFound, f.name, te.Code, te.Msg))
		}
		return 0, time.Time{}, fmt.Errorf("%s: SIZE: %w", f.name, err)
	}
	var mod time.Time
	if c.IsGetTimeSupported() {
		mod, _ = c.GetTime(f.r.path)
	}
	return size, mod, nil
}

// fetch opens a body at off: a connection of its own.
func (f *ftpFile) fetch(ctx context.Context, off, _ int64) (*body, error) {
	c, err := f.dial(ctx)
	if err != nil {
		return nil, err
	}
	size, mod, err := f.stat(c)
	if err == nil && (size != f.size || !mod.Equal(f.modified)) {
		err = permanent(fmt.Errorf("%s: %w (now %d bytes, modified %s; it was %d bytes, modified %s)",
			f.name, ErrChanged, size, mod.Format(time.RFC3339), f.size, f.modified.Format(time.RFC3339)))
	}
	if err != nil {
		c.Quit()
		return nil, err
	}
	resp, err := c.RetrFrom(f.r.path, uint64(off))
	if err != nil {
		c.Quit()
		return nil, fmt.Errorf("%s: RETR from byte %d: %w", f.name, off, err)
	}
	f.o.debugf("RETR %s from byte %d", f.name, off)
	closer := closeFunc(func() error {
		resp.Close()
		return c.Quit()
	})
	return &body{ReadCloser: readCloser{resp, closer}, end: -1,
		abort: func() { resp.SetDeadline(time.Now()) }}, nil
}

// openFTP opens an ftp:// URL: a source that seeks (a new connection with
// REST when the jump is long), but does not prefetch: every request is a
// login of its own, which servers limit per client.
func (o *Opener) openFTP(ctx context.Context, name string, r *remote) (Source, error) {
	f := o.newFTPFile(r, name)
	c, err := f.dial(ctx)
	if err != nil {
		return nil, err
	}
	f.size, f.modified, err = f.stat(c)
	c.Quit()
	if err != nil {
		return nil, unwrapPermanent(err)
	}
	o.debugf("%s: %d bytes, modified %s", f.name, f.size, f.modified.Format(time.RFC3339))
	st := &counters{}
	st.requests.Add(1)
	return &seekOnly{newResumable(ctx, f.name, f.size, f.fetch, o.Net.withDefaults(), st, o.Debugf)}, nil
}

func (o *Opener) existsFTP(ctx context.Context, name string, r *remote) (bool, error) {
	f := o.newFTPFile(r, name)
	c, err := f.dial(ctx)
	if err != nil {
		return false, unwrapPermanent(err)
	}
	defer c.Quit()
	if _, _, err := f.stat(c); err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, unwrapPermanent(err)
	}
	return true, nil
}

// unwrapPermanent returns the error inside a permanentError (the marker is
// for the retry loops only).
func unwrapPermanent(err error) error {
	var p *permanentError
	if errors.As(err, &p) {
		return p.err
	}
	return err
}
