package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Keyring is a set of OpenPGP public keys that signatures are checked
// against. Every key in it is trusted: there is no web of trust.
type Keyring struct {
	entities openpgp.EntityList

	// Skipped lists parts of the file that were not loaded, each naming
	// its byte offset: keybox blobs over GnuPG's size limit, and keyblocks
	// go-crypto cannot use (unsupported algorithm, damaged packets). The
	// rest of the keyring is usable; a caller may print these as warnings.
	Skipped []string
}

// NewKeyring wraps keys made or read with go-crypto.
func NewKeyring(keys openpgp.EntityList) *Keyring {
	return &Keyring{entities: keys}
}

// Len returns the number of keys (OpenPGP entities) in the keyring.
func (k *Keyring) Len() int { return len(k.entities) }

// LoadKeyring reads a keyring file: ASCII-armored keys (gpg --export -a,
// several blocks may be concatenated), binary keys (gpg --export, or a
// GnuPG 1.x pubring.gpg), or a GnuPG keybox (pubring.kbx). The format is
// detected from the content, not the name: gpg 2.x writes keybox format
// even to a new file named pubring.gpg.
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify: reading keyring: %w", err)
	}
	return ParseKeyring(path, data)
}

// ParseKeyring is LoadKeyring for data already in memory; name is used in
// error messages only.
func ParseKeyring(name string, data []byte) (*Keyring, error) {
	kr := &Keyring{}
	switch {
	case isKeybox(data):
		blocks, skipped, err := parseKeybox(name, data)
		if err != nil {
			return nil, err
		}
		kr.Skipped = skipped
		for _, b := range blocks {
			el, err := openpgp.ReadKeyRing(bytes.NewReader(b.image))
			if len(el) == 0 {
				note := fmt.Sprintf("keyblock at byte %d: no usable key", b.offset)
				if err != nil {
					note += ": " + err.Error()
				}
				kr.Skipped = append(kr.Skipped, note)
				continue
			}
			kr.entities = append(kr.entities, el...)
		}
	case len(data) > 0 && data[0]&0x80 != 0: // an OpenPGP packet tag
		el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, &KeyringError{Path: name, Offset: -1, Reason: "reading binary openpgp keys", Err: err}
		}
		kr.entities = el
	case bytes.Contains(data, []byte("-----BEGIN PGP ")):
		el, err := readArmoredKeys(name, data)
		if err != nil {
			return nil, err
		}
		kr.entities = el
	case len(data) == 0:
		return nil, &KeyringError{Path: name, Offset: -1, Reason: "file is empty"}
	default:
		return nil, &KeyringError{Path: name, Offset: 0, Reason: "not an openpgp keyring (armored, binary or gnupg keybox)"}
	}
	if len(kr.entities) == 0 {
		if len(kr.Skipped) > 0 {
			return nil, fmt.Errorf("%w: %s (%s)", ErrNoKeys, name, kr.Skipped[0])
		}
		return nil, fmt.Errorf("%w: %s", ErrNoKeys, name)
	}
	return kr, nil
}

// readArmoredKeys reads every armored key block in data.
func readArmoredKeys(name string, data []byte) (openpgp.EntityList, error) {
	var el openpgp.EntityList
	begin, end := []byte("-----BEGIN PGP "), []byte("-----END PGP ")
	off := 0
	for {
		i := bytes.Index(data[off:], begin)
		if i < 0 {
			return el, nil
		}
		start := off + i
		j := bytes.Index(data[start:], end)
		if j < 0 {
			return nil, &KeyringError{Path: name, Offset: int64(start), Reason: "armored block has no end line"}
		}
		stop := start + j
		if k := bytes.IndexByte(data[stop:], '\n'); k >= 0 {
			stop += k + 1
		} else {
			stop = len(data)
		}
		blk, err := armor.Decode(bytes.NewReader(data[start:stop]))
		if err != nil {
			return nil, &KeyringError{Path: name, Offset: int64(start), Reason: "bad armor", Err: err}
		}
		if blk.Type != openpgp.PublicKeyType && blk.Type != openpgp.PrivateKeyType {
			return nil, &KeyringError{Path: name, Offset: int64(start), Reason: fmt.Sprintf("armored block is %q, not a public key block", blk.Type)}
		}
		keys, err := openpgp.ReadKeyRing(blk.Body)
		if err != nil {
			return nil, &KeyringError{Path: name, Offset: int64(start), Reason: "reading armored openpgp keys", Err: err}
		}
		el = append(el, keys...)
		off = stop
	}
}

// DefaultKeyring loads the user's GnuPG public keyring: pubring.kbx, else
// pubring.gpg, in $GNUPGHOME or else ~/.gnupg (the order gpg itself uses).
// It returns the path it read. Keys kept by keyboxd (GnuPG 2.4
// "use-keyboxd", in public-keys.d) are not supported: export them to a
// file and use LoadKeyring.
func DefaultKeyring() (*Keyring, string, error) {
	dir := os.Getenv("GNUPGHOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, "", fmt.Errorf("%w: no $GNUPGHOME and no home directory: %w", ErrNoKeyring, err)
		}
		dir = filepath.Join(home, ".gnupg")
	}
	kbx, gpg := filepath.Join(dir, "pubring.kbx"), filepath.Join(dir, "pubring.gpg")
	for _, p := range []string{kbx, gpg} {
		_, err := os.Stat(p)
		if err == nil {
			kr, err := LoadKeyring(p)
			return kr, p, err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("verify: keyring: %w", err)
		}
	}
	hint := ""
	if _, err := os.Stat(filepath.Join(dir, "public-keys.d")); err == nil {
		hint = " (keys kept by keyboxd are not supported: export them with gpg --export)"
	}
	return nil, "", fmt.Errorf("%w: neither %s nor %s exists%s", ErrNoKeyring, kbx, gpg, hint)
}
